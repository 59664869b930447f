"""Verbs that need no service: tag, cluster, and topics list / eval / explain (the topic authoring loop)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from newswatch.cli import main
from newswatch.cli._output import emit, emit_rows


def _settings() -> Any:
    from newswatch.settings import Settings

    return Settings()


def _topic(name: str | None) -> Any:
    """A topic by name (an enabled or disabled file of config/topics/) or by YAML path."""
    from newswatch.tagging import load_topic

    settings = _settings()
    return load_topic(name or settings.topic, config_dir=None if name and name.endswith((".yaml", ".yml"))
                      else settings.config_dir)


def json_lines(stream: Any) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object or None, error or None) for each non-empty line."""
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, None, f"invalid JSON: {exc}"
            continue
        if not isinstance(item, dict):
            yield lineno, None, "not a JSON object"
            continue
        yield lineno, item, None


def _result(res: Any) -> dict[str, Any]:
    return {"level": res.level, "score": round(float(res.score), 4), "matches": sorted({m.term for m in res.matches}),
            "evidence": res.evidence, "reasons": res.reasons}


@main.command()
@click.option("--topic", "topic_name", help="Only this topic (name or YAML path); default: every enabled topic.")
def tag(topic_name: str | None) -> None:
    """Tag JSON Lines from stdin ({id, title, text, lang?, published?}); one JSON line out per input.

    With --topic NAME: that topic's level, score and matches at the top level. Without: every enabled topic's
    result under `topics`, and the default topic's fields at the top level. A malformed line gets
    {"id": null, "line": N, "error": …} and the others are tagged."""
    from newswatch.tagging import load_topics, tag_article

    settings = _settings()
    single = _topic(topic_name) if topic_name else None
    topics = None if single else load_topics(settings.config_dir, default=settings.topic)
    for lineno, item, error in json_lines(sys.stdin):
        if item is None:
            click.echo(json.dumps({"id": None, "line": lineno, "error": error}))
            continue
        title, text = str(item.get("title") or ""), str(item.get("text") or "")
        if single is not None:
            res = tag_article(single, title=title, text=text, lang=item.get("lang"))
            out: dict[str, Any] = {"id": item.get("id"), "topic": single.name, **_result(res)}
        else:
            assert topics is not None
            results = topics.tag(title, text, item.get("lang"))
            res = results[topics.default]
            out = {"id": item.get("id"), "topic": topics.default, **_result(res),
                   "topics": {name: _result(r) for name, r in results.items()}}
        out["entities"] = [e.name for e in res.entities]
        out["claims"] = [c.model_dump(mode="json") for c in res.claims]
        click.echo(json.dumps(out, ensure_ascii=False))


@main.group()
def topics() -> None:
    """Topics: list them, score one on labeled items, explain a decision rule by rule."""


@topics.command("list")
@click.option("--json", "as_json", is_flag=True)
def topics_list(as_json: bool) -> None:
    """Every topic file in config/topics/, enabled or not, with its size."""
    from newswatch.tagging import load_topic
    from newswatch.tagging.topicset import topic_files

    settings = _settings()
    rows = []
    for path in topic_files(settings.config_dir):
        t = load_topic(path.stem, config_dir=settings.config_dir)
        rows.append({"name": t.name, "title": t.title, "version": t.version, "enabled": t.config.enabled,
                     "default": t.name == settings.topic, "concepts": len(t.config.concepts),
                     "rules": len(t.config.rules), "patterns": t.index.size, "file": str(path)})
    emit_rows(rows, as_json, lambda r: (
        f"{r['name']:<24} {'on ' if r['enabled'] else 'off'}{' *' if r['default'] else '  '} v{r['version']:<4} "
        f"{r['rules']:>3} rules {r['patterns']:>5} patterns  {r['title']}"))


@topics.command("eval")
@click.option("--topic", "topic_name", required=True, help="Topic name or YAML path.")
@click.option("--labels", "labels", required=True, type=click.Path(exists=True, dir_okay=False),
              help="JSON Lines of labeled items: id, title, text, lang?, label (core|related|none), category?")
