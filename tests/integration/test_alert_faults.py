"""Alert delivery under faults, end to end: the real Elasticsearch, a real SMTP server that fails on purpose
(``tests.smtpfaults.FaultySMTP``), a TCP proxy that cuts Elasticsearch between send and mark
(``tests.tcpproxy``), a SIGKILLed ``newswatch alert`` process and two indexers racing on one wire story.

Each test checks, per story, how many emails the server stored (by Message-ID) and the state of the story's
claim against the outbox's guarantees (``newswatch.alerts.outbox``): never reached DATA → ``failed`` and
resent later, exactly once; reply lost after the final dot → ``uncertain``, never resent; permanent
rejection → ``dead``, one dead-letter notice to the operator; and prints one line per fault for the report.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import smtplib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from elasticsearch import Elasticsearch, helpers

from newswatch import alerts, index, stories
from newswatch.clients import make_es, smtp_connect
from newswatch.config import Recipient
from newswatch.errors import AlertError
from newswatch.records import canonical, doc_id
from newswatch.runtime import Runtime
from newswatch.settings import AlertSettings, Settings
from tests.conftest import REPO
from tests.integration.alertkit import FRESH, article, index_items, now
from tests.smtpfaults import FaultySMTP
from tests.tcpproxy import TCPProxy

pytestmark = pytest.mark.integration

TOPIC = "dprk_russia_troops"
ANALYST = "analyst@example.org"
OPERATOR = "ops@example.org"
SHORT_LEASE = AlertSettings(lease_seconds=1)


# -- helpers ------------------------------------------------------------------------------------------------
@pytest.fixture()
def smtp() -> Iterator[FaultySMTP]:
    with FaultySMTP() as server:
        yield server


def analyst() -> Recipient:
    return Recipient(email=ANALYST, topics=[TOPIC])


def operator() -> Recipient:
    return Recipient(email=OPERATOR, topics=[], modes=[], operator=True)


def with_smtp_timeout(settings: Settings, timeout: float) -> Settings:
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"timeout": timeout})})


# Fresh reports of three different events. (alertkit's DISTINCT reports are all about Kursk: story clustering
# joins most of them into one or two stories.) Tests count stories from the claims, never from the items.
STORIES = [
    (FRESH["title"], FRESH["text"]),
    ("Kim Jong Un decorates soldiers who fought for Russia at a Pyongyang ceremony",
     "North Korean leader Kim Jong Un awarded medals to 120 officers and soldiers of the units sent to fight for "
     "Russia against Ukraine at a ceremony in Pyongyang, state media KCNA reported on Thursday, praising their "
     "overseas operation."),
    ("Ukrainian drone strike kills North Korean artillery crew in Belgorod region",
     "A Ukrainian drone strike destroyed a North Korean howitzer position in Russia's Belgorod region, killing 14 "
     "North Korean artillerymen serving with Russian forces, Ukraine's General Staff said on Friday."),
]


def index_stories(rt: Runtime, n: int = 3) -> None:
    """``n`` fresh reports of different events (published 20 min to 2 h ago, each by its own outlet)."""
    items = [article(f"story-{i}", now() - timedelta(minutes=20 + 40 * i), title=t, text=x, source=f"Outlet {i}")
             for i, (t, x) in enumerate(STORIES[:n])]
    assert index_items(rt, items)["indexed"] == n


def run(settings: Settings, es: Elasticsearch, recipients: list[Recipient],
        factory: Callable[[], smtplib.SMTP] | None = None) -> dict[str, Any]:
    return alerts.run_alerts(settings, es, factory or (lambda: smtp_connect(settings)), recipients)


def claims(es: Elasticsearch, settings: Settings, type_: str = "story") -> list[dict[str, Any]]:
    """The message claims of one type (story, dead_letter …), oldest claim first."""
    name = index.index_name(settings, "alerts")
    es.indices.refresh(index=name)
    query = {"bool": {"filter": [{"term": {"kind": "message"}}, {"term": {"type": type_}}]}}
    hits = helpers.scan(es, index=name, query={"query": query})
    return sorted(({"id": h["_id"], **h["_source"]} for h in hits), key=lambda c: (c["claimed_at"], c["id"]))


def delivered(srv: FaultySMTP, cs: list[dict[str, Any]]) -> dict[str, int]:
    """Emails stored by the server per claim, keyed by story id (8 characters) or claim id."""
    counts = srv.count_by_message_id()
    return {_key(c): counts.get(c["message_id"], 0) for c in cs}


def statuses(cs: list[dict[str, Any]]) -> dict[str, str]:
    return {_key(c): c["status"] for c in cs}


def _key(c: dict[str, Any]) -> str:
    if c.get("type") == "dead_letter":  # keyed by the story of the dead alert it reports
        return str(c["period"]).rsplit(":", 1)[-1][:8]
    return str(c.get("story_id") or c["id"])[:8]


def figure(name: str, srv: FaultySMTP, cs: list[dict[str, Any]], **extra: Any) -> None:
    more = "".join(f" {k}={v}" for k, v in extra.items())
    print(f"\nfault={name}: stories={len(cs)} delivered_per_story={delivered(srv, cs)} "
          f"statuses={statuses(cs)}{more}")


def assert_each_delivered_once(srv: FaultySMTP, cs: list[dict[str, Any]]) -> None:
    assert cs and set(delivered(srv, cs).values()) == {1}, delivered(srv, cs)
    assert len(srv.delivered) == len(cs)  # nothing else went out (no duplicate under another id either)


def scoped_fault(settings: Settings, srv: FaultySMTP, mode: str, faulty: set[str]) -> Callable[[], smtplib.SMTP]:
    """``smtp_connect`` whose server applies ``mode`` only to messages for ``faulty`` recipients: the mode is
    switched when RCPT is sent (sends are sequential), so it holds at the final dot of that transaction."""

    def connect() -> smtplib.SMTP:
        conn = smtp_connect(settings)
        rcpt = conn.rcpt

        def scoped_rcpt(addr: str, options: Any = ()) -> tuple[int, bytes]:
            srv.mode = mode if addr in faulty else "ok"  # type: ignore[assignment]
            return rcpt(addr, options)

        conn.rcpt = scoped_rcpt  # type: ignore[method-assign,assignment]
        return conn

    return connect


def cut_after_final_reply(settings: Settings, proxy: TCPProxy) -> Callable[[], smtplib.SMTP]:
    """``smtp_connect`` that cuts ``proxy`` (Elasticsearch) as soon as the reply to the final dot was read:
    the server holds the message, and the outbox cannot record it."""

    def connect() -> smtplib.SMTP:
        conn = smtp_connect(settings)
        send, getreply = conn.send, conn.getreply
        after_dot = False

        def send_(s: Any) -> None:
            nonlocal after_dot
            if isinstance(s, bytes) and (s == b".\r\n" or s.endswith(b"\r\n.\r\n")):  # the final dot
                after_dot = True
            send(s)

        def getreply_() -> tuple[int, bytes]:
            nonlocal after_dot
            reply = getreply()
            if after_dot:
                after_dot = False
                proxy.cut()
            return reply

        conn.send = send_  # type: ignore[method-assign]
        conn.getreply = getreply_  # type: ignore[method-assign]
        return conn

    return connect


def body_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def story_ids(es: Elasticsearch, settings: Settings, ids: list[str]) -> dict[str, str]:
    resp = es.mget(index=index.index_name(settings, "articles"), ids=ids, source=["story_id"])
    return {d["_id"]: d["_source"]["story_id"] for d in resp["docs"]}


# -- 1. connection refused ----------------------------------------------------------------------------------
def test_refused_connections_fail_then_each_story_is_delivered_once(settings_factory, smtp) -> None:
    settings = settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE)
    rt = Runtime(settings)
    index_stories(rt, 3)
    smtp.mode = "refuse"
    first = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert first["stories"] == len(cs) >= 2
    assert first["failed"] == len(cs) and first["sent"] == 0 and first["immediate"] == 0, first
    assert smtp.delivered == [] and smtp.connections == 0
    assert {(c["status"], c["error_class"], c["attempts"]) for c in cs} == {("failed", "NotAccepted", 1)}
    assert first["errors"] == {"NotAccepted": len(cs)}

    smtp.mode = "ok"
    second = run(settings, rt.es, [analyst()])
    assert second["retried"] == len(cs) and second["sent"] == len(cs) and second["failed"] == 0, second
    cs = claims(rt.es, settings)
    assert {c["status"] for c in cs} == {"sent"}
    assert_each_delivered_once(smtp, cs)

    third = run(settings, rt.es, [analyst()])
    assert third["sent"] == third["retried"] == third["immediate"] == third["failed"] == 0, third
    assert_each_delivered_once(smtp, cs)
    figure("refuse", smtp, cs, first_run_failed=first["failed"])


# -- 2. connection dropped at / during DATA -----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["drop_after_data", "drop_during_data"])
def test_connection_dropped_at_or_during_data_fails_and_is_delivered_once_later(settings_factory, smtp,
                                                                                mode) -> None:
    """drop_after_data: the server closes on DATA without a 354: the message was never sent.
    drop_during_data: 354, then the server reads one line and hangs up. The client writes the message but
    looks before writing the final dot: the server has hung up, so it cannot have accepted anything —
    ``failed``, retried, delivered exactly once (``uncertain`` is kept for a reply lost *after* the dot)."""
    settings = settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE)
    rt = Runtime(settings)
    index_stories(rt, 2)
    smtp.mode = mode
    first = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert first["stories"] == len(cs) >= 2
    assert smtp.delivered == [] and smtp.data_commands == len(cs)
    assert {(c["status"], c["error_class"]) for c in cs} == {("failed", "NotAccepted")}, statuses(cs)
    assert first["failed"] == len(cs) and first["uncertain"] == 0, first

    smtp.mode = "ok"
    assert run(settings, rt.es, [analyst()])["sent"] == len(cs)
    assert run(settings, rt.es, [analyst()])["sent"] == 0
    cs = claims(rt.es, settings)
    assert {c["status"] for c in cs} == {"sent"}
    assert_each_delivered_once(smtp, cs)
    figure(mode, smtp, cs)


# -- 3. slower than the SMTP timeout -------------------------------------------------------------------------
def test_slow_greeting_times_out_fails_and_is_delivered_once_later(settings_factory, smtp) -> None:
    settings = with_smtp_timeout(settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE), 0.5)
    rt = Runtime(settings)
    index_stories(rt, 2)
    smtp.mode, smtp.delay = "slow_greeting", 2.0
    first = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert first["stories"] == len(cs) >= 2 and first["failed"] == len(cs) and first["uncertain"] == 0, first
    assert smtp.delivered == [] and smtp.data_commands == 0
    assert {(c["status"], c["error_class"]) for c in cs} == {("failed", "NotAccepted")}

    smtp.mode = "ok"
    assert run(settings, rt.es, [analyst()])["sent"] == len(cs)
    assert run(settings, rt.es, [analyst()])["sent"] == 0
    cs = claims(rt.es, settings)
    assert {c["status"] for c in cs} == {"sent"}
    assert_each_delivered_once(smtp, cs)
    figure("slow_greeting", smtp, cs)


# -- 3b. slower reply than the timeout, 4. reply lost ---------------------------------------------------
@pytest.mark.parametrize("mode", ["slow_reply", "lost_reply"])
def test_reply_lost_after_the_final_dot_is_uncertain_and_never_resent(settings_factory, smtp, mode) -> None:
    """slow_reply: stored, the 250 comes after the client's timeout; lost_reply: stored, no 250 at all."""
    settings = with_smtp_timeout(settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE), 0.5)
    rt = Runtime(settings)
    index_stories(rt, 2)
    smtp.mode, smtp.delay = mode, 2.0
    first = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert first["stories"] == len(cs) >= 2
    assert first["uncertain"] == len(cs) and first["failed"] == 0 and first["sent"] == 0, first
    assert {(c["status"], c["error_class"], c["attempts"]) for c in cs} == {("uncertain", "DeliveryUncertain", 1)}
    assert_each_delivered_once(smtp, cs)  # the server holds each message

    smtp.mode = "ok"
    time.sleep(1.2)  # past the lease: nothing may take an uncertain claim over
    for _ in range(2):
        again = run(settings, rt.es, [analyst()])
        assert again["sent"] == again["retried"] == again["uncertain"] == 0, again
    cs = claims(rt.es, settings)
    assert {c["status"] for c in cs} == {"uncertain"}
    assert_each_delivered_once(smtp, cs)
    figure(mode, smtp, cs, summary_uncertain=first["uncertain"])


