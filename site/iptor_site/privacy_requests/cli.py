"""``flask privacy`` and ``flask retention``: the privacy team's command-line tools."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from iptor_site.core import audit, clock, scrubbing
from iptor_site.core.extensions import db
from iptor_site.core.staff import StaffUser
from iptor_site.privacy_requests import erasure, lifecycle, retention
from iptor_site.privacy_requests.models import PrivacyInquiry

privacy = AppGroup("privacy", help="Data-subject requests.")
retention_group = AppGroup("retention", help="Retention periods.")


@privacy.command("overdue")
@click.option("--within", default=7, show_default=True, help="Also list requests due within this many days.")
@with_appcontext
def overdue_command(within: int) -> None:
    """List open requests past or near their due date."""
    today = clock.now().date()
    rows = lifecycle.overdue(db.session, today, within)
    for inquiry in rows:
        late = (today - inquiry.due_on).days
        state = f"OVERDUE by {late} days" if late > 0 else f"due in {-late} days"
        click.echo(f"#{inquiry.id}\t{inquiry.request_type}\t{inquiry.status}\tdue {inquiry.due_on}\t{state}")
    click.echo(f"{len(rows)} request(s)")


@privacy.command("extend")
@click.argument("number", type=int)
@click.option("--months", type=click.IntRange(1, 2), default=2, show_default=True)
@click.option("--reason", required=True)
@click.option("--by", "actor", required=True, help="The staff member who decides (their account e-mail).")
@with_appcontext
def extend_command(number: int, months: int, reason: str, actor: str) -> None:
    """Extend request NUMBER's deadline, with a reason; the person is told and the
    audit log records who extended it. Refused once the due date has passed."""
    staff = db.session.scalar(select(StaffUser).where(StaffUser.email == actor.strip().casefold()))
    if staff is None or not staff.active:
        raise click.ClickException(f"--by {actor}: no active staff account has this e-mail address")
    inquiry = db.session.get(PrivacyInquiry, number)
    if inquiry is None:
        raise click.ClickException(f"no request #{number}")
    now = clock.now()
    try:
        lifecycle.extend(db.session, inquiry, months=months, reason=reason, actor=staff.email, now=now)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.audit(db.session, staff.email, "request-extend", inquiry.audit_target,
                     f"{reason.strip()} (command line; now due {inquiry.due_on.isoformat()})", now=now)
    db.session.commit()  # the notice to the person leaves with the outbox worker
    click.echo(f"#{number} ({inquiry.reference}) now due {inquiry.due_on}")


@privacy.command("vacuum")
@with_appcontext
def vacuum_command() -> None:
    """Make deleted rows unreadable on disk: VACUUM FULL on PostgreSQL, VACUUM and a checkpoint on SQLite."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        scrubbing.rewrite_tables(engine, erasure.PERSONAL_TABLES + erasure.LOGS)
    else:
        scrubbing.vacuum_sqlite(engine)
    click.echo("vacuumed")


@retention_group.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete what is older than its retention period and print the counts."""
    counts = retention.purge(db.session, clock.now())
    db.session.commit()
    scrubbing.make_unreadable(db.session, erasure.PERSONAL_TABLES + erasure.LOGS)
    for kind, number in counts.items():
        click.echo(f"{kind}: {number}")


def init_app(app: Flask) -> None:
    app.cli.add_command(privacy)
    app.cli.add_command(retention_group)