@click.option("--json", "as_json", is_flag=True)
def topics_eval(topic_name: str, labels: str, as_json: bool) -> None:
    """Precision, recall and F1 for core and core+related, false-positive rates, and every error explained."""
    from newswatch.errors import ConfigError
    from newswatch.tagging.explain import evaluate_labels

    items = []
    with Path(labels).open(encoding="utf-8") as fh:
        for lineno, item, error in json_lines(fh):
            if item is None:
                raise ConfigError(f"{labels}: line {lineno}: {error}")
            items.append(item)
    try:
        report = evaluate_labels(_topic(topic_name), items)
    except ValueError as exc:
        raise ConfigError(f"{labels}: {exc}") from exc
    if as_json:
        emit(report, True)
        return
    c, a = report["core"], report["core_related"]
    click.echo(f"{report['topic']} on {labels}: {report['n']} items ({report['negatives']} negatives, "
               f"{report['lookalikes']} look-alikes)")
    click.echo(f"  core          P {c['precision']:.3f}  R {c['recall']:.3f}  F1 {c['f1']:.3f}")
    click.echo(f"  core+related  P {a['precision']:.3f}  R {a['recall']:.3f}  F1 {a['f1']:.3f}")
    click.echo(f"  false positives: {report['fp_rate_negatives']:.1%} of negatives, "
               f"{report['fp_rate_lookalikes']:.1%} of look-alikes")
    for e in report["errors"]:
        click.echo(f"\n  {e['kind'].upper():<11} {e['id']} [{e['lang'] or '?'}] labeled {e['label']}, "
                   f"tagged {e['predicted']}: {e['title']}")
        click.echo(f"    evidence: {e['evidence']}")
        click.echo(f"    rule {e['rule']}: {e['rule_status']}  terms {json.dumps(e['terms'], ensure_ascii=False)}")


@topics.command("explain")
@click.option("--topic", "topic_name", required=True, help="Topic name or YAML path.")
@click.option("--title", default=None, help="Title (default: read one JSON object {title, text} from stdin).")
@click.option("--text", default=None, help="Text.")
@click.option("--json", "as_json", is_flag=True)
def topics_explain(topic_name: str, title: str | None, text: str | None, as_json: bool) -> None:
    """Show, rule by rule, what matched in one item (the best window of each rule)."""
    from newswatch.errors import ConfigError
    from newswatch.tagging.explain import explain

    if title is None and text is None:
        item = next((it for _, it, _ in json_lines(sys.stdin) if it is not None), None)
        if item is None:
            raise ConfigError("topics explain: give --title/--text or one JSON object on stdin")
        title, text = str(item.get("title") or ""), str(item.get("text") or "")
    ex = explain(_topic(topic_name), title or "", text or "")
    if as_json:
        emit(ex, True)
        return
    click.echo(f"{ex['topic']}: {ex['level']} (score {ex['score']})")
    for r in ex["rules"]:
        mark = "✓" if r["status"] == "fired" else "·"
        click.echo(f"  {mark} {r['rule']:<28} {r['level']:<8} {r['status']}")
        if r["terms"]:
            click.echo(f"      terms: {json.dumps(r['terms'], ensure_ascii=False)}")
        if r["sentence"]:
            click.echo(f"      in: {r['sentence'][:160]}")


@main.command()
def cluster() -> None:
    """Stories for JSON Lines on stdin ({id, title, text, lang?, published?, source?, url?}), no service
    needed: one line out per input, in input order, {"id", "story"} (equal values = same story), by the
    pipeline's own algorithm and thresholds. A malformed line gets {"id": null, "line": N, "error": …}."""
    from newswatch.stories import assign, prepare

    rows: list[tuple[int, dict[str, Any] | None, str | None]] = []
    for lineno, item, error in json_lines(sys.stdin):
        if item is not None and item.get("id") is None:
            item, error = None, "no 'id'"
        rows.append((lineno, item, error))
    good = [item for _, item, _ in rows if item is not None]
    docs = prepare(good)
    assign(docs)
    story = {d["id"]: d["story_id"] for d in docs}
    for lineno, item, error in rows:
        if item is None:
            click.echo(json.dumps({"id": None, "line": lineno, "error": error}))
        else:
            click.echo(json.dumps({"id": item["id"], "story": story[str(item["id"])]}, ensure_ascii=False))
