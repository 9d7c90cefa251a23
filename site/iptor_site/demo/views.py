"""Demo booking: a real slot from the live calendar, in the visitor's time zone."""

from __future__ import annotations

from functools import lru_cache

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from wtforms import SelectChoice

from iptor_site.core.extensions import csrf, db, limiter
from iptor_site.core.locales import valid_time_zone
from iptor_site.core.ratelimits import per_email, per_ip
from iptor_site.demo import bookings, slots
from iptor_site.demo.forms import MAX_USERS, DemoForm
from iptor_site.demo.models import DemoBooking
from iptor_site.leads import antispam, submission
from iptor_site.leads.forms import country_choices
from iptor_site.legal.documents import privacy_version
from iptor_site.pages.pricing import parse_users

bp = Blueprint("forms", __name__, url_prefix="/<locale:lang>")

FORM_NAME = "demo"
SESSION_KEY = "demo_booking"


def _time_zone(requested: str | None) -> str:
    return valid_time_zone(requested) or slots.DEFAULT_TIME_ZONE[g.lang]


@lru_cache(maxsize=8)
def _country_options(lang: str) -> tuple[SelectChoice, ...]:
    return tuple(SelectChoice(code, name) for code, name in country_choices(lang))


def _prepare(form: DemoForm, zone: str) -> None:
    form.country.choices = [SelectChoice("", gettext("Choose a country")), *_country_options(g.lang)]
    form.time_zone.data = zone


def _render(form: DemoForm, zone: str, status: int = 200, notice: str | None = None) -> Response:
    # The calendar is read when the form is shown, so it is current after losing a race too.
    form.slot.choices = [SelectChoice("", gettext("Choose a date and time"))] + [
        SelectChoice(value, label, optgroup=day)
        for day, options in slots.grouped(slots.free(db.session), zone)
        for value, label in options
    ]
    db.session.commit()  # end the read before rendering: in a POST it holds SQLite's write lock
    html = render_template(
        "demo/demo.html",
        form=form,
        zone=zone,
        zones=slots.time_zone_choices(zone),
        notice=notice,
        slot_minutes=current_app.config["DEMO_SLOT_MINUTES"],
        # A variable, not a literal: Jinja folds ``10000|numberformat`` once, in the
        # language of the first request after start-up.
        max_users=MAX_USERS,
    )
    return Response(html, status=status)


@bp.route("/demo", methods=["GET", "POST"])
@csrf.exempt  # the form validates its own CSRF token, so a failure keeps what was typed
@limiter.shared_limit(per_ip, scope="form-ip", methods=["POST"])
@limiter.shared_limit(per_email, scope="form-email", key_func=per_email.key, methods=["POST"])
def demo():
    """Book a demo: pick a free slot and leave your details."""
    form = DemoForm()
    zone = _time_zone(form.time_zone.data if request.method == "POST" else request.args.get("tz"))
    _prepare(form, zone)
    if request.method == "GET":
        users, valid = parse_users(request.args.get("users"))
        if users and valid:
            form.users.data = str(users)
        form.started.data = antispam.start_token(FORM_NAME)
        return _render(form, zone)

    def save(db_session, now):
        slot = slots.parse_slot(form.slot.data)
        if slot is None or not slots.is_offered(slot, now):
            raise submission.FormRejected("slot", gettext("Choose one of the times offered."), 422)
        try:
            return bookings.book_demo(db_session, form, slot=slot,
                                   policy_version=privacy_version(), now=now)
        except bookings.SlotTaken:
            raise submission.FormRejected("slot", _taken_message()) from None

    def render(status, notice=None):
        return _render(form, zone, status, notice)

    def done(booking_id):
        session[SESSION_KEY] = booking_id
        return redirect(url_for(".demo_booked"), 303)

    return submission.submit(form, FORM_NAME, save, render, done)


def _taken_message() -> str:
    return gettext("Someone else has just booked this time. Please choose another one; "
                   "everything else you entered is still here.")


@bp.get("/demo/slots")
def demo_slots():
    """Free slots labelled for a time zone, for the form's script, with the zone's
    localized label (a zone the browser reports may not be in the page's list)."""
    zone = _time_zone(request.args.get("tz"))
    return jsonify(
        zone=zone,
        zone_label=slots.zone_label(zone),
        groups=[{"label": day, "options": options}
                for day, options in slots.grouped(slots.free(db.session), zone)],
    )


def _booking():
    booking_id = session.get(SESSION_KEY)
    return db.session.get(DemoBooking, booking_id) if booking_id else None


@bp.get("/demo/booked")
def demo_booked():
    """Post/redirect/get confirmation of the visitor's own booking."""
    booking = _booking()
    if booking is None:
        return redirect(url_for(".demo"))
    g.status_page = True  # personal: no canonical, not indexed
    when = slots.describe(booking.slot_start, booking.time_zone, booking.duration_minutes)
    return render_template("demo/demo_booked.html", booking=booking, when=when)


@bp.get("/demo/booked.ics")
def demo_calendar():
    """The visitor's booking as a calendar file."""
    booking = _booking()
    if booking is None:
        return redirect(url_for(".demo"))
    return Response(
        bookings.demo_calendar_file(booking),
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="iptor-demo.ics"'},
    )
