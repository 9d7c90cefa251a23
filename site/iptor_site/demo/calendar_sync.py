"""A booking as an event in its salesperson's CalDAV calendar, written through the outbox.

Every change of a booking that has a salesperson (booked, moved, given to someone
else, cancelled) queues one ``calendar-sync`` row in the outbox, in the transaction
that makes the change. Its "send" brings the salesperson's calendar to the booking's
state at that moment: a PUT of the event while the booking is live and theirs, a
DELETE otherwise. So the rows may run in any order and any number of times; a
calendar that cannot be reached keeps its row, retried with the outbox's back-off,
and the booking itself is never lost. ``pending`` tells the back-office which
bookings are not in a calendar yet.

For the prospect's side (rescheduling, cancelling): after changing a booking, call
``booking_changed(session, booking, previous_salesperson_id=…)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from iptor_site.core import clock
from iptor_site.core.rendering import public_url
from iptor_site.core.staff import StaffUser
from iptor_site.demo import calendars
from iptor_site.demo.models import DemoBooking, SalesProfile
from iptor_site.mail import outbox
from iptor_site.mail.models import OutboxMessage

KIND = "calendar-sync"


def queue_sync(session: Session, booking: DemoBooking, salesperson_id: int, *, lead_id: int | None = -1) -> int | None:
    """Queue bringing ``salesperson_id``'s calendar to the booking's current state;
    nothing when that salesperson has no calendar. Returns the outbox row's id. The row
    belongs to the booking's lead (``lead_id`` None: to nobody, for a lead being erased)."""
    found = session.execute(select(StaffUser.email, SalesProfile.calendar_url)
                            .join(SalesProfile, SalesProfile.staff_id == StaffUser.id)
                            .where(StaffUser.id == salesperson_id)).first()
    if found is None or not found.calendar_url:
        return None
    # Queued after the booking's mail, so that a batch sends the mail first.
    return outbox.enqueue_recipe(session, KIND, {"booking_id": booking.id, "salesperson_id": salesperson_id},
                               to_address=found.email, kind=KIND, lead_id=booking.lead_id if lead_id == -1 else lead_id)


def leads_erased(session: Session, lead_ids: list[int]) -> None:
    """Before the leads are deleted (an erasure): their bookings' events leave the
    salespeople's calendars, by rows that name only the booking's number."""
    for booking in session.scalars(select(DemoBooking).where(DemoBooking.lead_id.in_(lead_ids),
                                                             DemoBooking.salesperson_id.is_not(None))):
        queue_sync(session, booking, booking.salesperson_id, lead_id=None)


def booking_changed(session: Session, booking: DemoBooking, previous_salesperson_id: int | None = None) -> None:
    """After a booking was made, moved, reassigned or cancelled (in the same transaction):
    its salesperson's calendar gets the event as it is now, and a previous salesperson's
    calendar loses it."""
    session.flush()
    if booking.salesperson_id is not None:
        queue_sync(session, booking, booking.salesperson_id)
    if previous_salesperson_id is not None and previous_salesperson_id != booking.salesperson_id:
        queue_sync(session, booking, previous_salesperson_id)


def pending(session: Session, lead_ids: list[int]) -> set[int]:
    """Of the leads of ``lead_ids``, those whose booking has a calendar write not done yet."""
    if not lead_ids:
        return set()
    return set(session.scalars(select(OutboxMessage.lead_id).where(
        OutboxMessage.kind == KIND, OutboxMessage.sent_at.is_(None), OutboxMessage.lead_id.in_(lead_ids))))


@dataclass(frozen=True)
class _Sync:
    """What one calendar write needs, read before the write with no transaction open."""

    booking_id: int
    recipient: str
    calendar_url: str | None
    credentials: str | None
    live: bool
    event: bytes | None


def _load(session: Session, params: dict) -> _Sync:
    booking = session.get(DemoBooking, params["booking_id"], options=[joinedload(DemoBooking.lead)])
    staff = session.get(StaffUser, params["salesperson_id"])
    profile = session.get(SalesProfile, params["salesperson_id"])
    live = (booking is not None and booking.seat is not None and booking.status != "cancelled"
            and booking.salesperson_id == params["salesperson_id"])
    return _Sync(
        booking_id=params["booking_id"],
        recipient=staff.email if staff else "unknown@invalid",
        calendar_url=profile.calendar_url if profile else None,
        credentials=profile.calendar_credentials if profile else None,
        live=live,
        event=event_file(booking, staff.email, profile.meeting_url if profile else None) if live else None,
    )


@outbox.recipe(KIND, _load, action=True)
def _sync(data: _Sync, params: dict) -> outbox.Outgoing:
    """The write itself; what was done is kept as the outbox row's message."""
    if not data.calendar_url:
        record = b"X-Calendar-Write: none (the salesperson has no calendar)\r\n\r\n"
    elif data.live:
        url = calendars.put_event(data.calendar_url, data.credentials, data.booking_id, data.event)
        record = f"X-Calendar-Write: PUT {url}\r\n\r\n".encode() + data.event
    else:
        url = calendars.delete_event(data.calendar_url, data.credentials, data.booking_id)
        record = f"X-Calendar-Write: DELETE {url}\r\n\r\n".encode()
    return outbox.Outgoing(data.recipient, record)


def event_file(booking: DemoBooking, organizer: str, meeting_url: str | None) -> bytes:
    """The booking as the salesperson's calendar event (English, like the back-office)."""
    lead = booking.lead
    start = booking.slot_start
    calendar = Calendar()
    calendar.add("prodid", "-//Iptor//multiflex demo booking//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", calendars.event_uid(booking.id))
    event.add("dtstamp", clock.now().replace(microsecond=0))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=booking.duration_minutes))
    event.add("summary", f"Iptor multiflex demo: {booking.company} ({lead.name})")
    lines = [f"Demo booking #{booking.id}", f"Name: {lead.name}", f"E-mail: {lead.email}",
             f"Company: {booking.company}", f"Country: {booking.country}", f"Users: {booking.users}",
             f"Language: {lead.locale}", f"Their time zone: {booking.time_zone}"]
    if booking.phone:
        lines.append(f"Phone: {booking.phone}")
    if booking.message:
        lines.append(f"Message: {booking.message}")
    lines.append(f"Back-office: {public_url('admin_demos.booking', booking_id=booking.id)}")
    event.add("description", "\n".join(lines))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    attendee = vCalAddress(f"mailto:{lead.email}")
    attendee.params["cn"] = vText(lead.name)
    event.add("attendee", attendee)
    if meeting_url:
        event.add("location", meeting_url)
        event.add("url", meeting_url)
    calendar.add_component(event)
    return calendar.to_ical()
