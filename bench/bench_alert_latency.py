"""Alert latency on the real DAGs: articles published into the sample site at known times, until their email.

The whole local stack (``newswatch stack up --services es,mail,site,airflow``, as ``scripts/demo.sh`` starts it,
on its own ports, index prefix and var folder, so it runs beside a demo or the test node) runs the real
``newswatch_poll`` DAG every minute (``NEWSWATCH_POLL_SCHEDULE='* * * * *'``) and the real ``newswatch_alert``
DAG (scheduled on the ``newswatch_articles`` Asset, or every 10 minutes). The first poll of every feed is its
history: the bench waits for that poll and its one backlog digest. Then it publishes ``--articles`` distinct,
fresh core articles about North Korean troops in Russia's war (different outlets, languages, places and
numbers; checked beforehand with ``newswatch tag`` and ``newswatch cluster`` to be core and separate stories),
one every ``--gap`` seconds through the site's live API (``POST /_live/publish``), recording the moment of
each, and waits until each has its immediate email to analyst@example.org (a sent ``story`` claim in
``<prefix>-alerts``).

From the claims (``published``, ``fetched_at``, ``indexed_at``, ``sent_at``) and the recorded publish times
it reports publish→send, fetch→send, index→send and recorded-publish→send (p50/p95/max, numpy's linear
percentiles as ``newswatch alerts stats``, whose own answer is kept beside them), and, from the Airflow REST
API, the site's request log and the articles, where the time went: the wait for the next poll tick, the
scheduler's start of the run, poll+fetch, indexing, the Asset event, the alert run's start and the send.
Goal (the issue): fetch→send p95 ≤ poll interval + 2 min.

Feeds: ``config/feeds.demo.yaml`` with ``min_interval_minutes`` and ``max_interval_minutes`` set to
``--feed-interval`` (default 1), written into the run's var folder. The demo file's own 5-minute minimum and the
adaptive interval (``feedstate.next_interval``: 20 min after a quiet poll) would leave a minute-by-minute
schedule polling each feed every 5-60+ minutes; ``--demo-feeds`` keeps the file as it is.

    python bench/bench_alert_latency.py [--articles 8] [--gap 75] [--reuse] [--keep]
                                        [--json bench/results/alert_latency.json]

With ``--reuse`` nothing is started or stopped: a stack already started with the same settings (same
``--var-dir`` and ports) is used. Otherwise everything it started is stopped at the end (``newswatch stack
down`` with the same environment) unless ``--keep``. Takes ~15 min with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newswatch.alerts.views import parse_time  # noqa: E402

NW = str(Path(sys.executable).with_name("newswatch"))
RECIPIENT = "analyst@example.org"  # follows dprk_russia_troops, immediate (config/recipients.yaml)
GOAL_BEYOND_POLL = 120.0  # seconds: fetch→send p95 ≤ poll interval + 2 min

# Fresh core articles, each a different event (place, source, numbers, named people) so that the pipeline's
# story clustering keeps them apart; the first eight are the default run. Fictional, like all the site's news.
ARTICLES: list[dict[str, Any]] = [
    {"key": "belgorod-artillery", "site": "herald", "lang": "en", "category": "defence", "author": "Tom Ashworth",
     "title": "North Korean artillery crews moved to Belgorod border area, Ukraine's General Staff says",
     "standfirst": "About 1,200 gunners with Koksan self-propelled guns have taken up positions opposite "
                   "Kharkiv region, according to Kyiv.",
     "body": [
         "Roughly 1,200 North Korean artillerymen have been moved into Russia's Belgorod region together with "
         "their Koksan self-propelled guns and multiple rocket launchers, Ukraine's General Staff said, the first "
         "time the gun crews have been reported that far south.",
         "According to the General Staff, the crews crossed into the region by road over the past week and are "
         "dug in near the village of Tetkino, from where their 170mm guns can reach Ukrainian positions in the "
         "northern Kharkiv region. Ukrainian counter-battery units have already struck two firing positions.",
         "NATO Secretary General Mark Rutte said the move showed how deeply the North was now involved in "
         "the war, and called on allies to speed up deliveries of counter-battery radars to Kyiv.",
     ]},
    {"key": "sudzha-casualties", "site": "koreawire", "lang": "en", "category": "northkorea",
     "author": "Park Min-seo",
     "title": "Spy agency tells lawmakers about 250 North Korean soldiers died in drone strikes last month",
     "standfirst": "Lawmakers briefed behind closed doors in Seoul say losses rose after the units were moved "
                   "to open farmland near Sudzha.",
     "body": [
         "About 250 North Korean soldiers were killed and some 900 wounded in Russia's Kursk region last month, "
         "most of them by Ukrainian drones, South Korea's National Intelligence Service told lawmakers in a "
         "closed-door briefing.",
         "Lee Sung-kwon, a member of the parliamentary intelligence committee, said the agency had attributed "
         "the rise in casualties to the redeployment of North Korean infantry to open farmland west of Sudzha, "
         "where there was little cover from first-person-view drones.",
         "President Yoon's office said the figures would be shared with Washington and Tokyo. The North has "
         "never published its losses in the war.",
     ]},
    {"key": "donetsk-builders", "site": "vestnik", "lang": "ru", "category": "army", "author": "Сергей Малахов",
     "title": "В Донецк прибыли 5000 военных строителей из КНДР",
     "standfirst": "Северокорейские военнослужащие займутся восстановлением мостов и дорог в Донбассе.",
     "body": [
         "В Донецк прибыли около 5000 военных строителей из КНДР, сообщил секретарь Совета безопасности "
         "России Сергей Шойгу. По его словам, северокорейские военнослужащие будут восстанавливать мосты, "
         "дороги и линии электропередачи в Донбассе.",
         "Первые эшелоны со строителями пришли на станцию Ясиноватая в конце недели. Военных разместили в "
         "палаточных лагерях под охраной российской армии, работы начнутся с переправ через реку Кальмиус.",
         "Пресс-секретарь Кремля Дмитрий Песков отказался комментировать сроки командировки. Украинская "
         "сторона заявила, что считает строительные батальоны КНДР в Донбассе законной военной целью.",
     ]},
    {"key": "luhansk-pows", "site": "koreawire", "lang": "ko", "category": "northkorea", "author": "김도현",
     "title": "젤렌스키 \"생포한 북한군 2명, 포로 교환 대상으로 검토\"",
     "standfirst": "루한스크 전선서 붙잡힌 병사들…시비하 외무장관 \"한국과 협의 중\"",
     "body": [
         "볼로디미르 젤렌스키 우크라이나 대통령은 루한스크 전선에서 생포한 북한군 병사 2명을 러시아에 억류된 "
         "우크라이나군 포로와 맞교환하는 방안을 검토하고 있다고 밝혔다.",
         "안드리 시비하 우크라이나 외무장관은 포로들이 러시아 군복을 입고 위조 신분증을 소지하고 있었다며, "
         "이들의 신병 처리 문제를 한국 정부와 협의하고 있다고 설명했다.",
         "우크라이나 보안국은 포로들의 신원을 확인하는 대로 국제적십자위원회에 통보할 예정이라고 덧붙였다.",
     ]},
    {"key": "kim-medals", "site": "herald", "lang": "en", "category": "world", "author": "Rachel Whitcombe",
     "title": "Kim Jong Un decorates 47 officers who fought for Russia against Ukraine",
     "standfirst": "State media showed the North Korean leader pinning Hero medals on commanders in "
                   "Pyongyang, with Choe Son Hui looking on.",
     "body": [
         "North Korean leader Kim Jong Un has awarded state decorations to 47 officers of the Korean People's "
         "Army who commanded units fighting for Russia against Ukraine, the official KCNA news agency "
         "reported, the largest such ceremony since the North admitted its troops had been sent to the war.",
         "Photographs released by state media showed Kim embracing officers in dress uniform in Pyongyang and "
         "laying flowers before portraits of soldiers killed in action, while Foreign Minister Choe Son Hui "
         "stood beside him. Five of the officers were named Heroes of the Republic.",
         "KCNA said the units had carried out their overseas combat mission with honour.",
     ]},
    {"key": "bryansk-deminers", "site": "koreawire", "lang": "en", "category": "defence", "author": "Choi Yu-na",
     "title": "Belousov says North Korean sappers are clearing mines from Bryansk farmland",
     "standfirst": "Seoul's Joint Chiefs of Staff call the deployment of a thousand deminers a breach of UN "
                   "Security Council resolutions.",
     "body": [
         "A contingent of 1,000 North Korean military deminers has begun clearing mines and unexploded shells "
         "from farmland in Russia's Bryansk region, Russian Defence Minister Andrei Belousov said, in remarks "
         "shown with video of soldiers with metal detectors walking through a field of rye.",
         "Belousov said the sappers, who arrived at the end of last month, were working alongside Russian "
         "engineering troops in the Klimovo and Sevsk districts close to the Ukrainian border.",
         "South Korea's Joint Chiefs of Staff said the deployment was a further violation of UN Security "
         "Council resolutions and that it was watching for signs of a larger engineering force.",
     ]},
    {"key": "primorye-drones", "site": "vestnik", "lang": "ru", "category": "world", "author": "Анна Ким",
     "title": "Операторов беспилотников из КНДР готовят на полигоне в Приморье",
     "standfirst": "Около 400 северокорейских военных осваивают ударные дроны под Владивостоком перед "
                   "отправкой на фронт.",
     "body": [
         "На полигоне под Уссурийском в Приморском крае проходят подготовку около 400 военнослужащих КНДР, "
         "которых обучают управлению ударными и разведывательными беспилотниками, сообщил источник в штабе "
         "Восточного военного округа во Владивостоке.",
         "По его словам, курс рассчитан на шесть недель, занятия ведут российские инструкторы, воевавшие на "
         "Украине. После обучения северокорейские операторы дронов будут направлены на фронт в составе "
         "российских подразделений.",
         "Военные эксперты отмечают, что это уже третий такой курс на Дальнем Востоке.",
     ]},
    {"key": "rostov-medics", "site": "vestnik", "lang": "ru", "category": "army", "author": "Игорь Лаптев",
     "title": "Путин и Лавров: военные медики КНДР будут работать в госпиталях Ростовской области",
     "standfirst": "Северокорейские хирурги и санитары будут лечить раненых бойцов в Ростове-на-Дону; "
                   "в Евросоюзе назвали это эскалацией.",
     "body": [
         "Пхеньян направит около 2700 военных медиков в госпитали Ростовской области, где лечат раненых "
         "участников боевых действий на Украине, заявил Владимир Путин на встрече с губернатором области.",
         "Речь идет о хирургах, анестезиологах и санитарах из военных госпиталей КНДР. Первая группа из 450 "
         "человек прибудет в Ростов-на-Дону в течение месяца, уточнил министр иностранных дел Сергей Лавров.",
         "В Евросоюзе назвали отправку северокорейских военных врачей новым шагом к эскалации.",
     ]},
    {"key": "zaporizhzhia-front", "site": "herald", "lang": "en", "category": "world", "author": "Daniel Frost",
     "title": "Budanov says North Korean troops are on the Zaporizhzhia front for the first time",
     "standfirst": "Ukraine's military intelligence chief says about 800 soldiers from the North have joined "
                   "Russian units near Tokmak; the Pentagon is checking.",
     "body": [
         "About 800 North Korean soldiers have been deployed to the Zaporizhzhia front in southern Ukraine, "
         "Kyrylo Budanov, the head of Ukraine's military intelligence, said, the first report of the North's "
         "troops fighting outside Russia's own border regions.",
         "Budanov said intercepted radio traffic in Korean and drone footage showed the soldiers in trenches "
         "near Tokmak, attached to a Russian motorised rifle brigade. They had been moved by rail through "
         "occupied Crimea.",
         "The Pentagon said it could not yet confirm the report but had no reason to doubt it.",
     ]},
    {"key": "chongjin-wounded", "site": "koreawire", "lang": "ko", "category": "defence", "author": "박서준",
     "title": "조태용 국정원장 \"러시아 파병 북한군 부상병 340여 명 청진 귀환\"",
     "standfirst": "특별열차로 두만강 철교 건너…함경북도 군 병원에 분산 수용",
     "body": [
         "러시아에 파병됐다가 부상을 입은 북한군 병사 340여 명이 최근 특별열차 편으로 함경북도 청진에 "
         "돌아왔다고 조태용 국가정보원장이 국회 정보위원회에서 밝혔다.",
         "국정원에 따르면 부상병들은 두만강 철교를 건넌 뒤 청진과 나남의 군 병원에 분산 수용됐다. 북한 당국은 "
         "이들의 귀환 사실이 알려지지 않도록 가족 면회를 제한하고 있는 것으로 파악됐다.",
         "조 원장은 전사자 유해 일부도 함께 송환된 정황이 있다고 덧붙였다.",
     ]},
]


# ------------------------------------------------------------------------------------------------ helpers


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


parse = parse_time  # the product's reading of a stored time


def secs(a: datetime | None, b: datetime | None) -> float | None:
    """b - a in seconds (None when either is missing)."""
    return None if a is None or b is None else round((b - a).total_seconds(), 1)


def pct(values: list[float | None]) -> dict[str, Any]:
    """p50/p95/max as ``newswatch alerts stats`` computes them (numpy's linear interpolation)."""
    import numpy as np

    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"p50": None, "p95": None, "max": None, "min": None, "n": 0}
    arr = np.array(vals)
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
            "max": round(float(arr.max()), 1), "min": round(float(arr.min()), 1), "n": len(vals)}


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def article_text(a: dict[str, Any]) -> str:
    return "\n\n".join([a["standfirst"], *a["body"]])


