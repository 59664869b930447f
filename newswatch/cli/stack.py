"""Local-stack verbs: the services of ``make demo`` and ``make test`` (``newswatch.localstack``)."""

from __future__ import annotations

import click

from newswatch.cli import main
from newswatch.cli._output import emit
from newswatch.settings import Settings


@main.command("serve-mail", hidden=True)
@click.option("--port", type=int, default=None)
def serve_mail(port: int | None) -> None:
    """Run the local SMTP sink in the foreground (used by `stack up`)."""
    import time

    from newswatch.localstack.mailsink import start_sink

    settings = Settings()
    controller = start_sink(settings.mail_dir, settings.smtp.host, port or settings.smtp.port)
    click.echo(f"SMTP sink on {settings.smtp.host}:{port or settings.smtp.port} → {settings.mail_dir}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


@main.command("demo-site")
@click.option("--port", type=int, default=None, help="Port (default NEWSWATCH_DEMO_PORT, 8765).")
def demo_site(port: int | None) -> None:
    """Serve the bundled offline sample news site in the foreground."""
    from newswatch.localstack.demosite import feed_urls, make_server

    settings = Settings()
    server = make_server(host="127.0.0.1", port=port if port is not None else settings.demo_port)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    click.echo(f"sample news site on {base}/")
    for f in feed_urls(base):
        click.echo(f"  feed: {f['url']}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


@main.group()
def stack() -> None:
    """The local services: Elasticsearch, PostgreSQL, Redis, SMTP sink, sample site, Airflow."""


@stack.command("up")
@click.option("--services", default="es,mail", show_default=True,
              help="Comma-separated: es,postgres,redis,mail,site,airflow (airflow with "
                   "NEWSWATCH_AIRFLOW_EXECUTOR=celery starts postgres and redis too).")
@click.option("--json", "as_json", is_flag=True)
def stack_up(services: str, as_json: bool) -> None:
    """Start services (Elasticsearch is downloaded from Maven Central on first use)."""
    from newswatch.localstack import services as st

    rows = []
    for row in st.up(Settings(), [s.strip() for s in services.split(",") if s.strip()]):
        rows.append(row)
        if not as_json:
            click.echo(f"{row['service']:<14} {row['status']:<16} "
                       + " ".join(f"{k}={v}" for k, v in row.items() if k not in ("service", "status")), err=True)
    if as_json:
        for r in rows:
            emit(r, True)


@stack.command("down")
@click.option("--services", default=None, help="Comma-separated subset (default: all).")
@click.option("--json", "as_json", is_flag=True)
def stack_down(services: str | None, as_json: bool) -> None:
    """Stop services started by `stack up`."""
    from newswatch.localstack import services as st

    rows = st.down(Settings(), services.split(",") if services else None)
    for r in rows:
        emit(r, True) if as_json else click.echo(f"{r['service']:<14} {r['status']}")


@stack.command("status")
@click.option("--json", "as_json", is_flag=True)
def stack_status(as_json: bool) -> None:
    """Show which local services run."""
    from newswatch.localstack import services as st

    for r in st.status(Settings()):
        emit(r, True) if as_json else click.echo(f"{r['service']:<14} {r['status']}")