# -- 7. Elasticsearch unreachable between send and mark -----------------------------------------------------
def test_elasticsearch_lost_between_send_and_mark_fails_loudly_and_is_not_resent(settings_factory, smtp,
                                                                                 es_url) -> None:
    settings = settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE)
    rt = Runtime(settings)
    index_stories(rt, 3)
    target = urlsplit(es_url)
    with TCPProxy(target.hostname or "127.0.0.1", target.port or 9200) as proxy:
        proxied = settings.model_copy(update={"es": settings.es.model_copy(update={"url": proxy.url})})
        es = make_es(proxied)
        try:
            with pytest.raises(AlertError, match="could not record alert story:.* as sent"):
                run(proxied, es, [analyst()], cut_after_final_reply(proxied, proxy))
        finally:
            es.close()
        assert proxy.refused and proxy.connections > 0
        proxy.restore()
    [cut] = claims(rt.es, settings)  # the run stopped at its first story
    assert cut["status"] == "sending" and len(smtp.delivered) == 1
    assert smtp.count_by_message_id() == {cut["message_id"]: 1}

    time.sleep(1.5)  # past the lease of the claim left 'sending'
    second = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert second["uncertain"] == 1 and second["sent"] == len(cs) - 1 and second["failed"] == 0, second
    by_id = {c["id"]: c for c in cs}
    assert by_id[cut["id"]]["status"] == "uncertain"
    assert {c["status"] for c in cs if c["id"] != cut["id"]} == {"sent"}
    assert run(settings, rt.es, [analyst()])["sent"] == 0
    assert_each_delivered_once(smtp, cs)
    figure("es_cut_between_send_and_mark", smtp, claims(rt.es, settings), cut_story=_key(cut))


