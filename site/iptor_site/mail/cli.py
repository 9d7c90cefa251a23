"""``flask outbox``: send the mail waiting in the outbox, once (cron) or for as long as it runs (the worker)."""

from __future__ import annotations

import signal
import threading

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo, pass_script_info, with_appcontext

from iptor_site.core.extensions import db
from iptor_site.mail import outbox

commands = AppGroup("outbox", help="Send the mail waiting in the outbox.")


@commands.command("send")
@with_appcontext
def send_command() -> None:
    """Send every message that is due; failures are retried later with back-off."""
    result = outbox.deliver(db.session)
    click.echo(f"sent {result['sent']}, failed {result['failed']}")


def send_due(app: Flask) -> None:
    """One round of the worker: send what is due, stopping at the first failure (the
    server is failing: the rest waits out its back-off). An error is logged, never
    raised: what was not sent stays in the outbox for the next round."""
    with app.app_context():
        try:
            outbox.deliver(db.session, stop_on_failure=True)
        except Exception:  # noqa: BLE001 - a database or server hiccup must not end the worker
            db.session.rollback()
            app.logger.exception("sending the outbox failed; trying again")


def work(app: Flask, stop: threading.Event, interval: float) -> None:
    """Run ``send_due`` every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        send_due(app)
        stop.wait(interval)


@commands.command("work")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between looks at the outbox.")
@pass_script_info
def work_command(info: ScriptInfo, interval: float) -> None:
    """Send mail as it arrives, until stopped (SIGTERM or Ctrl-C): the worker a
    systemd service (or `make run`) keeps running."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"outbox worker: sending due mail every {interval:g} s")
    work(info.load_app(), stop, interval)
    click.echo("outbox worker stopped")


def init_app(app: Flask) -> None:
    """Register ``flask outbox``."""
    app.cli.add_command(commands)
