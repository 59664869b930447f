"""What an alert email says and how it is built: rendered in headless Chromium, headers that cannot be
injected, no rule ids in the analyst-facing text, recipients validated on load, follow-up triggers, digest
periods."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newswatch.alerts import messages
from newswatch.alerts.digest import boundary
from newswatch.alerts.outbox import raw_bytes
from newswatch.alerts.run import changes_between
from newswatch.alerts.views import StoryView
from newswatch.config import DigestConfig, Recipient, load_recipients
from newswatch.errors import ConfigError
from newswatch.settings import Settings
from tests.browser import screenshot_html

EVIL_TITLE = "Kursk: 3,000 North Korean troops\r\nBcc: victim@example.com <script>alert(1)</script>"


def _view(title: str = "North Korean troops arrive in Kursk", url: str = "https://kyiv.example/a") -> StoryView:
    lead = {"id": "a1", "url": url, "title": title, "source": "Kyiv Wire", "lang": "en",
            "published": "2026-12-01T09:00:00+00:00", "fetched_at": "2026-12-01T09:02:00+00:00",
            "indexed_at": "2026-12-01T09:03:00+00:00", "level": "core", "score": 3.2,
            "evidence": ["Ukraine says about 3,000 North Korean soldiers arrived in Russia's Kursk region."],
            "matched_terms": ["North Korean soldiers", "Kursk"],
            "reasons": ["core: DPRK military personnel placed in Russia's war [rule dprk_troops_in_war, title]"],
            "claims": [{"count": 3000, "qualifier": "about", "unit": "soldiers", "source": "HUR (Ukraine)"}],
            "entity_names": ["Kursk", "HUR"]}
    second = {"id": "a2", "url": "javascript:alert(2)", "title": "북한군 쿠르스크 추가 파병", "source": "Seoul Daily",
              "lang": "ko", "published": "2026-12-01T10:00:00+00:00", "level": "core",
              "claims": [{"count": 6000, "qualifier": "up to", "unit": "명", "source": "NIS (South Korea)"}]}
    third = {"id": "a3", "url": "https://moscow.example/b", "title": "Северокорейские военные в Курской области",
             "source": "Vestnik", "lang": "ru", "published": "2026-12-01T11:00:00+00:00", "level": "related"}
    return StoryView("dprk_russia_troops", "s1", [lead, second, third])


def _parse(out: messages.Outgoing) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw_bytes(out.msg), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_story_email_renders_with_headline_highlights_and_links(tmp_path: Path) -> None:
    r = Recipient(email="analyst@example.org", name="Duty analyst")
    out = messages.story_message(Settings(), r, _view(), "DPRK troops in Russia", thread="t1")
    msg = _parse(out)
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    page = screenshot_html(html, tmp_path / "alert.png")
    assert (tmp_path / "alert.png").stat().st_size > 5000
    assert "North Korean troops arrive in Kursk" in page["text"]
    assert {"North Korean soldiers", "Kursk", "3,000"} <= set(page["marks"])  # evidence highlighted
    assert "https://kyiv.example/a" in page["links"] and "https://moscow.example/b" in page["links"]
    assert not [link for link in page["links"] if not link.startswith("http")]  # no javascript: links
    assert "about 3,000 soldiers — according to HUR (Ukraine)" in page["text"]
    assert "up to 6,000 명 — according to NIS (South Korea)" in page["text"]
    assert any("discover" in link for link in page["links"])  # the story in Kibana (no timeline URL set)
    # no rule ids or scores in the analyst-facing text; they are in the headers and the collapsed section
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "rule" not in text and "3.2" not in text and "dprk_troops_in_war" not in page["text"]
    assert "dprk_troops_in_war" in msg["X-Newswatch-Why"] and msg["X-Newswatch-Score"] == "3.2"
    assert msg["Auto-Submitted"] == "auto-generated" and "newswatch.alerts.local" in msg["List-Id"]
    assert msg["To"] == "Duty analyst <analyst@example.org>"  # one recipient per message


def test_titles_cannot_inject_headers_or_markup(tmp_path: Path) -> None:
    r = Recipient(email="analyst@example.org")
    out = messages.story_message(Settings(), r, _view(title=EVIL_TITLE), "DPRK troops in Russia", thread="t1")
    raw = raw_bytes(out.msg)
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    msg = _parse(out)
    assert msg["Bcc"] is None and "victim@example.com" in str(msg["Subject"])  # stayed inside the subject
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;" in html
    page = screenshot_html(html, tmp_path / "evil.png")
    assert "<script>alert(1)</script>" in page["text"]  # shown as text, not run


def test_followup_is_threaded_under_the_first_email() -> None:
    r = Recipient(email="analyst@example.org")
    first = _parse(messages.story_message(Settings(), r, _view(), "T", thread="t1"))
    second = _parse(messages.story_message(Settings(), r, _view(), "T", thread="t1", seq=1, changes=["x"]))
    third = _parse(messages.story_message(Settings(), r, _view(), "T", thread="t1", seq=2, changes=["y"]))
    assert second["In-Reply-To"] == first["Message-ID"] and third["In-Reply-To"] == second["Message-ID"]
    assert third["References"].split() == [first["Message-ID"], second["Message-ID"]]
    assert len({first["Message-ID"], second["Message-ID"], third["Message-ID"]}) == 3
    other = _parse(messages.story_message(Settings(), Recipient(email="b@example.org"), _view(), "T", thread="t2"))
    assert other["Message-ID"] != first["Message-ID"]  # per recipient


def test_followup_triggers() -> None:
    view = _view()
    steps = [3, 10, 30]
    assert changes_between(view.snapshot(), view, steps) == []  # nothing new: nothing sent
    before = {"languages": ["en"], "outlets": 1, "max_number": 3000, "sources": ["HUR (Ukraine)"]}
    changes = changes_between(before, view, steps)
    assert "now also reported in Korean" in changes and "now also reported in Russian" in changes
    assert "3 outlets now report it" in changes
    assert "a larger number is reported: 6,000" in changes
    assert "statement attributed to NIS (South Korea)" in changes
    assert changes_between({**view.snapshot(), "outlets": 2}, view, [10]) == []  # 2 → 3 crosses no step of [10]


def test_recipients_are_validated_on_load(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("recipients:\n  - email: not-an-address\n")
    with pytest.raises(ConfigError, match="not an email address"):
        load_recipients(bad)
    bad.write_text("recipients:\n  - email: a@example.org\n    digest: {every: daily, timezone: Mars/Olympus}\n")
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_recipients(bad)
    bad.write_text("recipients:\n  - email: a@example.org\n  - email: A@example.org\n")
    with pytest.raises(ConfigError, match="twice"):
        load_recipients(bad)
    bad.write_text("recipients:\n  - email: a@example.org\n    modes: [sms]\n")
    with pytest.raises(ConfigError, match="modes"):
        load_recipients(bad)
    shipped = load_recipients(Path(__file__).parents[2] / "config" / "recipients.yaml")
    assert any(r.operator for r in shipped) and any(r.has_digest for r in shipped)


def test_digest_period_boundaries_in_local_time() -> None:
    at = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)  # 08:30 in Berlin (UTC+1)
    daily = DigestConfig(every="daily", at="08:00", timezone="Europe/Berlin")
    assert boundary(daily, at) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    assert boundary(daily, datetime(2026, 12, 2, 6, 59, tzinfo=UTC)) == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    weekly = DigestConfig(every="weekly", at="09:00", timezone="Asia/Seoul", weekday="mon")
    assert boundary(weekly, at) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 09:00 KST
    assert boundary(DigestConfig(every="hourly"), at) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_feed_incident_conditions() -> None:
    from datetime import timedelta

    from newswatch.alerts.monitors import feed_conditions

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    s = Settings()
    healthy = {"url": "u", "consecutive_failures": 0, "items_per_day": 24.0,
               "last_changed": (now - timedelta(hours=3)).isoformat()}
    assert feed_conditions(healthy, {}, s, now) == {"failing": None, "silent": None, "extraction": None}
    failing = {**healthy, "consecutive_failures": 5, "last_error_class": "FetchTimeout"}
    assert "5 polls in a row" in str(feed_conditions(failing, {}, s, now)["failing"])
    # hourly feed quiet for 30 h (limit: max(8 × 1 h, 24 h)) is silent; a weekly one quiet for 30 h is not
    quiet = {**healthy, "last_changed": (now - timedelta(hours=30)).isoformat()}
    assert feed_conditions(quiet, {}, s, now)["silent"]
    assert not feed_conditions({**quiet, "items_per_day": 1 / 7}, {}, s, now)["silent"]
    # extraction collapsing after a healthy week; a feed that always failed is not a *new* incident
    assert feed_conditions(healthy, {"u": (1, 9, 50, 2)}, s, now)["extraction"]
    assert not feed_conditions(healthy, {"u": (1, 9, 5, 50)}, s, now)["extraction"]
    assert not feed_conditions(healthy, {"u": (1, 2, 50, 2)}, s, now)["extraction"]  # too few pages to judge