# -- 8. the alert task killed mid-run and retried ----------------------------------------------------------
def test_alert_process_killed_during_data_then_retried(settings_factory, smtp, es_url, tmp_path) -> None:
    settings = settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE)
    rt = Runtime(settings)
    index_stories(rt, 3)
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(yaml.safe_dump({"recipients": [{"email": ANALYST, "topics": [TOPIC]}]}))
    env = {**os.environ, "NEWSWATCH_ES__URL": es_url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix,
           "NEWSWATCH_SMTP__PORT": str(smtp.port), "NEWSWATCH_SMTP__TIMEOUT": "60",
           "NEWSWATCH_ALERTS__LEASE_SECONDS": "1", "NEWSWATCH_CONFIG_DIR": str(REPO / "config"),
           "NEWSWATCH_VAR_DIR": str(settings.var_dir)}
    cmd = [str(REPO / ".venv" / "bin" / "newswatch"), "alert", "--json", "--recipients", str(recipients)]
    smtp.mode, smtp.delay = "slow_reply", 20.0
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not smtp.delivered and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(smtp.delivered) == 1, proc.poll()
        proc.send_signal(signal.SIGKILL)  # the worker dies waiting for the reply to its first message
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    killed = claims(rt.es, settings)
    assert [c["status"] for c in killed] == ["sending"], statuses(killed)

    smtp.mode = "ok"
    time.sleep(1.5)  # past the lease
    retry = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert retry.returncode == 0, retry.stderr[-2000:]
    out = json.loads(retry.stdout.strip().splitlines()[-1])
    cs = claims(rt.es, settings)
    assert len(cs) >= 3 and out["immediate"] == len(cs) - 1 and out["failed"] == 0, out
    assert out["details"]["uncertain"] == 1 and out["details"]["retried"] == 1, out
    by_id = {c["id"]: c for c in cs}
    assert by_id[killed[0]["id"]]["status"] == "uncertain"
    assert {c["status"] for c in cs if c["id"] != killed[0]["id"]} == {"sent"}
    assert run(settings, rt.es, [analyst()])["sent"] == 0
    assert_each_delivered_once(smtp, cs)
    figure("alert_process_sigkilled", smtp, cs, killed_story=_key(killed[0]))


