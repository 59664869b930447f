"""The ``newswatch`` command: every pipeline step without Airflow, the queries, and the local stack.

The CLI only parses options and formats output; the work is in ``newswatch.steps`` (through a
``Runtime``, exactly as the DAG tasks do) and in the query functions of ``newswatch.search``.

- ``pipeline``: poll, fetch, index, ingest, tag, reprocess, alert, init, reindex, staging prune
- ``query``: search, timeline, stories, claims, feeds status/discover, mail list
- ``stack``: stack up/down/status, demo-site, serve-mail
- ``topics``: tag, topics list/eval/explain (the topic authoring loop)

Listing commands take ``--json``; long work reports progress on stderr so stdout stays machine-readable.
A failure prints one line on stderr saying what and where, and exits 1 (2 for usage and config errors);
``-v`` adds the traceback.
"""

from __future__ import annotations

import logging
import sys

import click

from newswatch.cli._output import run_guarded


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        return run_guarded(lambda: super(_Group, self).invoke(ctx), verbose=bool(ctx.params.get("verbose")))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level on stderr; tracebacks on errors.")
@click.version_option(package_name="newswatch", prog_name="newswatch")
def main(verbose: bool) -> None:
    """newswatch: poll news feeds, extract and tag articles, index them for timeline search, alert."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # the client logs each retry with a traceback; the failure is reported in one line
        logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
        # each failed send is logged (the task log shows them); the CLI sums them up in its one line
        logging.getLogger("newswatch.alerts.outbox").setLevel(logging.CRITICAL)


from newswatch.cli import pipeline, query, stack, topics  # noqa: E402  (the verbs register on ``main``)

__all__ = ["main", "pipeline", "query", "stack", "topics"]
