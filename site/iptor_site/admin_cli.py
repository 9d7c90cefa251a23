"""``flask staff`` and ``flask leads``: back-office accounts and the marketing export."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from . import backoffice, dsr, slots
from .extensions import db
from .models.staff import ROLES

staff = AppGroup("staff", help="Back-office accounts.")
leads_group = AppGroup("leads", help="Leads.")


@staff.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_command(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account; the password is asked for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = backoffice.create_staff(db.session, email, password, role, slots.now())
        db.session.flush()
        backoffice.audit(db.session, "command line", "staff-create", f"staff #{user.id}", role)
        db.session.commit()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {user.email} ({role})")


@leads_group.command("export")
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--site-url", help="Base URL for the unsubscribe links; by default the SITE_URL setting.")
@with_appcontext
def export_command(output, site_url: str | None) -> None:
    """The marketing export as CSV (the same as the back-office's)."""
    from flask import current_app

    from .config import ConfigError, checked_site_url

    if site_url:
        try:
            # The links are built by rendering.public_url, as in every mail, on this base.
            current_app.config["SITE_URL"] = checked_site_url(site_url)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--site-url") from exc
    output.write(backoffice.export_csv(db.session, dsr.unsubscribe_url))
    backoffice.audit(db.session, "command line", "export-leads")
    db.session.commit()


def init_app(app: Flask) -> None:
    app.cli.add_command(staff)
    app.cli.add_command(leads_group)


from .demo import staff_cli  # noqa: E402, F401 - adds the salespeople's commands to ``flask staff``
