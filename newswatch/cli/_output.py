"""Output helpers of the CLI: JSON or a table, progress lines, and one-line errors."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

T = TypeVar("T")


def emit(obj: Any, as_json: bool, human: str | None = None) -> None:
    """One JSON line (``--json``), else ``human`` (or indented JSON when there is no human form)."""
    if as_json:
        click.echo(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        click.echo(human if human is not None else json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def emit_rows(rows: Iterable[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str],
              header: str | None = None) -> None:
    """A listing: one JSON line per row with ``--json``, else ``header`` and one formatted line per row."""
    if not as_json and header:
        click.echo(header)
    for row in rows:
        emit(row, True) if as_json else click.echo(line(row))


def progress(report: dict[str, Any]) -> None:
    """A progress line on stderr for a feed or article report."""
    mark = {"ok": "✓", "not_modified": "=", "skipped": "·", "error": "✗"}.get(report.get("status", ""), "?")
    detail = report.get("error_class") or (f"{report.get('new_entries', 0)} new" if report["kind"] == "feed"
                                           else f"{report.get('chars', 0)} chars")
    click.echo(f"  {mark} {report['kind']:<7} {report['url'][:90]}  {detail}", err=True)


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit status for an error reaching the CLI."""
    from elasticsearch import ApiError
    from elasticsearch import ConnectionError as ESConnectionError
    from elasticsearch import ConnectionTimeout as ESTimeout

    from newswatch.errors import ConfigError, NewswatchError

    if isinstance(exc, ConfigError):
        return f"config error: {exc}", 2
    if isinstance(exc, ESConnectionError | ESTimeout):
        from newswatch.settings import Settings

        try:
            url = Settings().es.url
        except Exception:
            url = "NEWSWATCH_ES__URL"
        return (f"Elasticsearch at {url} is unreachable ({type(exc).__name__}): start it with "
                "`newswatch stack up` or set NEWSWATCH_ES__URL"), 1
    if isinstance(exc, ApiError):
        return f"Elasticsearch refused the request: {exc.message} ({exc.meta.status})", 1
    if isinstance(exc, NewswatchError):
        return f"{exc.error_class}: {exc}", 1
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}", 1
    return f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)", 1


def run_guarded(fn: Callable[[], T], *, verbose: bool) -> T:
    """Run a command; turn any error into one line on stderr and a non-zero exit."""
    from pydantic import ValidationError

    try:
        return fn()
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit, KeyboardInterrupt):
        raise
    except ValidationError as exc:  # a setting (NEWSWATCH_*) is invalid
        problems = "; ".join(f"NEWSWATCH_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                             for e in exc.errors())
        _fail(f"config error: {problems}", 2, verbose)
    except Exception as exc:
        message, code = describe(exc)
        _fail(message, code, verbose)
    raise AssertionError("unreachable")


def _fail(message: str, code: int, verbose: bool) -> None:
    if verbose:
        traceback.print_exc(file=sys.stderr)
    click.echo(f"newswatch: {message.splitlines()[0] if message else 'failed'}", err=True)
    sys.exit(code)
