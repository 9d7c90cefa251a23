"""The prospect's "manage my booking" page: GET and HEAD show the booking and change
nothing; moving and cancelling are each a POST with the page's CSRF token."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from iptor_site.core import clock
from iptor_site.core.extensions import csrf, db
from iptor_site.demo import assignment, picker, slots
from iptor_site.demo import manage as booking_changes

bp = Blueprint("demo_manage", __name__, url_prefix="/<locale:lang>")


def _deliberate() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _booking(token: str, now):
    booking = booking_changes.booking_for(db.session, token)
    if booking is None:
        abort(404)
    return booking


def _page(token: str, booking, now, *, status: int = 200, notice: str | None = None, error: str | None = None,
          chosen: str | None = None) -> Response:
    g.status_page = True  # personal: no canonical, not indexed
    valid = booking_changes.link_valid(booking, now)
    standing = valid and booking.status == "booked" and booking.seat is not None
    week = chosen_elsewhere = None
    if standing:
        free = [slot for slot in slots.free(db.session) if slot != booking.slot_start]
        week = picker.week_of(free, booking.time_zone, picker.parse_week(request.values.get("week")),
                              slots.parse_slot(chosen))
        shown = {value for day in week.days for value, _ in day.times}
        if chosen and chosen not in shown and slots.parse_slot(chosen) in free:
            chosen_elsewhere = picker.chosen_label(chosen, booking.time_zone)
    db.session.commit()  # end the read before rendering
    context = booking_changes.person_context(booking)
    html = render_template(
        "demo/demo_manage.html", booking=booking, token=token, valid=valid, standing=standing, week=week,
        notice=notice, error=error, chosen=chosen, chosen_elsewhere=chosen_elsewhere,
        changed=request.args.get("changed"), **context)
    return Response(html, status=status if valid else 410)


@bp.get("/demo/manage/<token>")
def manage(token: str):
    """The booking, its invitation, and the forms that move or cancel it."""
    now = clock.now()
    return _page(token, _booking(token, now), now)


@bp.get("/demo/manage/<token>/invitation.ics")
def invitation(token: str):
    booking = _booking(token, clock.now())
    body = booking_changes.invitation(booking)
    db.session.commit()
    method = "CANCEL" if booking.status == "cancelled" else "REQUEST"
    return Response(body, content_type=f"text/calendar; charset=utf-8; method={method}",
                    headers={"Content-Disposition": 'attachment; filename="iptor-demo.ics"'})


@bp.post("/demo/manage/<token>/cancel")
@csrf.exempt  # checked here, so a stale token gets the page again with a notice, not a bare 400
def cancel(token: str):
    now = clock.now()
    booking = _booking(token, now)
    if not booking_changes.link_valid(booking, now):
        return _page(token, booking, now)
    if not _deliberate():
        return _page(token, booking, now, status=400, notice=_press_again())
    if not booking_changes.cancel(db.session, booking, now):
        db.session.rollback()
        return redirect(url_for(".manage", token=token), 303)  # already cancelled: the page says so
    db.session.commit()
    return redirect(url_for(".manage", token=token, changed="cancelled"), 303)


@bp.post("/demo/manage/<token>/move")
@csrf.exempt  # checked here, as for cancel
def move(token: str):
    now = clock.now()
    booking = _booking(token, now)
    if not booking_changes.link_valid(booking, now):
        return _page(token, booking, now)
    value = request.form.get("slot") or picker.kept_slot(request.form)
    if "week" in request.form:  # another week of the picker: nothing changes
        return _page(token, booking, now, chosen=value)
    if not _deliberate():
        return _page(token, booking, now, status=400, notice=_press_again(), chosen=value)
    slot = slots.parse_slot(value)
    if not value:
        return _page(token, booking, now, status=422, error=gettext("Choose a new date and time."))
    if slot is None or not slots.is_offered(slot, now):
        return _page(token, booking, now, status=422, error=gettext("Choose one of the times offered."), chosen=value)
    try:
        seen = int(request.form.get("sequence", ""))
    except ValueError:
        seen = -1
    if slot == booking.slot_start and seen == booking.sequence:
        return _page(token, booking, now, status=422, error=gettext("Your demo is already at this time."), chosen=value)
    # Where the booking could go (a free salesperson, or a seat); the read ends before the
    # calendars are asked over the network, and the move is a transaction of its own.
    reading = assignment.read(db.session, slot, now, exclude_booking=booking.id)
    db.session.rollback()
    places = assignment.places(reading, slot, now)
    try:
        booking_changes.move(db.session, booking, slot, places, seen, now)
    except booking_changes.Stale:
        db.session.rollback()
        db.session.expire_all()
        return _page(token, _booking(token, now), now, status=409, notice=gettext(
            "Your booking was changed in the meantime, for example in another window. "
            "Please check it below and choose again."))
    except booking_changes.SlotTaken:
        db.session.rollback()
        return _page(token, booking, now, status=409, error=gettext(
            "Someone else has just booked this time. Please choose another one."))
    db.session.commit()
    return redirect(url_for(".manage", token=token, changed="moved"), 303)


def _press_again() -> str:
    return gettext("This page was open for too long. Nothing has been changed: please try again.")