# -- 9. two indexers at once on copies of one wire story ----------------------------------------------------
COPY_A = {**FRESH, "source": "Wire A"}
COPY_B = {**FRESH, "source": "Wire B"}


def _copies() -> tuple[dict[str, Any], dict[str, Any]]:
    published = now() - timedelta(minutes=15)
    return (article("wire-copy-a", published, **COPY_A),
            article("wire-copy-b", published + timedelta(minutes=2), **COPY_B))


def test_two_indexers_racing_on_one_wire_story_send_one_email(settings_factory, smtp, monkeypatch) -> None:
    """Two ``index_items`` calls at once, each with its own Runtime. The candidate lookup is wrapped (a pass-
    through) so that both indexers look for the story's other members before either has written its copy:
    the overlap that makes each start a story of its own is certain, not a matter of thread timing."""
    settings = settings_factory(smtp_port=smtp.port)
    a, b = _copies()
    ids = [doc_id(canonical(x["url"])) for x in (a, b)]
    looked, errors = threading.Barrier(2), []
    lookup = stories.EsCandidates.__call__

    def both_look_first(self: stories.EsCandidates, arts: list[dict[str, Any]]) -> Any:
        looked.wait(60)
        found = lookup(self, arts)
        looked.wait(60)  # neither writes before both have looked
        return found

    monkeypatch.setattr(stories.EsCandidates, "__call__", both_look_first)

    def indexer(item: dict[str, Any]) -> None:
        try:
            with Runtime(settings) as own:
                index_items(own, [item])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=indexer, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    monkeypatch.undo()
    rt = Runtime(settings)
    before = story_ids(rt.es, settings, ids)
    assert before == {i: i for i in ids}  # the race split the wire story in two
    out = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert out["immediate"] == out["stories"] == len(cs) == 1, out
    assert_each_delivered_once(smtp, cs)
    joined = story_ids(rt.es, settings, ids)
    assert len(set(joined.values())) == 1 and cs[0]["story_id"] in joined.values()
    assert run(settings, rt.es, [analyst()])["sent"] == 0 and len(smtp.delivered) == 1
    figure("concurrent_indexers", smtp, cs, stories_after_indexing=len(set(before.values())),
           story_ids_after={k[:8]: v[:8] for k, v in joined.items()})


