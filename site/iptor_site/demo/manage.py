"""The prospect's own booking: the "manage my booking" link, moving and cancelling
(each decided by one conditional UPDATE), the invitation file, reminders, and the
mails that tell the prospect and the sales team of every change."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from iptor_site.core import clock
from iptor_site.core.locales import force_locale
from iptor_site.core.rendering import public_url
from iptor_site.demo import calendar_file, calendar_sync, slots
from iptor_site.demo.models import DemoBooking
from iptor_site.leads import people
from iptor_site.leads.models import Lead
from iptor_site.mail import messages, outbox
from iptor_site.mail.models import OutboxMessage

#: Hours before the demo at which the prospect is reminded.
REMINDER_HOURS = (24, 1)
REMINDER_KINDS = tuple(f"demo-reminder-{hours}h" for hours in REMINDER_HOURS)
SUBJECTS = {
    "moved": _l("Your Iptor multiflex demo has been moved to %(date)s"),
    "cancelled": _l("Your Iptor multiflex demo on %(date)s has been cancelled"),
    "reminder-24": _l("Reminder: your Iptor multiflex demo on %(date)s"),
    "reminder-1": _l("Reminder: your Iptor multiflex demo starts in one hour"),
    "existing": _l("Your Iptor multiflex demo on %(date)s"),
}
TEAM_LOCALE = "en"
_SALT = "iptor-demo-manage"


# --- the link -------------------------------------------------------------------------

def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def manage_token(booking_id: int) -> str:
    """The token of the booking's "manage my booking" link: signed with SECRET_KEY for
    this purpose only (its own salt), naming the booking; nothing is stored."""
    return _signer().dumps({"booking": booking_id})


def manage_url(booking_id: int, lang: str) -> str:
    with force_locale(lang):
        return public_url("demo_manage.manage", lang=lang, token=manage_token(booking_id))


def booking_for(session: Session, token: str) -> DemoBooking | None:
    """The booking a token names, or None for a token this site did not sign."""
    try:
        payload = _signer().loads(token)
    except BadSignature:
        return None
    booking_id = payload.get("booking") if isinstance(payload, dict) else None
    if not isinstance(booking_id, int):
        return None
    return session.get(DemoBooking, booking_id, options=[joinedload(DemoBooking.lead)])


def link_valid(booking: DemoBooking, now: datetime) -> bool:
    """A link works until the meeting starts."""
    return booking.slot_start > now


# --- people ------------------------------------------------------------------------------

def salesperson(booking) -> object | None:
    """The salesperson giving the demo, where the booking names one."""
    return getattr(booking, "salesperson", None)


def meeting_url(booking) -> str | None:
    """The meeting link: the booking's own, else its salesperson's, when either has one."""
    person = salesperson(booking)
    return getattr(booking, "meeting_url", None) or getattr(person, "meeting_url", None) or None


def _person_name(person) -> str | None:
    for attribute in ("display_name", "name", "full_name"):
        value = getattr(person, attribute, None)
        if value:
            return value
    return None


def organizer(booking) -> tuple[str, str | None]:
    """The invitation's organizer: the salesperson when set, else the sales team."""
    person = salesperson(booking)
    address = getattr(person, "email", None)
    if address:
        return address, _person_name(person)
    return current_app.config["MAIL_SALES_TEAM"], None


# --- the invitation ------------------------------------------------------------------------

def invitation(booking: DemoBooking, *, start: datetime | None = None, sequence: int | None = None,
               cancelled: bool | None = None, stamp: datetime | None = None) -> bytes:
    """The booking as an iTIP invitation (in the current locale): REQUEST while it stands,
    CANCEL once cancelled; ``start``/``sequence``/``cancelled`` describe the version a
    mail announces when that is not the booking's current state."""
    start = start or booking.slot_start
    cancelled = booking.status == "cancelled" if cancelled is None else cancelled
    details = slots.describe(start, booking.time_zone, booking.duration_minutes)
    address, name = organizer(booking)
    return calendar_file.event(
        uid=f"demo-{booking.id}@iptor.com",
        start=start,
        minutes=booking.duration_minutes,
        summary=gettext("Iptor multiflex demo"),
        description=gettext(
            "Your demo of the Iptor multiflex Base Module on %(date)s, %(start)s–%(end)s, %(zone)s.", **details),
        organizer=address,
        organizer_name=name,
        attendee=booking.lead.email,
        attendee_name=booking.lead.name,
        url=meeting_url(booking),
        stamp=stamp or booking.changed_at or booking.lead.created_at,
        method="CANCEL" if cancelled else "REQUEST",
        sequence=booking.sequence if sequence is None else sequence,
    )


