"""A huge query is refused before it reaches Elasticsearch, by every command that takes one (a 60 KB query once
held the node for 122 s while the client retried its read timeouts)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from newswatch import search
from newswatch.cli import main
from newswatch.errors import SearchError
from newswatch.settings import ElasticsearchSettings, Settings
from newswatch.timeline import parse_query

HUGE = "Kursk " * 10_000  # 60 KB


@pytest.mark.parametrize("verb", ["search", "stories", "timeline"])
def test_every_query_verb_refuses_a_huge_query_in_one_line_before_connecting(verb: str) -> None:
    # an address nothing listens on: a command that tried to connect would say so instead
    out = CliRunner().invoke(main, [verb, HUGE], env={"NEWSWATCH_ES__URL": "http://127.0.0.1:9"})
    assert out.exit_code == 2, out.output
    message = out.stderr.strip().splitlines()[-1]
    assert "60000 characters, at most 500" in message and "Traceback" not in out.stderr
    assert "127.0.0.1:9" not in out.stderr


def test_a_query_at_the_limit_is_taken() -> None:
    assert search.text_query("북" * search.MAX_QUERY_CHARS)["bool"]["should"]
    assert parse_query({"q": "x" * search.MAX_QUERY_CHARS}).q


class NoRequests:
    """A client that fails the test on any request."""

    def __getattr__(self, name: str) -> Any:
        def request(**kwargs: Any) -> None:
            raise AssertionError(f"{name} was sent to Elasticsearch")
        return request


def test_the_library_refuses_it_too_before_any_request() -> None:
    settings = Settings(es=ElasticsearchSettings(url="http://127.0.0.1:9"))
    es: Any = NoRequests()
    for call in (lambda: search.search_articles(es, settings, HUGE), lambda: search.list_stories(es, settings, HUGE)):
        with pytest.raises(SearchError, match="at most 500"):
            call()
    with pytest.raises(SearchError):
        parse_query({"q": HUGE})
