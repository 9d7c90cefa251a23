"""``flask consent``: checks on the consent stamps."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from iptor_site.consent import stamps
from iptor_site.core.extensions import db

consent_group = AppGroup("consent", help="Consent stamps.")


@consent_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Walk the consent stamps' hash chain; name the first stamp whose link breaks (exit 1)."""
    report = stamps.verify_chain(db.session)
    db.session.rollback()  # end the read
    for text_id in report.altered_texts:
        click.echo(f"BROKEN: consent wording #{text_id} no longer matches its SHA-256")
    if report.broken is not None:
        broken = report.broken
        click.echo(f"BROKEN at consent stamp #{broken.stamp_id} of {broken.created_at.isoformat()}: {broken.reason} "
                   f"({report.stamps} stamps before it verified)")
    if not report.ok:
        raise click.exceptions.Exit(1)
    click.echo(f"OK: {report.stamps} consent stamps chained ({report.erased} erased), head {report.head}")


def init_app(app: Flask) -> None:
    app.cli.add_command(consent_group)