def invitation_attachment(data: bytes, cancelled: bool) -> tuple[str, str, bytes]:
    method = "CANCEL" if cancelled else "REQUEST"
    return ("iptor-demo.ics", f"text/calendar; method={method}", data)


# --- mails ----------------------------------------------------------------------------------

def load_booking(session: Session, params: dict):
    """A recipe's loader: the booking with its lead, read at once."""
    return session.get(DemoBooking, params["booking_id"],
                       options=[joinedload(DemoBooking.lead)])


def person_context(booking: DemoBooking, start: datetime | None = None) -> dict:
    """What the person's demo mails show: when, with whom, where, and the manage link."""
    return {
        "when": slots.describe(start or booking.slot_start, booking.time_zone, booking.duration_minutes),
        "salesperson_name": _person_name(salesperson(booking)) if salesperson(booking) else None,
        "meeting_url": meeting_url(booking),
        "manage_url": manage_url(booking.id, booking.lead.locale),
        "minutes": booking.duration_minutes,
    }


def _person_mail(booking: DemoBooking, template: str, subject: str, *, start: datetime, sequence: int,
                 cancelled: bool, **extra) -> messages.Outgoing:
    lead = booking.lead
    with force_locale(lead.locale):
        context = person_context(booking, start) | extra
        data = invitation(booking, start=start, sequence=sequence, cancelled=cancelled)
        return messages.build_message(
            to_name=lead.name,
            to_address=lead.email,
            subject=str(SUBJECTS[subject]) % {"date": context["when"]["date"]},
            body=render_template(template, lead=lead, booking=booking, **context),
            locale=lead.locale,
            reply_to=current_app.config["MAIL_SALES_TEAM"],
            attachments=(invitation_attachment(data, cancelled),),
        )


@outbox.recipe("demo-moved", load_booking)
def _moved_mail(booking: DemoBooking, params: dict) -> messages.Outgoing:
    return _person_mail(booking, "demo/mail/demo_moved.txt", "moved",
                        start=slots.parse_slot(params["slot"]), sequence=params["sequence"], cancelled=False)


@outbox.recipe("demo-cancelled-by-prospect", load_booking)
def _cancelled_mail(booking: DemoBooking, params: dict) -> messages.Outgoing:
    return _person_mail(booking, "demo/mail/demo_cancelled_by_you.txt", "cancelled",
                        start=slots.parse_slot(params["slot"]), sequence=params["sequence"], cancelled=True)


@outbox.recipe("demo-cancelled-by-team", load_booking)
def _cancelled_by_team_mail(booking: DemoBooking, params: dict) -> messages.Outgoing:
    return _person_mail(booking, "demo/mail/demo_cancelled.txt", "cancelled",
                        start=slots.parse_slot(params["slot"]), sequence=params["sequence"], cancelled=True)


@outbox.recipe("demo-reminder", load_booking)
def _reminder_mail(booking: DemoBooking, params: dict) -> messages.Outgoing:
    start = slots.parse_slot(params["slot"])
    if booking.status != "booked" or booking.slot_start != start or clock.now() >= start:
        # Moved or cancelled after this reminder was claimed, or sent so late that the demo
        # has begun (the worker was down): never remind of a stale time.
        raise outbox.Obsolete()
    return _person_mail(booking, "demo/mail/demo_reminder.txt", f"reminder-{params['hours']}", start=start,
                        sequence=booking.sequence, cancelled=False, hours=params["hours"])


@outbox.recipe("demo-existing", load_booking)
def _existing_mail(booking: DemoBooking, params: dict) -> messages.Outgoing:
    with force_locale(booking.lead.locale):
        requested = slots.describe(slots.parse_slot(params["requested"]), booking.time_zone,
                                   booking.duration_minutes)
    return _person_mail(booking, "demo/mail/demo_existing.txt", "existing", start=booking.slot_start,
                        sequence=booking.sequence, cancelled=booking.status == "cancelled", requested=requested)


