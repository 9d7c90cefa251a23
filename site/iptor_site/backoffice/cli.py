"""``flask staff`` and ``flask leads``: back-office accounts and the marketing export."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from iptor_site.backoffice import accounts
from iptor_site.core import audit, clock
from iptor_site.core.audit import audit as write_audit
from iptor_site.core.extensions import db
from iptor_site.core.settings import ConfigError, checked_site_url
from iptor_site.core.staff import ROLES
from iptor_site.demo import salespeople
from iptor_site.demo.models import SalesTimeOff
from iptor_site.privacy_requests import lifecycle

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
        user = accounts.create_staff(db.session, email, password, role, clock.now())
        db.session.flush()
        audit.audit(db.session, "command line", "staff-create", f"staff #{user.id}", role)
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


    if site_url:
        try:
            # The links are built by rendering.public_url, as in every mail, on this base.
            current_app.config["SITE_URL"] = checked_site_url(site_url)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--site-url") from exc
    output.write(accounts.export_csv(db.session, lifecycle.unsubscribe_url))
    audit.audit(db.session, "command line", "export-leads")
    db.session.commit()


# --- the salespeople's working hours, time off and calendar (`flask staff hours|off|calendar`) ---

def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date such as 2026-12-21", param_hint=name) from None


def _done(action: str, user, details: str) -> None:
    write_audit(db.session, "command line", action, f"staff #{user.id}", details)
    db.session.commit()


@staff.command("hours")
@click.argument("email")
@click.argument("hours")
@click.option("--tz", "time_zone", help="IANA time zone of the hours (default: the one set, else DEMO_TIMEZONE).")
@click.option("--meeting-url", help="The salesperson's meeting link, given to prospects; '' removes it.")
@with_appcontext
def hours_command(email: str, hours: str, time_zone: str | None, meeting_url: str | None) -> None:
    """Set a salesperson's weekly hours: "mon-fri 09:00-17:00", "mon-thu 09:00-12:00 13:00-17:00; fri 09:00-12:00"."""
    try:
        user = salespeople.salesperson(db.session, email)
        profile = salespeople.set_hours(db.session, user, hours, time_zone, meeting_url)
    except salespeople.SalesError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = f"{profile.hours} ({profile.time_zone}); meeting link {profile.meeting_url or 'none'}"
    _done("sales-hours", user, summary)
    click.echo(f"{user.email}: {summary}")


@staff.command("off")
@click.argument("email")
@click.argument("first")
@click.argument("last", required=False)
@click.option("--remove", is_flag=True, help="Remove the time off that starts on FIRST instead.")
@with_appcontext
def off_command(email: str, first: str, last: str | None, remove: bool) -> None:
    """Time off from FIRST to LAST (inclusive; ISO dates, LAST defaults to FIRST)."""
    start = _day(first, "FIRST")
    end = _day(last, "LAST") if last else None
    try:
        user = salespeople.salesperson(db.session, email)
        if remove:
            ids = db.session.scalars(select(SalesTimeOff.id).where(SalesTimeOff.staff_id == user.id,
                                                                  SalesTimeOff.first_day == start)).all()
            if not ids:
                raise salespeople.SalesError(f"{user.email} has no time off starting on {start.isoformat()}")
            for ident in ids:
                salespeople.remove_time_off(db.session, user, ident)
            _done("sales-time-off-remove", user, start.isoformat())
            click.echo(f"{user.email}: time off from {start.isoformat()} removed")
            return
        row = salespeople.add_time_off(db.session, user, start, end)
    except salespeople.SalesError as exc:
        raise click.ClickException(str(exc)) from exc
    span = f"{row.first_day.isoformat()} to {row.last_day.isoformat()}"
    _done("sales-time-off", user, span)
    click.echo(f"{user.email}: time off {span}")


@staff.command("calendar")
@click.argument("email")
@click.option("--url", help="The CalDAV calendar's address (the collection, ending in /).")
@click.option("--username", default="", help="User name at the calendar server.")
@click.option("--password-stdin", is_flag=True, help="Read the calendar password from standard input.")
@click.option("--remove", is_flag=True, help="Disconnect the calendar.")
@with_appcontext
def calendar_command(email: str, url: str | None, username: str, password_stdin: bool, remove: bool) -> None:
    """Connect a salesperson's CalDAV calendar; the credentials are stored encrypted."""
    if not remove and not url:
        raise click.UsageError("give --url, or --remove")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else ""
    try:
        user = salespeople.salesperson(db.session, email)
        salespeople.set_calendar(db.session, user, None if remove else url, username, password)
    except salespeople.SalesError as exc:
        raise click.ClickException(str(exc)) from exc
    details = "removed" if remove else f"{url} as {username or '(no user name)'}"
    _done("sales-calendar", user, details)
    click.echo(f"{user.email}: calendar {details}")


def init_app(app: Flask) -> None:
    app.cli.add_command(staff)
    app.cli.add_command(leads_group)

