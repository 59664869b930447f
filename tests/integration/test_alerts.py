"""Alert delivery modes against the real Elasticsearch and a real SMTP server: backlog digest instead of a
flood, immediate within the freshness window, threaded follow-ups, rate-cap folds, digests once per period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newswatch import alerts
from newswatch.clients import smtp_connect
from newswatch.config import DigestConfig, Recipient
from newswatch.runtime import Runtime
from tests.integration.alertkit import DISTINCT, FOLLOWUP, FRESH, article, body_text, index_items, mails, now, old

pytestmark = pytest.mark.integration
TOPIC = "dprk_russia_troops"


def _run(settings, recipients, **kw):
    return alerts.run_alerts(settings, Runtime(settings).es, lambda: smtp_connect(settings), recipients, **kw)


def test_backlog_digest_then_immediate_then_threaded_followup(settings_factory, smtp_sink) -> None:
    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port)
    rt = Runtime(settings)
    rt.ensure_indices()
    analyst = Recipient(email="analyst@example.org", topics=[TOPIC])
    # months-old coverage (a first poll, a new feed): one backlog digest, not one email per story
    history = [article(f"old-{i}", old(200 + 30 * i), title=t, text=x) for i, (t, x) in enumerate(DISTINCT)]
    assert index_items(rt, history)["indexed"] == len(history)
    first = _run(settings, [analyst])
    assert first["immediate"] == 0 and first["queued_for_digest"] == len(history)
    assert first["backlog_digests"] == 1
    [digest] = mails(maildir)
    assert "Backlog digest" in digest["Subject"] and f"{len(history)} stories" in digest["Subject"]
    assert digest["Auto-Submitted"] == "auto-generated" and digest["List-Id"]
    text = body_text(digest)
    assert all(t in text for t, _ in DISTINCT) and "Earlier coverage" in text
    assert _run(settings, [analyst])["backlog_digests"] == 0 and len(mails(maildir)) == 1  # nothing more

    # a fresh matching article: one immediate email
    index_items(rt, [article("fresh", now() - timedelta(minutes=20), **FRESH)])
    second = _run(settings, [analyst])
    assert second["immediate"] == 1 and second["followups"] == 0, second
    root = mails(maildir)[-1]
    assert "New contingent" in root["Subject"] and root["To"] == "analyst@example.org"
    assert "rule" not in body_text(root).lower()  # no rule ids or scores in the analyst-facing text
    assert root["X-Newswatch-Why"]  # they are in the headers

    # a second outlet with a larger number and an official source: one follow-up, threaded
    index_items(rt, [article("followup", now() - timedelta(minutes=5), **FOLLOWUP)])
    third = _run(settings, [analyst])
    assert third["followups"] == 1 and third["immediate"] == 0, third
    update = mails(maildir)[-1]
    assert update["In-Reply-To"] == root["Message-ID"] and root["Message-ID"] in update["References"]
    assert "Update" in update["Subject"]
    assert "6,000" in body_text(update)
    # re-running sends nothing more
    again = _run(settings, [analyst])
    assert again["immediate"] == again["followups"] == again["backlog_digests"] == 0
    assert len(mails(maildir)) == 3


def test_rate_cap_folds_the_rest_into_one_email(settings_factory, smtp_sink) -> None:
    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port)
    rt = Runtime(settings)
    rt.ensure_indices()
    capped = Recipient(email="capped@example.org", topics=[TOPIC], rate_cap_per_hour=2)
    items = [article(f"d{i}", now() - timedelta(hours=2 + 6 * i), title=t, text=x, source=f"Outlet {i}")
             for i, (t, x) in enumerate(DISTINCT)]
    index_items(rt, items)
    out = _run(settings, [capped])
    assert out["stories"] >= 3  # (story clustering may join two of these Kursk reports)
    assert out["immediate"] == 2 and out["folded"] == out["stories"] - 2, out
    sent = mails(maildir)
    assert len(sent) == 3 and sum("more stories" in m["Subject"] for m in sent) == 1
    assert _run(settings, [capped])["immediate"] == 0 and len(mails(maildir)) == 3


def test_digest_exactly_once_per_period_and_empty_sends_nothing(settings_factory, smtp_sink) -> None:
    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port)
    rt = Runtime(settings)
    rt.ensure_indices()
    reader = Recipient(email="reader@example.org", topics=[TOPIC], modes=["digest"],
                       digest=DigestConfig(every="hourly"))
    index_items(rt, [article("fresh", now() - timedelta(minutes=30), **FRESH)])
    assert _run(settings, [reader])["queued_for_digest"] == 1 and not mails(maildir)
    later = now() + timedelta(hours=1)
    es = rt.es
    sent = alerts.run_digests(settings, es, lambda: smtp_connect(settings), [reader], now=lambda: later)
    assert sent == {"digests": 1, "stories": 1, "failed": 0, "uncertain": 0}
    again = alerts.run_digests(settings, es, lambda: smtp_connect(settings), [reader], now=lambda: later)
    assert again["digests"] == 0 and len(mails(maildir)) == 1
    [msg] = mails(maildir)
    assert "Hourly digest" in msg["Subject"] and "New contingent" in body_text(msg)
    # the next period has nothing queued: no email
    nxt = later + timedelta(hours=1)
    assert alerts.run_digests(settings, es, lambda: smtp_connect(settings), [reader], now=lambda: nxt)["digests"] == 0
    assert len(mails(maildir)) == 1


def test_one_spike_email_per_burst(settings_factory, smtp_sink) -> None:
    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port)
    rt = Runtime(settings)
    rt.ensure_indices()
    watcher = Recipient(email="watcher@example.org", topics=[TOPIC], modes=["digest"], spikes=True)
    quiet = [article(f"q{i}", old(3 + 2 * i), title=t, text=x) for i, (t, x) in enumerate(DISTINCT)]
    index_items(rt, quiet)  # a quiet fortnight: one article every other day
    assert _run(settings, [watcher])["spikes"] == 0
    burst = [article(f"b{i}-{j}", now() - timedelta(minutes=5 + 3 * j), title=f"{t} ({j})", text=x,
                     source=f"Outlet {j}") for j in range(2) for i, (t, x) in enumerate(DISTINCT)]
    index_items(rt, burst)  # ten in the last hour
    first = _run(settings, [watcher])
    assert first["spikes"] == 1 and first["immediate"] == 0, first
    [msg] = [m for m in mails(maildir) if "Spike" in m["Subject"]]
    html = body_text(msg, "html")
    assert "Articles per day" in html and "<table" in html  # the inline bar chart
    assert _run(settings, [watcher])["spikes"] == 0  # one email per burst, not per run
    assert len([m for m in mails(maildir) if "Spike" in m["Subject"]]) == 1


def test_feed_incident_one_email_when_it_opens_and_one_on_recovery(settings_factory, smtp_sink) -> None:
    from newswatch import index
    from newswatch.records import FeedState, doc_id

    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port)
    rt = Runtime(settings)
    rt.ensure_indices()
    ops = Recipient(email="ops@example.org", topics=[], modes=[], operator=True)
    url = "https://broken.example.org/feed.xml"

    def state(failures: int) -> None:
        doc = FeedState(url=url, name="Broken feed", consecutive_failures=failures, last_status="error" if failures
                        else "ok", last_error_class="HTTPStatusError" if failures else None, polls=10,
                        last_success=now().isoformat(), last_changed=now().isoformat(), items_per_day=4.0).doc()
        index.bulk_upsert(rt.es, index.index_name(settings, "feeds"), [(doc_id(url), doc)])
        rt.es.indices.refresh(index=index.index_name(settings, "feeds"))

    state(2)
    assert _run(settings, [ops])["feed_alerts"] == 0  # below the threshold
    state(6)
    assert _run(settings, [ops])["feed_alerts"] == 1
    state(7)
    assert _run(settings, [ops])["feed_alerts"] == 0  # still failing: no email per poll
    state(0)
    assert _run(settings, [ops])["feed_alerts"] == 1  # recovered
    assert _run(settings, [ops])["feed_alerts"] == 0
    subjects = [str(m["Subject"]) for m in mails(maildir)]
    assert len(subjects) == 2 and sorted(s.split(":")[0] for s in subjects) == [
        "[newswatch] Feed failing", "[newswatch] Feed recovered"]


def test_cli_alert_with_smtp_down_prints_counts_and_exits_1(settings_factory, tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import free_port

    settings = settings_factory(smtp_port=free_port())  # nothing listens there
    rt = Runtime(settings)
    rt.ensure_indices()
    index_items(rt, [article("fresh", now() - timedelta(minutes=20), **FRESH)])
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(f"recipients:\n  - email: analyst@example.org\n    topics: [{TOPIC}]\n")
    env = {**os.environ, "NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix,
           "NEWSWATCH_SMTP__PORT": str(settings.smtp.port), "NEWSWATCH_VAR_DIR": str(tmp_path / "var")}
    cli = [sys.executable, "-m", "newswatch.cli", "alert", "--recipients", str(recipients), "--json"]
    down = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 1, down
    counts = json.loads(down.stdout.splitlines()[0])
    assert counts["immediate"] == 0 and counts["failed"] == 1
    assert set(counts) >= {"immediate", "followups", "folded", "queued_for_digest", "failed"}
    assert len(down.stderr.strip().splitlines()) == 1 and "could not be sent" in down.stderr  # one line


def test_cli_digest_prints_its_counts_and_sends_nothing_before_the_period_ends(settings_factory, smtp_sink,
                                                                              tmp_path) -> None:
    """``newswatch digest [--period] --json``: ``{"digests", "stories", "failed"}``; a story queued in the
    current hour waits for the hour's end (``test_digest_exactly_once_per_period_and_empty_sends_nothing``
    sends it then, once)."""
    import json
    import os
    import subprocess
    import sys

    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port)
    rt = Runtime(settings)
    rt.ensure_indices()
    index_items(rt, [article("fresh", now() - timedelta(minutes=1), **FRESH)])
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(f"recipients:\n  - email: reader@example.org\n    topics: [{TOPIC}]\n    modes: [digest]\n"
                          "    digest: {every: hourly}\n")
    env = {**os.environ, "NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix,
           "NEWSWATCH_SMTP__PORT": str(port), "NEWSWATCH_VAR_DIR": str(tmp_path / "var")}
    base = [sys.executable, "-m", "newswatch.cli"]
    hour = now().replace(minute=0, second=0, microsecond=0)
    queued = subprocess.run([*base, "alert", "--recipients", str(recipients), "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert queued.returncode == 0, queued
    assert json.loads(queued.stdout.splitlines()[0])["queued_for_digest"] == 1
    for period in (["--period", "hourly"], []):
        out = subprocess.run([*base, "digest", *period, "--recipients", str(recipients), "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out
        counts = json.loads(out.stdout.splitlines()[0])
        if now() - hour >= timedelta(hours=1):  # the hour ended during the test: its digest was due
            assert counts["failed"] == 0 and counts["digests"] <= 1
            return
        assert {k: counts[k] for k in ("digests", "stories", "failed")} == {"digests": 0, "stories": 0, "failed": 0}
    assert not mails(maildir)
    bad = subprocess.run([*base, "digest", "--period", "monthly"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "monthly" in bad.stderr