def nw(args: list[str], *, stdin: str | None = None, timeout: float = 600, check: bool = True) -> str:
    """Run the ``newswatch`` CLI with this process's environment (the bench's settings); its stdout."""
    proc = subprocess.run([NW, *args], input=stdin, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise RuntimeError(f"newswatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


# ------------------------------------------------------------------------------------------------ preflight


def preflight(chosen: list[dict[str, Any]], start: datetime, gap: float) -> dict[str, Any]:
    """``newswatch tag`` and ``newswatch cluster`` (offline) on the chosen articles: every one core, each its
    own story. Publication times as they will be (``gap`` apart), so the time terms of the score are real."""
    items = [{"id": a["key"], "title": a["title"], "text": article_text(a), "lang": a["lang"], "source": a["site"],
              "published": iso(start + timedelta(seconds=gap * i))} for i, a in enumerate(chosen)]
    stdin = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items)
    tags = {d["id"]: d["level"] for d in json_lines(nw(["tag"], stdin=stdin))}
    stories = {d["id"]: d["story"] for d in json_lines(nw(["cluster"], stdin=stdin))}
    groups: dict[str, list[str]] = {}
    for key, story in stories.items():
        groups.setdefault(story, []).append(key)
    # the closest pair's score (how far below the joining threshold tau the set is)
    from newswatch.stories import PARAMS, Rarity, pair_score, prepare

    docs = prepare(items)
    rarity = Rarity(docs)  # what ``assign`` weighs the entities and counts by: the whole batch
    closest = max(((pair_score(a, b, PARAMS, rarity), a["id"], b["id"]) for i, a in enumerate(docs)
                   for b in docs[i + 1:]), default=(0.0, "", ""))
    return {"levels": tags, "all_core": all(v == "core" for v in tags.values()),
            "stories": len(groups), "distinct": len(groups) == len(chosen),
            "joined": [g for g in groups.values() if len(g) > 1],
            "closest_pair": {"score": round(closest[0], 3), "a": closest[1], "b": closest[2], "tau": PARAMS.tau}}


# ------------------------------------------------------------------------------------------------ services


class Http:
    """Small JSON clients for Elasticsearch and the Airflow REST API (retries on 5xx and connection errors:
    with SQLite, an API write that meets the scheduler's lock answers 500 "database is locked")."""

    def __init__(self, base: str) -> None:
        import httpx

        self.httpx = httpx
        self.client = httpx.Client(base_url=base, timeout=30, trust_env=False)

    def call(self, method: str, url: str, *, ok404: bool = False, **kwargs: Any) -> Any:
        last: Exception | None = None
        for attempt in range(6):
            try:
                resp = self.client.request(method, url, **kwargs)
                if ok404 and resp.status_code == 404:
                    return None
                if resp.status_code >= 500:
                    raise self.httpx.HTTPStatusError(f"{resp.status_code}", request=resp.request, response=resp)
                resp.raise_for_status()
                return resp.json()
            except (self.httpx.TransportError, self.httpx.HTTPStatusError) as exc:
                if isinstance(exc, self.httpx.HTTPStatusError) and exc.response.status_code < 500:
                    raise
                last = exc
                time.sleep(min(2 ** attempt, 10))
        raise RuntimeError(f"{method} {url}: {last}")


class Airflow(Http):
    def __init__(self, port: int, password: str) -> None:
        super().__init__(f"http://127.0.0.1:{port}")
        token = self.call("POST", "/auth/token", json={"username": "admin", "password": password})
        self.client.headers["Authorization"] = f"Bearer {token['access_token']}"

    def runs(self, dag_id: str, since: datetime) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns",
                             params={"limit": 100, "offset": offset, "run_after_gte": iso(since),
                                     "order_by": "run_after"})
            out += page.get("dag_runs", [])
            offset += 100
            if offset >= int(page.get("total_entries", 0)):
                return out

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        page = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return list(page.get("task_instances", []))


