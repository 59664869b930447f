"""Airflow plugin: the newswatch timeline page inside the Airflow UI (Airflow 3.1+ plugin interface).

``fastapi_apps`` mounts ``newswatch.web`` on the API server at ``/newswatch`` (the page is
``/newswatch/timeline/``), behind Airflow's own login: the app's routes depend on Airflow's ``get_user``
(the UI's ``_token`` cookie or a bearer token), and a browser without a login is sent to Airflow's login page.
``external_views`` adds *Timeline* to the UI's navigation; it opens the page inside the UI (``url_route``).
Nothing slow at import: the app makes its Elasticsearch client on the first request.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin

from newswatch.web import create_app


def _login_url(next_url: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


class NewswatchTimelinePlugin(AirflowPlugin):
    name = "newswatch_timeline"
    fastapi_apps = [{"app": create_app(user=get_user, login_url=_login_url), "url_prefix": "/newswatch",
                     "name": "newswatch timeline"}]
    external_views = [{"name": "Timeline", "href": "newswatch/timeline/", "destination": "nav",
                       "url_route": "newswatch-timeline"}]
