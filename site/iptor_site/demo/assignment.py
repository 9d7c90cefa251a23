"""Who gives a demo: one of the salespeople free at its time, the one with the fewest
upcoming demos first (ties: the longest-standing account), so the work goes round.

The database has the last word: a booking takes the seat of its salesperson (the seat
number is the salesperson's id) and the unique index on (salesperson_id, slot_start)
refuses a second live booking of one salesperson at one time, however many requests
race for it (``demo.models.DemoBooking``). The caller tries the places in order, each
insert in its own transaction, and takes the first the database accepts.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iptor_site.demo import availability, slots
from iptor_site.demo.models import DemoBooking
from iptor_site.demo.salespeople import giving_demos


def places(session: Session, slot: datetime, now: datetime, *,
           exclude_booking: int | None = None) -> list[tuple[int, int | None]]:
    """(seat, salesperson id) pairs to try for a booking of ``slot``, best first.

    With salespeople: one pair per salesperson free then, ordered by their upcoming
    demos. Without: the free seats of DEMO_SEATS, no salesperson (as before).
    ``exclude_booking`` (a booking being moved) does not count against its salesperson.

    Ends the session's transaction after reading, so no lock is held while calendars
    are read and each attempt that follows is a transaction of its own.
    """
    people = giving_demos(session)
    if not people:
        seats = current_app.config["DEMO_SEATS"]
        taken = set()
        if seats > 1:  # with one seat, trying it is the check
            taken = set(session.scalars(select(DemoBooking.seat).where(
                DemoBooking.slot_start == slot, DemoBooking.seat.is_not(None),
                DemoBooking.id != (exclude_booking or 0))))
        session.rollback()  # end the read
        return [(seat, None) for seat in range(1, seats + 1) if seat not in taken]
    booked = availability.booked_periods(session, people, slot, slot, exclude_booking=exclude_booking)
    upcoming = dict(session.execute(
        select(DemoBooking.salesperson_id, func.count())
        .where(DemoBooking.salesperson_id.in_([p.id for p in people]), DemoBooking.seat.is_not(None),
               DemoBooking.slot_start >= now, DemoBooking.id != (exclude_booking or 0))
        .group_by(DemoBooking.salesperson_id)).all())
    session.rollback()  # end the read before the calendars are asked
    # The same window as the calendar page reads, so the minute's cached reading serves both.
    horizon = slots.offered(now) or [slot]
    busy = availability.calendar_busy(people, min(horizon[0], slot),
                                      max(horizon[-1], slot) + availability.slot_length())
    free = availability.free_people(people, slot, booked, busy)
    free.sort(key=lambda person: (upcoming.get(person.id, 0), person.id))
    return [(person.id, person.id) for person in free]