@outbox.recipe("demo-team-change", load_booking)
def _team_change(booking: DemoBooking, params: dict) -> messages.Outgoing:
    """The sales team's notice of a change the prospect made, in English and the team's zone."""
    zone = current_app.config["DEMO_TIMEZONE"]
    with force_locale(TEAM_LOCALE):
        old = slots.describe(slots.parse_slot(params["old"]), zone, booking.duration_minutes)
        new = params.get("new") and slots.describe(slots.parse_slot(params["new"]), zone, booking.duration_minutes)
        verb = "moved" if new else "cancelled"
        person = salesperson(booking)
        return messages.build_message(
            to_name=None,
            to_address=current_app.config["MAIL_SALES_TEAM"],
            subject=f"Demo booking #{booking.id} {verb} by the prospect: {old['date']} {old['start']}",
            body=render_template("demo/mail/demo_change_team.txt", lead=booking.lead, booking=booking, old=old, new=new,
                                 verb=verb, salesperson=person, salesperson_name=person and _person_name(person)),
            locale=TEAM_LOCALE,
        )


def _team_notice(session: Session, booking_id: int, lead_id: int, old: datetime, new: datetime | None) -> None:
    params = {"booking_id": booking_id, "old": slots.slot_value(old)}
    if new:
        params["new"] = slots.slot_value(new)
    outbox.enqueue_recipe(session, "demo-team-change", params, to_address=current_app.config["MAIL_SALES_TEAM"],
                        kind="demo-team-change", lead_id=lead_id)


# --- reminders -------------------------------------------------------------------------------

def schedule_reminders(session: Session, booking_id: int, lead_id: int, address: str, start: datetime,
                       now: datetime) -> None:
    """Queue the reminders due 24 hours and 1 hour before ``start``, those still ahead."""
    for hours, kind in zip(REMINDER_HOURS, REMINDER_KINDS, strict=True):
        due = start - timedelta(hours=hours)
        if due > now:
            outbox.enqueue_recipe(session, "demo-reminder",
                                {"booking_id": booking_id, "slot": slots.slot_value(start), "hours": hours},
                                to_address=address, kind=kind, lead_id=lead_id, due=due)


def cancel_reminders(session: Session, lead_id: int) -> None:
    """Drop the booking's reminders not yet sent (the booking's lead has one booking)."""
    session.execute(delete(OutboxMessage).where(OutboxMessage.lead_id == lead_id,
                                                OutboxMessage.kind.in_(REMINDER_KINDS),
                                                OutboxMessage.sent_at.is_(None)))


# --- changes -------------------------------------------------------------------------------

def _standing(booking_id: int, now: datetime):
    return (DemoBooking.id == booking_id, DemoBooking.status == "booked", DemoBooking.seat.is_not(None),
            DemoBooking.slot_start > now)


