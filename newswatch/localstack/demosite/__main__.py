"""Serve the sample news site until Ctrl-C: ``python -m newswatch.localstack.demosite --port 8765``."""

from __future__ import annotations

import argparse
from pathlib import Path

from newswatch.localstack.demosite.content import expected_articles, feed_urls
from newswatch.localstack.demosite.live import LIVE_DIR_ENV
from newswatch.localstack.demosite.server import DEFAULT_PORT, make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newswatch.localstack.demosite", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 for containers)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--live-dir",
        type=Path,
        default=None,
        help=f"folder that keeps live articles across restarts (default ${LIVE_DIR_ENV}; unset: memory only)",
    )
    args = parser.parse_args(argv)

    server = make_server(host=args.host, port=args.port, live_dir=args.live_dir)
    base = server.base_url
    print(f"Sample news site on {base}/ ({len(expected_articles())} articles). Feeds:", flush=True)
    for feed in feed_urls(base):
        print(f"  {feed['url']}  [{feed['lang']}] {feed['name']}", flush=True)
    kept = f"kept in {server.live.state_dir}" if server.live.state_dir else "memory only"
    print(f"Live articles: POST {base}/_live/publish, GET {base}/_live ({kept}).", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.", flush=True)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