def test_a_story_split_by_two_indexers_is_joined_before_alerting(settings_factory, smtp) -> None:
    settings = settings_factory(smtp_port=smtp.port)
    rt = Runtime(settings)
    a, b = _copies()
    id_a, id_b = (doc_id(canonical(x["url"])) for x in (a, b))
    index_items(rt, [a])
    index_items(rt, [{**b, "story_id": id_b}])  # what the second of two racing indexers leaves
    assert story_ids(rt.es, settings, [id_a, id_b]) == {id_a: id_a, id_b: id_b}
    out = run(settings, rt.es, [analyst()])
    cs = claims(rt.es, settings)
    assert out["immediate"] == out["stories"] == len(cs) == 1, out
    assert_each_delivered_once(smtp, cs)
    assert story_ids(rt.es, settings, [id_a, id_b]) == {id_a: id_a, id_b: id_a}  # the later copy joined
    assert run(settings, rt.es, [analyst()])["sent"] == 0 and len(smtp.delivered) == 1
    figure("split_story_joined", smtp, cs, story_ids_after={k[:8]: v[:8] for k, v in
                                                             story_ids(rt.es, settings, [id_a, id_b]).items()})


# The dead-letter tests come last: until the alerts mapping accepts the dead-letter claim (see the report),
# they fail, and a `-x` run still covers every other fault first.
# -- 5. permanent rejection ---------------------------------------------------------------------------------
def test_permanent_rejection_is_dead_at_once_and_the_operator_is_told_once(settings_factory, smtp) -> None:
    settings = settings_factory(smtp_port=smtp.port, alerts=SHORT_LEASE)
    rt = Runtime(settings)
    index_stories(rt, 2)
    people = [analyst(), operator()]
    rejecting = scoped_fault(settings, smtp, "reject", {ANALYST})  # 554 to the analyst's mail, not the operator's
    first = run(settings, rt.es, people, rejecting)
    cs = claims(rt.es, settings)
    assert first["stories"] == len(cs) >= 2
    assert first["dead"] == len(cs) and first["sent"] == len(cs), first  # sent: the dead letters
    assert first["errors"] == {"MessageRejected": len(cs)}
    assert {(c["status"], c["error_class"], c["attempts"]) for c in cs} == {("dead", "MessageRejected", 1)}
    assert set(delivered(smtp, cs).values()) == {0}
    letters = claims(rt.es, settings, "dead_letter")
    assert sorted(x["period"] for x in letters) == sorted(c["id"] for c in cs)  # one notice per dead alert
    assert {(x["recipient"], x["status"]) for x in letters} == {(OPERATOR, "sent")}
    assert set(delivered(smtp, letters).values()) == {1}
    assert [rcpts for _, rcpts in smtp.envelopes] == [[OPERATOR]] * len(cs)
    notices = [body_of(raw) for raw in smtp.delivered]
    assert all(f"Recipient: {ANALYST}" in n and "Attempts: 1" in n for n in notices)

    run(settings, rt.es, people, rejecting)  # still rejecting
    smtp.mode = "ok"
    again = run(settings, rt.es, people)  # fixed: a dead claim still stays dead (deleting it resends)
    assert again["sent"] == again["retried"] == again["dead"] == 0, again
    cs, letters = claims(rt.es, settings), claims(rt.es, settings, "dead_letter")
    assert {c["status"] for c in cs} == {"dead"} and set(delivered(smtp, cs).values()) == {0}
    assert len(letters) == len(cs) and set(delivered(smtp, letters).values()) == {1}
    assert len(smtp.delivered) == len(cs)
    figure("reject", smtp, cs, dead_letters_to_operator=delivered(smtp, letters))


