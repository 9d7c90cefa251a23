"""Who gives a demo: one of the salespeople free at its time, the one with the fewest
upcoming demos first (ties: the longest-standing account), so the work goes round.

The database has the last word: a booking takes the seat of its salesperson (the seat
number is the salesperson's id) and the unique index on (salesperson_id, slot_start)
refuses a second live booking of one salesperson at one time, however many requests
race for it (``demo.models.DemoBooking``). The caller tries the places in order, each
insert in a savepoint, and takes the first the database accepts.

Two steps, so that no transaction is open while calendars are asked over the network:
``read`` takes what the database knows, the caller ends that read, and ``places`` adds
the calendars and orders the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iptor_site.demo import availability, slots
from iptor_site.demo.models import DemoBooking
from iptor_site.demo.salespeople import Salesperson, giving_demos


@dataclass(frozen=True)
class Reading:
    """What the database says about one slot: who gives demos, the seats taken (when
    nobody does), each salesperson's booked periods and upcoming demos."""

    people: list[Salesperson]
    taken_seats: set[int] = field(default_factory=set)
    booked: dict = field(default_factory=dict)
    upcoming: dict[int, int] = field(default_factory=dict)


def read(session: Session, slot: datetime, now: datetime, *, exclude_booking: int | None = None) -> Reading:
    """Read what ``places`` needs about ``slot``; only reads. ``exclude_booking`` (a
    booking being moved) does not count against its place. The caller ends the read
    before calling ``places``, which may wait on calendar servers."""
    people = giving_demos(session)
    other = DemoBooking.id != (exclude_booking or 0)
    if not people:
        taken = set()
        if current_app.config["DEMO_SEATS"] > 1:  # with one seat, trying it is the check
            taken = set(session.scalars(select(DemoBooking.seat).where(
                DemoBooking.slot_start == slot, DemoBooking.seat.is_not(None), other)))
        return Reading(people, taken_seats=taken)
    booked = availability.booked_periods(session, people, slot, slot, exclude_booking=exclude_booking)
    upcoming = dict(session.execute(
        select(DemoBooking.salesperson_id, func.count())
        .where(DemoBooking.salesperson_id.in_([p.id for p in people]), DemoBooking.seat.is_not(None),
               DemoBooking.slot_start >= now, other)
        .group_by(DemoBooking.salesperson_id)).all())
    return Reading(people, booked=booked, upcoming=upcoming)


def places(reading: Reading, slot: datetime, now: datetime) -> list[tuple[int, int | None]]:
    """(seat, salesperson id) pairs to try for a booking of ``slot``, best first.

    With salespeople: one pair per salesperson free then (hours, time off, calendar,
    other demos), ordered by their upcoming demos. Without: the free seats of
    DEMO_SEATS, no salesperson (as before).
    """
    if not reading.people:
        return [(seat, None) for seat in range(1, current_app.config["DEMO_SEATS"] + 1)
                if seat not in reading.taken_seats]
    # The same window as the calendar page reads, so the minute's cached reading serves both.
    horizon = slots.offered(now) or [slot]
    busy = availability.calendar_busy(reading.people, min(horizon[0], slot),
                                      max(horizon[-1], slot) + availability.slot_length())
    free = availability.free_people(reading.people, slot, reading.booked, busy)
    free.sort(key=lambda person: (reading.upcoming.get(person.id, 0), person.id))
    return [(person.id, person.id) for person in free]