def _cancel_where(session: Session, booking: DemoBooking, now: datetime, conditions, recipe: str):
    """Cancel the booking with one UPDATE under ``conditions``; when it changed the row,
    free the calendars and reminders and mail the prospect with ``recipe``. Returns the
    cancelled slot's start, or None when another request cancelled it first."""
    row = session.execute(
        update(DemoBooking).where(DemoBooking.id == booking.id, *conditions)
        .values(status="cancelled", seat=None, sequence=DemoBooking.sequence + 1, changed_at=now)
        .returning(DemoBooking.sequence, DemoBooking.slot_start)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return None
    lead = booking.lead
    session.refresh(booking)
    calendar_sync.booking_changed(session, booking)  # the event leaves the salesperson's calendar
    cancel_reminders(session, lead.id)
    outbox.enqueue_recipe(session, recipe,
                          {"booking_id": booking.id, "slot": slots.slot_value(row.slot_start),
                           "sequence": row.sequence},
                          to_address=lead.email, kind=recipe, lead_id=lead.id)
    return row.slot_start


def cancel(session: Session, booking: DemoBooking, now: datetime) -> bool:
    """Cancel the booking if it still stands; False when it was already cancelled (a
    second press, another tab) or has started. One UPDATE decides: only the request
    that changes the row sends mail."""
    cancelled = _cancel_where(session, booking, now, _standing(booking.id, now), "demo-cancelled-by-prospect")
    if cancelled is None:
        return False
    _team_notice(session, booking.id, booking.lead_id, cancelled, None)
    return True


def cancel_for_team(session: Session, booking: DemoBooking, now: datetime) -> bool:
    """Cancel the booking for the sales team (the back-office); False when it was
    cancelled already (two staff pressing at once, or the prospect first). One UPDATE
    decides, so only one press frees the place and mails the prospect the cancellation
    with its invitation file."""
    return _cancel_where(session, booking, now, (DemoBooking.status != "cancelled",),
                         "demo-cancelled-by-team") is not None


class SlotTaken(Exception):
    """Every seat of the new time was taken first."""


class Stale(Exception):
    """The booking changed since the page was shown (moved, cancelled, started)."""


def move(session: Session, booking: DemoBooking, slot: datetime, places: list[tuple[int, int | None]],
         seen_sequence: int, now: datetime) -> None:
    """Move the booking to ``slot`` if it is unchanged since the page showed version
    ``seen_sequence``: one UPDATE per place of ``places`` (``assignment.places``: a free
    salesperson, or a seat), in a savepoint, where the unique indexes decide the place
    and the sequence decides between two moves.
    Raises Stale or SlotTaken."""
    old, previous = booking.slot_start, booking.salesperson_id
    lead = booking.lead
    for seat, salesperson_id in places:
        try:
            with session.begin_nested():
                row = session.execute(
                    update(DemoBooking).where(*_standing(booking.id, now), DemoBooking.sequence == seen_sequence)
                    .values(slot_start=slot, seat=seat, salesperson_id=salesperson_id,
                            sequence=DemoBooking.sequence + 1, changed_at=now)
                    .returning(DemoBooking.sequence)
                    .execution_options(synchronize_session=False)
                ).first()
        except IntegrityError:  # the place is taken at the new time
            continue
        if row is None:
            raise Stale()
        session.refresh(booking)
        calendar_sync.booking_changed(session, booking, previous_salesperson_id=previous)
        cancel_reminders(session, lead.id)
        schedule_reminders(session, booking.id, lead.id, lead.email, slot, now)
        outbox.enqueue_recipe(session, "demo-moved",
                            {"booking_id": booking.id, "slot": slots.slot_value(slot), "sequence": row.sequence},
                            to_address=lead.email, kind="demo-moved", lead_id=lead.id)
        _team_notice(session, booking.id, lead.id, old, slot)
        return
    raise SlotTaken()


# --- one booking per address -----------------------------------------------------------------

def upcoming_booking_id(session: Session, address: str, now: datetime) -> int | None:
    """The address's booked demo that has not started, if any.

    The answer holds until the caller's transaction ends, so two simultaneous first
    bookings from one address cannot both see none: on PostgreSQL this takes an
    advisory lock on the address until the transaction ends (the second booking waits,
    then sees the first); on SQLite a POST's transaction holds the write lock from its
    BEGIN (see ``core.database``)."""
    digest = people.email_hash(address)
    if session.get_bind().dialect.name == "postgresql":
        # Two keys from the hash (the two-int form), apart from the consent chain's key.
        session.execute(select(func.pg_advisory_xact_lock(int(digest[:7], 16), int(digest[7:14], 16))))
    return session.scalar(
        select(DemoBooking.id).join(Lead, DemoBooking.lead_id == Lead.id)
        .where(Lead.email_hash == digest, DemoBooking.status == "booked",
               DemoBooking.seat.is_not(None), DemoBooking.slot_start > now)
        .order_by(DemoBooking.slot_start).limit(1))


def mail_existing(session: Session, booking_id: int, address: str, requested: datetime) -> None:
    """Mail the address its booking and manage link, instead of booking a second demo."""
    lead_id = session.scalar(select(DemoBooking.lead_id).where(DemoBooking.id == booking_id))
    outbox.enqueue_recipe(session, "demo-existing",
                          {"booking_id": booking_id, "requested": slots.slot_value(requested)},
                          to_address=address, kind="demo-existing", lead_id=lead_id)
