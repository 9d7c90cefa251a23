"""Saving a form submission as a lead: one transaction with its consent stamp and mail."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from iptor_site.consent import stamps
from iptor_site.core.locales import force_locale
from iptor_site.demo import calendar_sync, manage, slots
from iptor_site.demo.forms import DEMO_FORM_VERSION
from iptor_site.demo.models import DemoBooking
from iptor_site.leads.people import TEAM_LOCALE, _add, _insert_lead, _lead_values, _row_and_lead
from iptor_site.mail import messages, outbox


class SlotTaken(Exception):
    """Every seat of the chosen slot was booked first by someone else."""


def demo_calendar_file(booking: DemoBooking) -> bytes:
    """The booking as an invitation (.ics), in the current locale (see ``demo.manage.invitation``)."""
    return manage.invitation(booking)


_load_booking = _row_and_lead(DemoBooking, "booking_id")


@outbox.recipe("demo-confirmation", manage.load_booking)
def _demo_confirmation(booking: DemoBooking, params: dict) -> messages.Outgoing:
    """The person's confirmation, in their language and time zone, with the invitation."""
    lead = booking.lead
    with force_locale(lead.locale):
        context = manage.person_context(booking)  # when, salesperson, meeting link, manage link
        return messages.build_message(
            to_name=lead.name,
            to_address=lead.email,
            subject=gettext("Your Iptor multiflex demo on %(date)s", date=context["when"]["date"]),
            body=render_template("demo/mail/demo_confirmation.txt", lead=lead, booking=booking, **context),
            locale=lead.locale,
            reply_to=current_app.config["MAIL_SALES_TEAM"],
            attachments=(manage.invitation_attachment(manage.invitation(booking), booking.status == "cancelled"),),
        )


@outbox.recipe("demo-team", _load_booking)
def _demo_team(booking: DemoBooking, params: dict) -> messages.Outgoing:
    """The sales team's notice, in English and the team's time zone."""
    with force_locale(TEAM_LOCALE):
        team_when = slots.describe(booking.slot_start, current_app.config["DEMO_TIMEZONE"],
                                   booking.duration_minutes)
        return messages.build_message(
            to_name=None,
            to_address=current_app.config["MAIL_SALES_TEAM"],
            subject=f"New demo booking #{booking.id}: {team_when['date']} {team_when['start']}",
            body=render_template("demo/mail/demo_team.txt", lead=booking.lead, booking=booking, when=team_when),
            locale=TEAM_LOCALE,
        )


def _demo_mails(session: Session, booking_id: int, lead_id: int, address: str) -> None:
    outbox.enqueue_recipe(session, "demo-confirmation", {"booking_id": booking_id}, to_address=address,
                        kind="demo-confirmation", lead_id=lead_id)
    outbox.enqueue_recipe(session, "demo-team", {"booking_id": booking_id},
                        to_address=current_app.config["MAIL_SALES_TEAM"], kind="demo-team", lead_id=lead_id)


def book_demo(session: Session, form, *, slot: datetime, places: list[tuple[int, int | None]],
              policy_version: str, now: datetime) -> int:
    """Add the lead, its consent stamp, the booking and its mail to the caller's
    transaction; returns the booking's id.

    ``places`` are ``assignment.places`` for the slot: a free salesperson's place
    (fewest upcoming demos first), or a free seat when nobody is set up to give demos.
    Each is tried in a savepoint; the database's unique indexes decide who gets it.
    Raises SlotTaken when all are gone.
    """
    lead = _lead_values(form, "demo", now)
    booking = {
        "slot_start": slot,
        "duration_minutes": current_app.config["DEMO_SLOT_MINUTES"],
        "time_zone": form.time_zone.data,
        "company": form.company.data,
        "country": form.country.data,
        "phone": form.phone.data or None,
        "users": int(form.users.data),
        "message": form.message.data or None,
    }
    stamp = stamps.prepare_stamp(form, form_name="demo", form_version=DEMO_FORM_VERSION,
                                  policy_version=policy_version, now=now)
    for seat, salesperson_id in places:
        try:
            with session.begin_nested():
                lead_id = _insert_lead(session, lead)
                row = DemoBooking(**booking, lead_id=lead_id, seat=seat, salesperson_id=salesperson_id)
                booking_id = _add(session, row)
        except IntegrityError:  # the place was taken meanwhile
            continue
        stamps.write_stamp(session, lead_id, stamp)
        _demo_mails(session, booking_id, lead_id, lead["email"])
        manage.schedule_reminders(session, booking_id, lead_id, lead["email"], slot, now)
        calendar_sync.booking_changed(session, row)
        return booking_id
    raise SlotTaken()