def wait_for(what: str, check: Callable[[], Any], deadline: float, every: float = 3.0) -> Any:
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def bench_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    """The settings of the bench's stack (mirrors scripts/demo.sh; own ports, prefix and var folder)."""
    feeds = ROOT / "config" / "feeds.demo.yaml"
    if not args.demo_feeds:
        import yaml

        data = yaml.safe_load(feeds.read_text(encoding="utf-8"))
        for f in data["feeds"]:
            f["min_interval_minutes"] = f["max_interval_minutes"] = args.feed_interval
        feeds = var_dir / "feeds.bench.yaml"
        if not feeds.exists():
            feeds.write_text("# config/feeds.demo.yaml with min/max_interval_minutes set by bench_alert_latency.py\n"
                             + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return {
        "NEWSWATCH_VAR_DIR": str(var_dir),
        "NEWSWATCH_FEEDS_FILE": str(feeds),
        "NEWSWATCH_ES__URL": f"http://127.0.0.1:{args.es_port}",
        "NEWSWATCH_ES__INDEX_PREFIX": args.prefix,
        "NEWSWATCH_DEMO_PORT": str(args.site_port),
        "NEWSWATCH_AIRFLOW_PORT": str(args.airflow_port),
        "NEWSWATCH_SMTP__PORT": str(args.smtp_port),
        "NEWSWATCH_ALLOWED_NETWORKS": f"127.0.0.1:{args.site_port}",  # the sample site only, as demo.sh
        "NEWSWATCH_FETCH__MIN_HOST_GAP": "0",  # our own local site, as demo.sh
        "NEWSWATCH_POLL_SCHEDULE": args.poll_schedule,
        "NEWSWATCH_DEMOSITE_LOG": "1",  # the site logs every request: when each feed was really polled
        # Airflow's log servers default to 8793/8794: a running demo holds them
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(args.airflow_port + 710),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(args.airflow_port + 711),
    }


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpus": os.cpu_count()}
    try:
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["mem_total_mb"] = int(mem[1]) // 1024
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except (OSError, IndexError, ValueError):
        pass
    try:
        import airflow

        info["airflow"] = airflow.__version__
    except ImportError:
        pass
    return info


# ------------------------------------------------------------------------------------------------ the run


def es_search(es: Http, index: str, query: dict[str, Any], size: int = 1000,
              source: list[str] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
    es.call("POST", f"/{index}/_refresh", ok404=True)
    body: dict[str, Any] = {"query": query, "size": size}
    if source is not None:
        body["_source"] = source
    resp = es.call("POST", f"/{index}/_search", json=body, ok404=True)
    return [] if resp is None else [h["_source"] | {"_id": h["_id"]} for h in resp["hits"]["hits"]]


class SiteLogTail(threading.Thread):
    """Follows the sample site's request log (``NEWSWATCH_DEMOSITE_LOG=1``; its lines carry no time) and stamps
    each request when it appears: ``lines`` holds (time, path, status), to ``every`` seconds."""

    PATTERN = re.compile(r'"GET (\S+) HTTP/[\d.]+" (\d{3})')

    def __init__(self, path: Path, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.path, self.every = path, every
        self.lines: list[tuple[datetime, str, int]] = []
        self.stopped = threading.Event()
        self.offset = path.stat().st_size if path.exists() else 0

    def run(self) -> None:
        buffer = b""
        while not self.stopped.is_set():
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.offset)
                    chunk = f.read()
            except OSError:
                chunk = b""
            if chunk:
                stamp = now_utc()
                self.offset += len(chunk)
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    m = self.PATTERN.search(raw.decode("utf-8", errors="replace"))
                    if m:
                        self.lines.append((stamp, m.group(1), int(m.group(2))))
            self.stopped.wait(self.every)


def article_feeds(a: dict[str, Any]) -> set[str]:
    """The paths of the site's feeds that list article ``a`` (``Feed.includes``)."""
    from newswatch.localstack.demosite.content import load_content

    return {f.path for f in load_content().feeds
            if f.site == a["site"] and f.lang == a["lang"] and (not f.categories or a["category"] in f.categories)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    t_start = now_utc()
    mono_start = time.monotonic()
    hard_deadline = mono_start + args.timeout
    own_var = args.var_dir is None
    var_dir = Path(args.var_dir or tempfile.mkdtemp(prefix="nwbench-")).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    env = bench_env(args, var_dir)
    os.environ.update(env)  # for the CLI subprocesses and for Settings() here

    from newswatch.localstack import services
    from newswatch.localstack.demosite import publish
    from newswatch.settings import Settings

    settings = Settings()
    chosen = ARTICLES[:args.articles]
    result: dict[str, Any] = {"started_at": iso(t_start), "machine_at_start": machine(), "settings": {
        "articles": len(chosen), "gap_seconds": args.gap, "poll_schedule": args.poll_schedule,
        "poll_interval_seconds": args.poll_interval, "feed_interval_minutes": None if args.demo_feeds
        else args.feed_interval, "feeds_file": env["NEWSWATCH_FEEDS_FILE"], "var_dir": str(var_dir),
        "es_url": settings.es.url, "index_prefix": settings.es.index_prefix, "airflow_port": settings.airflow_port,
        "site_port": settings.demo_port, "smtp_port": settings.smtp.port, "reuse": args.reuse,
        "recipient": RECIPIENT}}

    log(f"preflight: newswatch tag + cluster on {len(chosen)} articles")
    pre = preflight(chosen, t_start, args.gap)
    result["preflight"] = pre
    log(f"  all core: {pre['all_core']}; {pre['stories']} stories of {len(chosen)}; closest pair "
        f"{pre['closest_pair']['score']} (tau {pre['closest_pair']['tau']}: {pre['closest_pair']['a']} / "
        f"{pre['closest_pair']['b']})")
    if not (pre["all_core"] and pre["distinct"]):
        raise SystemExit(f"the articles are not all core or not distinct stories: {pre}")

    started: list[str] = []
    stack: dict[str, Any] = {}
    try:
        if not args.reuse:
            t0 = time.monotonic()
            log(f"stack up: es, mail, site (var {var_dir})")
            rows = json_lines(nw(["stack", "up", "--services", "es,mail,site", "--json"], timeout=900))
            stack["es_mail_site_seconds"] = round(time.monotonic() - t0, 1)
            nw(["init", "--json"])
            t1 = time.monotonic()
            log(f"stack up: airflow (port {settings.airflow_port})")
            rows += json_lines(nw(["stack", "up", "--services", "airflow", "--json"], timeout=900))
            stack["airflow_seconds"] = round(time.monotonic() - t1, 1)
            stack["services"] = [{k: v for k, v in r.items() if k != "password"} for r in rows]
            started = [{"elasticsearch": "es"}.get(r["service"], r["service"]) for r in rows
                       if r.get("status") == "started"]
        result["stack"] = stack
        try:
            return measure(args, settings, services, publish, chosen, result, hard_deadline, var_dir)
        except Exception as exc:  # keep what was measured; the JSON says what failed
            import traceback

            traceback.print_exc()
            result["error"] = f"{type(exc).__name__}: {exc}"
            return result
    finally:
        if started and not args.keep:
            log(f"stack down: {', '.join(started)}")
            down = json_lines(nw(["stack", "down", "--services", ",".join(started), "--json"], check=False))
            stack["down"] = down
            if own_var and "es" in started:  # the node's data folder is ours (one per var folder): remove it
                shutil.rmtree(services.es_node_dir(settings), ignore_errors=True)
        result["finished_at"] = iso(now_utc())
        result["duration_seconds"] = round(time.monotonic() - mono_start, 1)
        result["machine_at_end"] = machine()


def measure(args: argparse.Namespace, settings: Any, services: Any, publish: Callable[..., dict[str, Any]],
            chosen: list[dict[str, Any]], result: dict[str, Any], hard_deadline: float,
            var_dir: Path) -> dict[str, Any]:
    prefix = settings.es.index_prefix
    site = f"http://127.0.0.1:{settings.demo_port}"
    es = Http(settings.es.url)
    af = Airflow(settings.airflow_port, services.airflow_password(settings))
    t_bench = parse(result["started_at"])
    assert t_bench is not None

    # -- the DAGs: parsed, unpaused, the poll DAG on the every-minute schedule
    dags: dict[str, Any] = {}
    for dag_id in ("newswatch_poll", "newswatch_alert"):
        wait_for(f"{dag_id} to be parsed", lambda d=dag_id: af.call("GET", f"/api/v2/dags/{d}", ok404=True),
                 time.monotonic() + 300)
        info = af.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        dags[dag_id] = {k: info.get(k) for k in ("timetable_summary", "timetable_description", "is_paused",
                                                 "max_active_runs")}
    result["dags"] = dags
    log(f"DAGs unpaused: poll {dags['newswatch_poll']['timetable_summary']!r}, "
        f"alert {dags['newswatch_alert']['timetable_summary']!r}")

    # -- the first poll of every feed (its history) and the backlog digest it leads to
    feeds_index, alerts_index, articles_index = f"{prefix}-feeds", f"{prefix}-alerts", f"{prefix}-articles"
    import yaml

    feeds_yaml = yaml.safe_load(Path(os.environ["NEWSWATCH_FEEDS_FILE"]).read_text(encoding="utf-8"))
    n_feeds = len([f for f in feeds_yaml["feeds"] if f.get("enabled", True)])

    def feeds_done() -> list[dict[str, Any]] | None:
        docs = [d for d in es_search(es, feeds_index, {"match_all": {}}) if d.get("last_success")]
        return docs if len(docs) >= n_feeds else None

    t0 = time.monotonic()
    log("waiting for the first poll of every feed (history)")
    feeds = wait_for("the first poll", feeds_done, min(hard_deadline, time.monotonic() + args.first_poll_timeout))
    first_poll_done = now_utc()
    log(f"  {len(feeds)} feeds polled after {time.monotonic() - t0:.0f}s; waiting for the backlog digest")

    def backlog() -> dict[str, Any] | None:
        hits = es_search(es, alerts_index, {"bool": {"filter": [{"term": {"type": "backlog"}},
                                                                {"term": {"recipient": RECIPIENT}}]}},
                         source={"excludes": ["raw"]})
        sent = [h for h in hits if h.get("status") == "sent"]
        return sent[0] if sent else None

    digest = wait_for("the backlog digest", backlog, min(hard_deadline, time.monotonic() + args.first_poll_timeout))
    result["first_poll"] = {"seconds_after_airflow_up": round(time.monotonic() - t0, 1),
                            "feeds_polled_at": sorted(str(f.get("last_success")) for f in feeds),
                            "backlog_digest_sent_at": digest.get("sent_at"),
                            "backlog_digest_stories": len(digest.get("story_ids") or [])}
    log(f"  backlog digest sent at {digest.get('sent_at')} ({len(digest.get('story_ids') or [])} stories)")

    # -- publish the articles at known times (the site's request log followed from here on)
    from newswatch.localstack.demosite.content import load_content

    tail = SiteLogTail(var_dir / "log" / "site.log")
    tail.start()
    chosen_by_key = {a["key"]: a for a in chosen}
    all_feed_paths = {f.path for f in load_content().feeds}
    published: list[dict[str, Any]] = []
    t_first = time.monotonic() + 2.0
    for i, a in enumerate(chosen):
        wait = t_first + i * args.gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        before = now_utc()
        answer = publish(site, site=a["site"], lang=a["lang"], category=a["category"], title=a["title"],
                         standfirst=a["standfirst"], body=a["body"], author=a["author"], level="core",
                         story=f"bench-{a['key']}")
        after = now_utc()
        published.append({"key": a["key"], "site": a["site"], "lang": a["lang"], "recorded": before,
                          "recorded_after": after, "answer": answer, "path": answer["path"]})
        log(f"published {i + 1}/{len(chosen)} {a['key']} ({a['site']}/{a['lang']}) at {iso(before)}")

    # -- wait until each has its immediate email (a sent story claim)
    def lookup() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        arts = es_search(es, articles_index, {"range": {"indexed_at": {"gte": iso(first_poll_done)}}},
                         source=["id", "url", "fetched_url", "story_id", "published", "fetched_at", "indexed_at",
                                  "level", "first_poll", "date_source", "source", "lang", "title"])
        by_path = {}
        for d in arts:
            for u in (d.get("fetched_url"), d.get("url")):
                if u:
                    by_path[urlsplit(u).path] = d
        claims = es_search(es, alerts_index, {"bool": {"filter": [{"term": {"kind": "message"}},
                                                                  {"range": {"claimed_at": {"gte": iso(t_bench)}}}]}},
                           source={"excludes": ["raw"]})
        stories = {}
        for c in claims:
            if c.get("type") == "story" and c.get("recipient") == RECIPIENT:
                stories[str(c.get("story_id"))] = c
        return by_path, stories

    progress = {"sent": -1}

    def all_sent() -> bool:
        by_path, stories = lookup()
        done = 0
        for p in published:
            art = by_path.get(p["path"])
            claim = stories.get(str(art.get("story_id"))) if art else None
            if claim and claim.get("status") == "sent":
                done += 1
        if done != progress["sent"]:
            log(f"  {done}/{len(published)} emails sent")
            progress["sent"] = done
        return done == len(published)

    try:
        wait_for("every article's email", all_sent, min(hard_deadline, time.monotonic() + args.wait_after),
                 every=2.0)
    except TimeoutError as exc:
        log(f"  {exc}")
    t_end = now_utc()
    tail.stopped.set()
    by_path, stories = lookup()

    # -- Airflow: the runs of both DAGs and their task instances
    poll_runs = af.runs("newswatch_poll", t_bench - timedelta(minutes=2))
    alert_runs = af.runs("newswatch_alert", t_bench - timedelta(minutes=2))
    tis: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for dag_id, runs in (("newswatch_poll", poll_runs), ("newswatch_alert", alert_runs)):
        for r in runs:
            tis[(dag_id, r["dag_run_id"])] = af.task_instances(dag_id, r["dag_run_id"])
    try:
        events = af.call("GET", "/api/v2/assets/events", params={"source_dag_id": "newswatch_poll", "limit": 100,
                                                                 "order_by": "timestamp"}).get("asset_events", [])
    except Exception as exc:  # informative only
        events = []
        log(f"  asset events not read: {exc}")

    def ti(dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        return [t for t in tis.get((dag_id, run_id), []) if t["task_id"] == task_id]

    def run_at(runs: list[dict[str, Any]], moment: datetime | None) -> dict[str, Any] | None:
        for r in runs:
            s, e = parse(r.get("start_date")), parse(r.get("end_date")) or now_utc()
            if moment and s and s <= moment <= e:
                return r
        return None

    # -- per article
    per: list[dict[str, Any]] = []
    for p in published:
        art = by_path.get(p["path"]) or {}
        claim = stories.get(str(art.get("story_id"))) if art else None
        claim = claim or {}
        rec = p["recorded"]
        pub = parse(claim.get("published") or art.get("published"))
        fetched, indexed, sent = (parse(claim.get(k) or art.get(k)) for k in ("fetched_at", "indexed_at", "sent_at"))
        row: dict[str, Any] = {
            "key": p["key"], "site": p["site"], "lang": p["lang"], "path": p["path"],
            "recorded_publish": iso(rec), "site_published": p["answer"]["published"],
            "article_published": art.get("published"), "date_source": art.get("date_source"),
            "fetched_at": art.get("fetched_at"), "indexed_at": art.get("indexed_at"), "sent_at": claim.get("sent_at"),
            "claim_status": claim.get("status"), "story_id": art.get("story_id"), "article_id": art.get("_id"),
            "own_story": bool(art) and art.get("story_id") == art.get("_id"), "first_poll": art.get("first_poll"),
            "level": art.get("level"),
            "publish_to_send": secs(pub, sent), "fetch_to_send": secs(fetched, sent),
            "index_to_send": secs(indexed, sent), "recorded_publish_to_send": secs(rec, sent),
            "recorded_publish_to_fetch": secs(rec, fetched), "fetch_to_index": secs(fetched, indexed),
        }
        # where the time went: the feed poll that found it (the site's request log), the Airflow runs around it
        feeds_of = article_feeds(chosen_by_key[p["key"]])
        page_get = min((t for t, path, _ in tail.lines if path == p["path"] and t >= rec), default=None)
        feed_gets = [t for t, path, _ in tail.lines if path in feeds_of and rec <= t <= (page_get or t_end)]
        found = max(feed_gets) if page_get and feed_gets else None
        pr = run_at(poll_runs, fetched)
        publish_end = None
        seg: dict[str, float | None] = {}
        if pr:
            pub_ti = ti("newswatch_poll", pr["dag_run_id"], "publish")
            publish_end = parse(pub_ti[0].get("end_date")) if pub_ti else None
            pr_start = parse(pr.get("start_date"))
            before = [r for r in poll_runs if rec < (parse(r.get("start_date")) or t_end) < (pr_start or t_end)]
            polled_in = {r["dag_run_id"] for t in feed_gets if (r := run_at(poll_runs, t))}
            row["poll_run"] = {
                "run_id": pr["dag_run_id"], "run_after": pr.get("run_after"), "queued_at": pr.get("queued_at"),
                "start_date": pr.get("start_date"), "end_date": pr.get("end_date"),
                "late_start_seconds": secs(parse(pr.get("run_after")), pr_start),
                # poll runs that started after the publication but before the one that fetched it: did they
                # poll the article's feeds (and miss it), or skip them (the feed was not due yet)?
                "earlier_runs": len(before),
                "earlier_runs_that_skipped_its_feeds": sum(1 for r in before if r["dag_run_id"] not in polled_in),
                "earlier_runs_that_polled_its_feeds": sum(1 for r in before if r["dag_run_id"] in polled_in),
            }
            seg["publish_to_poll_run_start"] = secs(rec, pr_start)
        seg["publish_to_feed_poll"] = secs(rec, found)
        seg["feed_poll_to_fetch"] = secs(found, fetched)
        seg["fetch_to_index"] = secs(fetched, indexed)
        seg["index_to_asset"] = secs(indexed, publish_end)
        ar = run_at(alert_runs, sent)
        if ar:
            send_ti = ti("newswatch_alert", ar["dag_run_id"], "send_alerts")
            task_start = parse(send_ti[0].get("start_date")) if send_ti else None
            row["alert_run"] = {"run_id": ar["dag_run_id"], "run_type": ar.get("run_type"),
                                "triggered_by": ar.get("triggered_by"), "run_after": ar.get("run_after"),
                                "queued_at": ar.get("queued_at"), "start_date": ar.get("start_date"),
                                "end_date": ar.get("end_date"), "send_task_start": iso(task_start) if task_start
                                else None}
            seg["asset_to_alert_run_start"] = secs(publish_end, parse(ar.get("start_date")))
            seg["alert_run_start_to_send"] = secs(parse(ar.get("start_date")), sent)
            seg["send_task_start_to_send"] = secs(task_start, sent)
        row["feed_poll_that_found_it"] = iso(found) if found else None
        row["page_fetch_seen_by_site"] = iso(page_get) if page_get else None
        row["segments"] = seg
        per.append(row)
    result["per_article"] = per

    sent_rows = [r for r in per if r["sent_at"]]
    result["sent"] = len(sent_rows)
    result["all_sent"] = len(sent_rows) == len(per)
    result["own_stories_in_pipeline"] = sum(1 for r in per if r["own_story"])
    lat = {k: pct([r[k] for r in sent_rows]) for k in ("publish_to_send", "fetch_to_send", "index_to_send",
                                                         "recorded_publish_to_send", "recorded_publish_to_fetch",
                                                         "fetch_to_index")}
    result["latency_seconds"] = lat
    seg_keys = sorted({k for r in per for k in r.get("segments", {})})
    result["segments_seconds"] = {k: pct([r.get("segments", {}).get(k) for r in sent_rows]) for k in seg_keys}

    # -- the product's own figures over the same messages
    try:
        result["alerts_stats_cli"] = json.loads(nw(["alerts", "stats", "--json", "--since", iso(t_bench)]))
    except (RuntimeError, ValueError) as exc:
        result["alerts_stats_cli"] = {"error": str(exc)[:500]}

    # -- the runs: durations, how often the ticks were skipped, how alert runs were triggered
    window = [r for r in poll_runs if (parse(r.get("run_after")) or t_end) >= parse(published[0]["answer"]["published"])
              and (parse(r.get("run_after")) or t_end) <= t_end]
    durations = [secs(parse(r.get("start_date")), parse(r.get("end_date"))) for r in poll_runs if r.get("end_date")]
    starts = [secs(parse(r.get("run_after")), parse(r.get("start_date"))) for r in poll_runs if r.get("start_date")]
    ticks = int((t_end - published[0]["recorded"]).total_seconds() // args.poll_interval)
    task_secs: dict[str, list[float | None]] = {}
    for (dag_id, _), items in tis.items():
        for t in items:
            task_secs.setdefault(f"{dag_id}.{t['task_id']}", []).append(
                secs(parse(t.get("start_date")), parse(t.get("end_date"))))
    queue_secs: dict[str, list[float | None]] = {}
    for (dag_id, _), items in tis.items():
        for t in items:
            queue_secs.setdefault(f"{dag_id}.{t['task_id']}", []).append(
                secs(parse(t.get("queued_when")), parse(t.get("start_date"))))
    alert_types: dict[str, int] = {}
    for r in alert_runs:
        alert_types[str(r.get("run_type"))] = alert_types.get(str(r.get("run_type")), 0) + 1
    result["airflow"] = {
        "poll_runs": len(poll_runs), "poll_runs_while_publishing": len(window),
        "poll_ticks_while_publishing": ticks,
        "poll_run_states": {s: sum(1 for r in poll_runs if r.get("state") == s)
                            for s in sorted({str(r.get("state")) for r in poll_runs})},
        "poll_run_seconds": pct(durations), "poll_tick_to_start_seconds": pct(starts),
        "alert_runs": len(alert_runs), "alert_run_types": alert_types,
        "alert_run_seconds": pct([secs(parse(r.get("start_date")), parse(r.get("end_date"))) for r in alert_runs
                                  if r.get("end_date")]),
        "alert_queued_to_start_seconds": pct([secs(parse(r.get("queued_at")), parse(r.get("start_date")))
                                              for r in alert_runs if r.get("start_date")]),
        "task_seconds": {k: pct(v) for k, v in sorted(task_secs.items())},
        "task_queued_to_start_seconds": {k: pct(v) for k, v in sorted(queue_secs.items())},
        "asset_events": len(events),
        "runs": [{"dag": d, "run_id": r["dag_run_id"], "run_type": r.get("run_type"), "state": r.get("state"),
                  "run_after": r.get("run_after"), "queued_at": r.get("queued_at"), "start_date": r.get("start_date"),
                  "end_date": r.get("end_date")}
                 for d, runs in (("poll", poll_runs), ("alert", alert_runs)) for r in runs],
    }

    # -- how often each feed was really polled while articles were published (the site's request log)
    polls: dict[str, list[datetime]] = {}
    for t, path, _ in tail.lines:
        if path in all_feed_paths and published[0]["recorded"] <= t <= t_end:
            polls.setdefault(path, []).append(t)
    gaps = [(b - a).total_seconds() for ts in polls.values() for a, b in zip(ts, ts[1:], strict=False)]
    result["feed_polls"] = {"per_feed": {p: len(ts) for p, ts in sorted(polls.items())},
                            "gap_seconds": pct(gaps),
                            "gaps_over_1_5_intervals": sum(1 for g in gaps if g > 1.5 * args.poll_interval),
                            "gaps": len(gaps), "log_stamp_resolution_seconds": tail.every}

    goal = args.poll_interval + GOAL_BEYOND_POLL
    p95 = lat["fetch_to_send"]["p95"]
    result["goal"] = {"fetch_to_send_p95_max_seconds": goal, "fetch_to_send_p95": p95,
                      "met": p95 is not None and p95 <= goal and result["all_sent"],
                      "publish_to_send_p95": lat["publish_to_send"]["p95"],
                      "publish_to_send_p95_within_goal": lat["publish_to_send"]["p95"] is not None
                      and lat["publish_to_send"]["p95"] <= goal}
    return result


# ------------------------------------------------------------------------------------------------ output

# the chain from the site's publication to the send (``publish_to_poll_run_start`` overlaps the first one;
# ``send_task_start_to_send`` is the last part of ``alert_run_start_to_send``)
SEGMENTS = ("publish_to_feed_poll", "feed_poll_to_fetch", "fetch_to_index", "index_to_asset",
            "asset_to_alert_run_start", "alert_run_start_to_send", "publish_to_poll_run_start",
            "send_task_start_to_send")


def summary(result: dict[str, Any]) -> str:
    lat = result.get("latency_seconds") or {}
    s = result["settings"]
    lines = [f"{s['articles']} articles, one every {s['gap_seconds']:.0f} s; poll schedule {s['poll_schedule']!r} "
             f"(interval {s['poll_interval_seconds']:.0f} s), feeds due every {s['feed_interval_minutes']} min; "
             f"{result.get('sent', 0)}/{s['articles']} emails sent; "
             f"{result.get('own_stories_in_pipeline', 0)} own stories in the pipeline",
             f"{'latency (s)':<32}{'p50':>8}{'p95':>8}{'max':>8}{'min':>8}{'n':>4}"]
    names = {"publish_to_send": "publish → send (article date)", "fetch_to_send": "fetch → send",
             "index_to_send": "index → send", "recorded_publish_to_send": "site publish (recorded) → send",
             "recorded_publish_to_fetch": "site publish (recorded) → fetch", "fetch_to_index": "fetch → index"}
    for key, label in names.items():
        v = lat.get(key) or {}
        cells = [f"{v[c]:8.1f}" if v.get(c) is not None else f"{'-':>8}" for c in ("p50", "p95", "max", "min")]
        lines.append(f"{label:<32}{''.join(cells)}{v.get('n', 0):>4}")
    seg = result.get("segments_seconds") or {}
    if seg:
        lines.append("where the time went (site publish → send, in order):")
        for key in SEGMENTS:
            v = seg.get(key) or {}
            cells = [f"{v[c]:8.1f}" if v.get(c) is not None else f"{'-':>8}" for c in ("p50", "p95", "max", "min")]
            lines.append(f"  {key:<30}{''.join(cells)}{v.get('n', 0):>4}")
    af = result.get("airflow") or {}
    if af:
        lines.append(f"poll runs {af['poll_runs']} (run {af['poll_run_seconds']['p50']} s median, "
                     f"{af['poll_run_seconds']['max']} s max; tick→start {af['poll_tick_to_start_seconds']['p50']} s); "
                     f"{af['poll_runs_while_publishing']} runs for {af['poll_ticks_while_publishing']} ticks; "
                     f"alert runs {af['alert_runs']} {af['alert_run_types']}")
    fp = result.get("feed_polls") or {}
    if fp:
        g = fp["gap_seconds"]
        lines.append(f"feed polls: gap p50 {g['p50']} s, max {g['max']} s; {fp['gaps_over_1_5_intervals']} of "
                     f"{fp['gaps']} gaps > 1.5 poll intervals")
    goal = result.get("goal") or {}
    if goal:
        lines.append(f"goal fetch→send p95 ≤ {goal['fetch_to_send_p95_max_seconds']:.0f} s: "
                     f"{'met' if goal['met'] else 'NOT met'} ({goal['fetch_to_send_p95']} s); publish→send p95 "
                     f"{goal['publish_to_send_p95']} s")
    lines.append(f"run took {result.get('duration_seconds')} s")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--articles", type=int, default=8, help=f"articles to publish (at most {len(ARTICLES)})")
    ap.add_argument("--gap", type=float, default=75.0, help="seconds between two publications")
    ap.add_argument("--poll-schedule", default="* * * * *", help="NEWSWATCH_POLL_SCHEDULE of the poll DAG")
    ap.add_argument("--poll-interval", type=float, default=60.0, help="seconds between two ticks of that schedule")
    ap.add_argument("--feed-interval", type=int, default=1,
                    help="min_interval_minutes = max_interval_minutes of every feed in the bench's feeds file")
    ap.add_argument("--demo-feeds", action="store_true",
                    help="use config/feeds.demo.yaml as it is (5 min minimum, adaptive interval)")
    ap.add_argument("--reuse", action="store_true", help="use a running stack started with the same settings")
    ap.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    ap.add_argument("--var-dir", help="NEWSWATCH_VAR_DIR of the stack (default: a new temporary folder)")
    ap.add_argument("--es-port", type=int, default=9270)
    ap.add_argument("--site-port", type=int, default=8775)
    ap.add_argument("--airflow-port", type=int, default=8090)
    ap.add_argument("--smtp-port", type=int, default=8035)
    ap.add_argument("--prefix", default="nwbench", help="Elasticsearch index prefix")
    ap.add_argument("--first-poll-timeout", type=float, default=420.0,
                    help="seconds to wait for the first poll, and again for its backlog digest")
    ap.add_argument("--wait-after", type=float, default=1200.0,
                    help="seconds after the last publication to wait for the emails")
    ap.add_argument("--timeout", type=float, default=1140.0, help="the whole run's limit in seconds")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "alert_latency.json")
    args = ap.parse_args()
    if not 1 <= args.articles <= len(ARTICLES):
        ap.error(f"--articles must be 1..{len(ARTICLES)}")

    result = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(summary(result))
    print(f"results: {args.json}")
    return 0 if result.get("goal", {}).get("met") else 1


if __name__ == "__main__":
    raise SystemExit(main())
