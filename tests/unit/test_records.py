"""Each stored record's fields are exactly its Elasticsearch mapping's properties (``dynamic: strict``)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from newswatch.index import KINDS, template_body
from newswatch.records import Article, Entry, Failure, FeedHealth, FeedState, Page


def stored_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, f in model.model_fields.items() if not f.exclude} | set(model.model_computed_fields)


@pytest.mark.parametrize(("model", "kind"), [(Article, "articles"), (Page, "pages"), (FeedState, "feeds"),
                                             (FeedHealth, "feedhealth")], ids=lambda v: getattr(v, "__name__", v))
def test_record_fields_match_the_mapping(model: type[BaseModel], kind: str) -> None:
    mapping = set(template_body(kind)["mappings"]["properties"])
    assert stored_fields(model) == mapping, (stored_fields(model) ^ mapping)


def test_every_index_has_a_template() -> None:
    for kind in KINDS:
        assert template_body(kind)["mappings"]["dynamic"] == "strict"


def test_the_tag_fields_are_the_mappings_tag_fields() -> None:
    from newswatch.steps.indexing import tag_fields
    from newswatch.tagging import load_topics

    art = Article(id="a", url="https://x.example/a", source="x", host="x.example", published="2025-01-01",
                  fetched_at="2025-01-01", title="North Korean troops in Kursk", text="Troops arrived in Kursk.")
    fields = tag_fields(load_topics(), art)
    assert set(fields) <= set(Article.model_fields)
    assert Article.model_validate({**art.model_dump(), **fields}).level in ("core", "related", "none")


def test_entry_ids_are_the_canonical_links_and_a_page_drops_its_id() -> None:
    a = Entry.from_feed(url="https://www.x.example/s?id=1&utm_source=rss", title="t", published=None,
                        feed_url="https://x.example/rss", feed_name=None)
    b = Entry.from_feed(url="https://www.x.example/s?id=1", title="t", published=None, feed_url=None,
                        feed_name=None)
    assert a.id == b.id and "utm_" not in a.canonical_url
    fail = Failure.of(a, "NoArticleBody", "x" * 1000)
    assert fail.id == a.id and len(fail.error) == 300
    art = Article.from_input({"url": "https://x.example/a", "title": "T", "text": "body"}, fetched_at="2025-01-01")
    page = Page.of(art, b"<html>x</html>", "text/html")
    assert "id" not in page.doc() and page.html() == b"<html>x</html>"
    with pytest.raises(ValueError):
        Article.from_input({"title": "no url"}, fetched_at="2025-01-01")
