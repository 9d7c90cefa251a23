"""`flask outbox work`: the long-running outbox worker.

Sends whatever is due every few seconds with ``mail.deliver`` until it is stopped
(SIGTERM or Ctrl-C end it after the batch in hand). Several may run at once: each
batch is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so no message is
sent twice. (Placed apart from mail.py so the lead can move it into the mail
package; main's own worker replaces it at merge.)
"""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from .mail import deliver, outbox


@outbox.command("work")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between looks at the outbox.")
@with_appcontext
def work_command(interval: float) -> None:
    """Send due mail every INTERVAL seconds until stopped; failures are retried with back-off."""
    from .extensions import db

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"outbox worker started, every {interval:g}s")
    while not stop.is_set():
        try:
            result = deliver(db.session)
        except Exception:  # noqa: BLE001 - a database or mail server that is down: try again later
            db.session.rollback()
            current_app.logger.exception("outbox worker: sending failed; trying again")
        else:
            if result["sent"] or result["failed"]:
                click.echo(f"sent {result['sent']}, failed {result['failed']}")
        finally:
            db.session.close()
        stop.wait(interval)
    click.echo("outbox worker stopped")
