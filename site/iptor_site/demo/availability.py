"""Which offered slots a salesperson is free for.

A slot of ``slots.offered()`` is free when at least one salesperson is: the whole demo
inside their weekly hours (in their own zone), on no day of their time off, and at
least DEMO_BUFFER_MINUTES away from every other meeting: the busy times of their CalDAV
calendar and their other booked demos. With nobody set up to give demos (no ``sales``
account with hours) the site works as before: DEMO_SEATS demos per slot.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from iptor_site.demo import calendars
from iptor_site.demo.models import DemoBooking
from iptor_site.demo.salespeople import Salesperson, giving_demos

Period = tuple[datetime, datetime]


def slot_length() -> timedelta:
    return timedelta(minutes=current_app.config["DEMO_SLOT_MINUTES"])


def within_hours(person: Salesperson, slot: datetime, length: timedelta) -> bool:
    """The whole demo inside one span of the person's hours, on no day of their time off."""
    zone = ZoneInfo(person.time_zone)
    start, end = slot.astimezone(zone), (slot + length).astimezone(zone)
    for first, last in person.time_off:
        if first <= start.date() <= last or first <= (end - timedelta(microseconds=1)).date() <= last:
            return False
    for span_start, span_end in person.hours.get(start.isoweekday(), ()):
        opens = datetime.combine(start.date(), span_start, tzinfo=zone)
        closes = (datetime.combine(start.date() + timedelta(days=1), span_end, tzinfo=zone) if span_end.hour == 0
                  and span_end.minute == 0 else datetime.combine(start.date(), span_end, tzinfo=zone))
        if opens <= slot and slot + length <= closes:
            return True
    return False


def clear_of(periods: list[Period], slot: datetime, length: timedelta, buffer: timedelta) -> bool:
    """No period within ``buffer`` of the demo."""
    return all(not (slot < ends + buffer and begins - buffer < slot + length) for begins, ends in periods)


def booked_periods(session: Session, people: list[Salesperson], first: datetime, last: datetime,
                   exclude_booking: int | None = None) -> dict[int, list[Period]]:
    """Each salesperson's live demos from ``first`` to ``last`` (UTC starts), as periods."""
    rows = session.execute(
        select(DemoBooking.id, DemoBooking.salesperson_id, DemoBooking.slot_start, DemoBooking.duration_minutes)
        .where(DemoBooking.salesperson_id.in_([p.id for p in people]), DemoBooking.seat.is_not(None),
               DemoBooking.slot_start >= first - timedelta(days=1), DemoBooking.slot_start <= last + timedelta(days=1))
    ).all()
    periods: dict[int, list[Period]] = defaultdict(list)
    for booking_id, staff_id, start, minutes in rows:
        if booking_id != exclude_booking:
            periods[staff_id].append((start, start + timedelta(minutes=minutes)))
    return periods


def calendar_busy(people: list[Salesperson], first: datetime, last: datetime) -> dict[int, list[Period] | None]:
    """Each salesperson's calendar busy times around the slots; None for a calendar that
    cannot be read (its owner is then offered for no slot: never double-booked)."""
    # A window on whole days, so that the cached reading serves every page of the day.
    start = first.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    end = last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    found: dict[int, list[Period] | None] = {}
    for person in people:
        try:
            found[person.id] = calendars.busy(person, start, end)
        except calendars.CalendarUnavailable:
            found[person.id] = None
    return found


def free_people(people: list[Salesperson], slot: datetime, booked: dict[int, list[Period]],
                busy: dict[int, list[Period] | None]) -> list[Salesperson]:
    """The salespeople free for ``slot``, in the order given."""
    length = slot_length()
    buffer = timedelta(minutes=current_app.config["DEMO_BUFFER_MINUTES"])
    free = []
    for person in people:
        if busy.get(person.id, []) is None or not within_hours(person, slot, length):
            continue
        # Their own demos may not overlap; the buffer keeps them apart as from any meeting.
        if clear_of(booked.get(person.id, []), slot, length, buffer) and \
                clear_of(busy.get(person.id) or [], slot, length, buffer):
            free.append(person)
    return free


def free(session: Session, offered: list[datetime]) -> list[datetime] | None:
    """The ``offered`` slots at least one salesperson is free for; None when nobody gives
    demos (the caller then counts DEMO_SEATS per slot, as before)."""
    people = giving_demos(session)
    if not people:
        return None
    if not offered:
        return []
    booked = booked_periods(session, people, offered[0], offered[-1])
    busy = calendar_busy(people, offered[0], offered[-1] + slot_length())
    return [slot for slot in offered if free_people(people, slot, booked, busy)]
