"""The timeline page as an analyst meets it: inside the real Airflow UI (the plugin in ``plugins/``), behind
Airflow's login, in headless Chromium. Log in, find *Timeline* in the navigation, search ``Kursk``, see the
histogram and the stories, zoom by dragging across the bars, filter by language; and the numbers the page
shows are the numbers of ``newswatch timeline --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from newswatch.cli import main
from newswatch.clients import make_es
from newswatch.index import drop_indices
from newswatch.settings import ElasticsearchSettings, Settings
from tests.conftest import free_port
from tests.integration.helpers import ingest_sample_site

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PASSWORD = "timeline-test-pw"


@pytest.fixture(scope="module")
def stack(es_url: str, demo_site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sample site indexed, and an Airflow API server (our plugins folder) on a free port."""
    tmp = tmp_path_factory.mktemp("page")
    env_nw, prefix = ingest_sample_site(es_url, demo_site, tmp)
    settings = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=prefix))
    es = make_es(settings)
    es.indices.refresh(index=f"{prefix}-articles")

    home = tmp / "airflow"
    home.mkdir()
    (home / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    port = free_port()
    env = {**os.environ, **env_nw,
           "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}", "AIRFLOW__API_AUTH__JWT_SECRET": "test-jwt-secret",
           "AIRFLOW__API__SECRET_KEY": "test-secret-key", "NO_PROXY": "*"}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600, cwd=REPO)
    log = (tmp / "api-server.log").open("wb")
    proc = subprocess.Popen([AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp / "api-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the API server did not come up"
            time.sleep(1)
        yield {"base": base, "env": env_nw, "es": es, "settings": settings, "log": tmp / "api-server.log"}
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        drop_indices(es, settings)
        es.close()


def token(base: str) -> str:
    resp = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": PASSWORD}, timeout=30)
    assert resp.status_code in (200, 201), resp.text
    return str(resp.json()["access_token"])


def test_the_plugin_is_mounted_behind_airflows_login(stack: dict[str, Any]) -> None:
    base = stack["base"]
    for path in ("/newswatch/timeline/api/timeline?q=Kursk", "/newswatch/timeline/api/feeds"):
        refused = httpx.get(base + path, timeout=30)
        assert refused.status_code == 401, (path, refused.text)
        assert "articles" not in refused.text
        forged = httpx.get(base + path, headers={"Authorization": "Bearer not.a.token"}, timeout=30)
        assert forged.status_code in (401, 403)
    page = httpx.get(base + "/newswatch/timeline/", timeout=30, follow_redirects=False)
    assert page.status_code == 303 and "/auth/login" in page.headers["location"]
    headers = {"Authorization": f"Bearer {token(base)}"}
    api = httpx.get(base + "/newswatch/timeline/api/timeline", params={"q": "Kursk"}, headers=headers, timeout=30)
    assert api.status_code == 200 and api.json()["total"] > 0
    # the UI lists the view in its navigation
    plugins = httpx.get(base + "/api/v2/plugins", headers=headers, timeout=30).json()
    views = [v for p in plugins["plugins"] for v in p.get("external_views", [])]
    assert any(v["name"] == "Timeline" and v["href"] == "newswatch/timeline/" for v in views), views


def test_log_in_search_zoom_and_filter_in_chromium(stack: dict[str, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import chrome

    base = stack["base"]
    driver = chrome(1400, 1000)
    wait = WebDriverWait(driver, 60)
    try:
        # not logged in: the page sends the browser to Airflow's login, which sends it back
        driver.get(base + "/newswatch/timeline/")
        user = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[name=username]")))
        user.send_keys("admin")
        driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD + Keys.ENTER)
        wait.until(lambda d: "/newswatch/timeline/" in d.current_url)
        wait.until(lambda d: d.execute_script("return window.newswatch && window.newswatch.last !== null"))

        # search Kursk: the chart, the stories, the claims
        box = driver.find_element(By.ID, "q")
        box.clear()
        box.send_keys("Kursk" + Keys.ENTER)
        wait.until(lambda d: d.execute_script("return window.newswatch.last.query.q === 'Kursk'"))
        last = driver.execute_script("return window.newswatch.last")
        assert last["total"] > 0
        assert "q=Kursk" in driver.current_url
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#histogram canvas"))
        stories = driver.find_elements(By.CSS_SELECTOR, "#stories li[data-story]")
        assert len(stories) == len(last["stories"]) > 0
        assert stories[0].find_element(By.TAG_NAME, "a").text == last["stories"][0]["title"]
        assert f"{last['total']} articles" in driver.find_element(By.ID, "status").text.replace(",", "")
        # the same numbers as the CLI
        cli = CliRunner().invoke(main, ["timeline", "Kursk", "--json"], env=stack["env"])
        assert cli.exit_code == 0, cli.output
        line = json.loads(cli.stdout)
        for key in ("total", "stories_total", "interval", "buckets", "stories", "facets", "claims"):
            assert last[key] == line[key], key
        driver.save_screenshot(str(stack["log"].with_name("timeline-kursk.png")))

        # zoom: drag across the middle of the bars
        chart = driver.find_element(By.ID, "histogram")
        width = chart.size["width"]
        before = last
        ActionChains(driver).move_to_element_with_offset(chart, int(-width * 0.25), 0).click_and_hold() \
            .move_by_offset(int(width * 0.3), 0).release().perform()
        wait.until(lambda d: d.execute_script("return !!window.newswatch.last.query.since"))
        zoomed = driver.execute_script("return window.newswatch.last")
        assert zoomed["query"].get("until") and 0 < zoomed["total"] <= before["total"]
        assert "since=" in driver.current_url
        assert driver.find_element(By.ID, "reset-zoom").is_displayed()

        # filter by language from the facet list
        driver.find_element(By.ID, "reset-zoom").click()
        wait.until(lambda d: not d.execute_script("return window.newswatch.last.query.since"))
        langs = {r["key"]: r["count"] for r in driver.execute_script("return window.newswatch.last.facets.languages")}
        assert "ko" in langs
        driver.find_element(By.CSS_SELECTOR, "#facet-languages li[data-value=ko]").click()
        wait.until(lambda d: d.execute_script("return (window.newswatch.last.query.langs || []).join() === 'ko'"))
        korean = driver.execute_script("return window.newswatch.last")
        assert korean["total"] == langs["ko"]
        assert all(s["languages"] == ["ko"] for s in korean["stories"])
        assert "lang=ko" in driver.current_url
        assert "lang: ko" in driver.find_element(By.ID, "chips").text
        assert driver.execute_script("return window.newswatch.errors") == 0

        # operators: the feed-health table
        driver.find_element(By.CSS_SELECTOR, "#operators summary").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feeds tbody tr td")) > 1
                   and "loading" not in d.find_element(By.ID, "feeds").text)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#feeds tbody tr")) >= 3

        # the Airflow UI shows Timeline in its navigation and opens the page inside it
        driver.get(base + "/")
        wait.until(lambda d: "Timeline" in d.find_element(By.TAG_NAME, "body").text)
        driver.get(base + "/plugin/newswatch-timeline")
        frame = wait.until(ec.presence_of_element_located((By.TAG_NAME, "iframe")))
        assert "newswatch/timeline/" in (frame.get_attribute("src") or "")
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.execute_script("return window.newswatch && window.newswatch.last !== null"))
        assert driver.execute_script("return window.newswatch.last.total") > 0
    finally:
        driver.quit()
