"""The timeline page: a small FastAPI app (HTML, its own static files, and one JSON API).

The Airflow plugin in ``plugins/newswatch_timeline.py`` mounts it on Airflow's API server at ``/newswatch``
and adds *Timeline* to the UI's navigation; it hands in Airflow's own user dependency, so the page is behind
Airflow's login (the ``_token`` cookie of the UI, or a bearer token). This package knows nothing of Airflow:
``create_app`` takes the dependency and the login address as arguments.

Routes (under the mount point):

- ``GET /timeline/`` the page; without a valid login a redirect to the login page (with ``next``)
- ``GET /timeline/api/timeline`` the timeline view (``newswatch.timeline.run_timeline``), the same answer as
  ``newswatch timeline --json``; query parameters: ``q``, ``topic``, ``level``/``lang``/``source``/``entity``
  (repeatable), ``story``, ``since``, ``until``, ``interval``, ``stack``, ``top_stories``, ``top_articles``;
  a bad value answers 422 with one message
- ``GET /timeline/api/meta`` topics and levels for the form; ``GET /timeline/api/feeds`` the feed-health table
- ``GET /timeline/static/…`` the page's script, styles and the vendored chart library (ECharts, Apache-2.0)

Every API answer is 401 without a login. Elasticsearch errors answer 503 with one line naming the node.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from newswatch.settings import Settings

log = logging.getLogger(__name__)

REPEATABLE = {"level": "levels", "lang": "langs", "source": "sources", "entity": "entities"}
SINGLE = ("q", "topic", "story", "since", "until", "interval", "stack", "top_stories", "top_articles")


def static_dir() -> str:
    return str(resources.files("newswatch.web").joinpath("static"))


def query_values(request: Request) -> dict[str, Any]:
    """The form's query parameters as ``parse_query`` takes them; unknown parameters are refused."""
    params = request.query_params
    unknown = sorted(set(params) - set(REPEATABLE) - set(SINGLE))
    if unknown:
        raise HTTPException(422, f"unknown parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {k: params.get(k) for k in SINGLE if params.get(k) not in (None, "")}
    for name, key in REPEATABLE.items():
        got = [v for v in params.getlist(name) if v]
        if got:
            values[key] = got
    return values


class _Clients:
    """One Elasticsearch client per app, made on first use (never at import or mount time)."""

    def __init__(self, settings_factory: Callable[[], Settings]) -> None:
        self.settings_factory = settings_factory
        self.lock = threading.Lock()
        self.settings: Settings | None = None
        self.es: Any = None

    def get(self) -> tuple[Settings, Any]:
        with self.lock:
            if self.es is None:
                from newswatch.clients import make_es

                self.settings = self.settings_factory()
                self.es = make_es(self.settings, max_retries=1, request_timeout=20)
            assert self.settings is not None
            return self.settings, self.es


def create_app(*, user: Callable[..., Any], login_url: Callable[[str], str] | None = None,
               settings_factory: Callable[[], Settings] = Settings) -> FastAPI:
    """The page's app. ``user`` is a FastAPI dependency that raises 401/403 without a valid login;
    ``login_url(next)`` is where the page sends a browser that is not logged in."""
    app = FastAPI(title="newswatch timeline", docs_url=None, redoc_url=None, openapi_url=None)
    clients = _Clients(settings_factory)
    app.mount("/timeline/static", StaticFiles(directory=static_dir()), name="static")

    def es_failure(exc: Exception) -> HTTPException:
        from elasticsearch import ApiError, TransportError

        from newswatch.errors import SearchError

        if isinstance(exc, SearchError):
            return HTTPException(503 if "no index" in str(exc) else 422, str(exc).splitlines()[0])
        if not isinstance(exc, ApiError | TransportError):
            raise exc  # a bug: a 500 with its traceback in the API server's log
        settings = clients.settings
        where = settings.es.url if settings else "Elasticsearch"
        log.warning("timeline query failed on %s: %s", where, exc)
        return HTTPException(503, f"Elasticsearch at {where} did not answer: {type(exc).__name__}")

    @app.get("/timeline", include_in_schema=False)
    def _slash() -> RedirectResponse:
        return RedirectResponse("timeline/", status_code=307)

    @app.get("/timeline/", response_class=HTMLResponse, dependencies=[Depends(user)])
    def page() -> Response:
        html = resources.files("newswatch.web").joinpath("static", "timeline.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.exception_handler(HTTPException)
    async def _refused(request: Request, exc: HTTPException) -> Response:
        # a browser that is not logged in goes to the login page and comes back; the API answers the status
        if exc.status_code in (401, 403) and login_url is not None and request.url.path.endswith("/timeline/"):
            return RedirectResponse(login_url(str(request.url)), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/timeline/api/timeline", dependencies=[Depends(user)])
    def api_timeline(request: Request) -> JSONResponse:
        from newswatch.errors import SearchError
        from newswatch.timeline import parse_query, run_timeline

        try:
            tq = parse_query(query_values(request))
        except SearchError as exc:
            raise HTTPException(422, str(exc)) from None
        settings, es = clients.get()
        try:
            return JSONResponse(run_timeline(es, settings, tq))
        except Exception as exc:
            raise es_failure(exc) from None

    @app.get("/timeline/api/meta", dependencies=[Depends(user)])
    def api_meta() -> dict[str, Any]:
        from newswatch.tagging import load_topics

        settings, _ = clients.get()
        topics = load_topics(settings.config_dir, include_disabled=True)
        return {"topics": [{"name": t.name, "title": t.config.title, "enabled": t.config.enabled}
                           for t in topics.topics],
                "levels": ["core", "related", "none"], "es_url": settings.es.url,
                "index": f"{settings.es.index_prefix}-articles"}

    @app.get("/timeline/api/feeds", dependencies=[Depends(user)])
    def api_feeds() -> dict[str, Any]:
        from newswatch.timeline import feed_health

        settings, es = clients.get()
        try:
            return {"feeds": feed_health(es, settings)}
        except Exception as exc:
            raise es_failure(exc) from None

    return app
