"""Demo booking: a real slot from the live calendar, in the visitor's time zone."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

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
from iptor_site.core.validation import parse_users
from iptor_site.demo import assignment, bookings, manage, picker, slots
from iptor_site.demo.forms import MAX_USERS, DemoForm
from iptor_site.leads import antispam, submission
from iptor_site.leads.forms import country_choices
from iptor_site.legal.documents import privacy_version

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
    free = slots.free(db.session)
    db.session.commit()  # end the read before rendering: in a POST it holds SQLite's write lock
    week = picker.week_of(free, zone, picker.parse_week(request.values.get("week")),
                          slots.parse_slot(form.slot.data))
    shown = {value for day in week.days for value, _ in day.times}
    html = render_template(
        "demo/demo.html",
        form=form,
        week=week,
        # A time chosen on another week, still free: kept and named (a taken one is not).
        chosen_elsewhere=(picker.chosen_label(form.slot.data, zone)
                          if form.slot.data not in shown and slots.parse_slot(form.slot.data) in free else None),
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
@limiter.shared_limit(per_ip, scope="form-ip", methods=["POST"], exempt_when=lambda: _paging())
@limiter.shared_limit(per_email, scope="form-email", key_func=per_email.key, methods=["POST"],
                      exempt_when=lambda: _paging())
def demo():
    """Book a demo: pick a free slot and leave your details."""
    form = DemoForm()
    if request.method == "POST" and not form.slot.data:
        form.slot.data = picker.kept_slot(request.form)  # chosen on another week of the picker
    zone = _time_zone(form.time_zone.data if request.method == "POST" else request.args.get("tz"))
    _prepare(form, zone)
    if _paging():
        # Another week of the calendar, asked for with the form's own buttons: nothing is
        # checked or saved, and everything typed so far is shown again.
        return _render(form, zone)
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
        # The places to try come first, and their read ends before the calendars are asked
        # over the network. The rest is one transaction, so the address's upcoming booking,
        # looked up (and on PostgreSQL locked) here, cannot appear before the commit.
        reading = assignment.read(db_session, slot, now)
        db_session.rollback()
        places = assignment.places(reading, slot, now)
        existing = manage.upcoming_booking_id(db_session, form.email.data, now)
        if existing is not None:
            # One upcoming demo per address: its booking and manage link go to the address,
            # and the page answers as it does for every booking (see demo_booked).
            manage.mail_existing(db_session, existing, form.email.data, slot)
            return None
        try:
            return bookings.book_demo(db_session, form, slot=slot, places=places,
                                      policy_version=privacy_version(), now=now)
        except bookings.SlotTaken:
            raise submission.FormRejected("slot", _taken_message()) from None

    def render(status, notice=None):
        return _render(form, zone, status, notice)

    def done(booking_id):
        # Nothing personal in the cookie, and the same whether a demo was booked or not.
        session[SESSION_KEY] = 1
        return redirect(url_for(".demo_booked"), 303)

    return submission.submit(form, FORM_NAME, save, render, done)


def _paging() -> bool:
    """A POST of the demo form by its "previous/next week" buttons."""
    return request.method == "POST" and "week" in request.form


def _taken_message() -> str:
    return gettext("Someone else has just booked this time. Please choose another one; "
                   "everything else you entered is still here.")


@bp.get("/demo/slots")
def demo_slots():
    """Free slots labelled for a time zone, for the form's script, with the zone's
    localized label (a zone the browser reports may not be in the page's list)."""
    zone = _time_zone(request.args.get("tz"))
    free = slots.free(db.session)
    db.session.commit()
    return jsonify(
        zone=zone,
        zone_label=slots.zone_label(zone),
        # The picker's sentence naming the zone with its offset, for the calendar script.
        zone_heading=gettext("Times are shown in %(zone)s.",
                             zone=slots.zone_name_offset(zone, free[0] if free else slots.now())),
        groups=[{"label": day, "date": iso, "options": options}
                for (day, options), iso in zip(slots.grouped(free, zone), _local_dates(free, zone), strict=True)],
    )


def _local_dates(free, zone: str) -> list[str]:
    """The ISO dates of ``slots.grouped``'s days, in the same order."""
    local = ZoneInfo(zone)
    return list(dict.fromkeys(slot.astimezone(local).date().isoformat() for slot in free))


@bp.get("/demo/booked")
def demo_booked():
    """Post/redirect/get answer to a booking: the same page whether the demo was booked
    or the address already had one (then its booking and manage link were mailed), so it
    tells nobody whether an address has a booking. The mail has the details."""
    if session.get(SESSION_KEY) is None:
        return redirect(url_for(".demo"))
    g.status_page = True  # personal: no canonical, not indexed
    return render_template("demo/demo_booked.html", slot_minutes=current_app.config["DEMO_SLOT_MINUTES"])