# -- 6. temporary failure until max_attempts ----------------------------------------------------------------
def test_repeated_tempfail_is_dead_after_max_attempts_and_the_operator_told_once(settings_factory, smtp) -> None:
    settings = settings_factory(smtp_port=smtp.port, alerts=AlertSettings(max_attempts=2, lease_seconds=1))
    rt = Runtime(settings)
    index_stories(rt, 2)
    people = [analyst(), operator()]
    smtp.mode = "tempfail"  # 451 to MAIL FROM, for every message (the operator's too)
    first = run(settings, rt.es, people)
    cs = claims(rt.es, settings)
    assert first["stories"] == len(cs) >= 2 and first["failed"] == len(cs) and first["dead"] == 0, first
    assert {(c["status"], c["error_class"], c["attempts"]) for c in cs} == {("failed", "NotAccepted", 1)}

    second = run(settings, rt.es, people)  # the second attempt: dead; the dead letters are tempfailed too
    cs, letters = claims(rt.es, settings), claims(rt.es, settings, "dead_letter")
    assert second["retried"] == len(cs) and second["dead"] == len(cs), second
    assert {(c["status"], c["error_class"], c["attempts"]) for c in cs} == {("dead", "NotAccepted", 2)}
    assert sorted(x["period"] for x in letters) == sorted(c["id"] for c in cs)
    assert {(x["status"], x["attempts"]) for x in letters} == {("failed", 1)}
    assert smtp.delivered == []

    smtp.mode = "ok"  # the server recovers: the operator's notices go out, the dead alerts do not
    third = run(settings, rt.es, people)
    assert third["retried"] == len(letters) and third["sent"] == len(letters) and third["dead"] == 0, third
    for _ in range(2):
        assert run(settings, rt.es, people)["sent"] == 0
    cs, letters = claims(rt.es, settings), claims(rt.es, settings, "dead_letter")
    assert {c["status"] for c in cs} == {"dead"} and set(delivered(smtp, cs).values()) == {0}
    assert {(x["recipient"], x["status"]) for x in letters} == {(OPERATOR, "sent")}
    assert set(delivered(smtp, letters).values()) == {1} and len(smtp.delivered) == len(cs)
    assert [rcpts for _, rcpts in smtp.envelopes] == [[OPERATOR]] * len(cs)
    assert all(f"Recipient: {ANALYST}" in n and "Attempts: 2" in n for n in map(body_of, smtp.delivered))
    figure("tempfail_max_attempts_2", smtp, cs, attempts={_key(c): c["attempts"] for c in cs},
           dead_letters_to_operator=delivered(smtp, letters))
