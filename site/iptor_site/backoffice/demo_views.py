"""The sales area of the back-office: bookings, the week of demos, salespeople's settings
and the marketing export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from iptor_site.backoffice import accounts
from iptor_site.backoffice.access import get_or_404, protect, record, requires, staff_names
from iptor_site.core import clock
from iptor_site.core.extensions import db
from iptor_site.core.locales import valid_time_zone
from iptor_site.core.staff import StaffUser
from iptor_site.demo import calendar_sync, salespeople, slots
from iptor_site.demo import manage as demo_manage
from iptor_site.demo.models import DemoBooking, SalesProfile, SalesTimeOff
from iptor_site.leads.models import Lead
from iptor_site.mail.models import OutboxMessage
from iptor_site.privacy_requests import lifecycle

bp = protect(Blueprint("admin_demos", __name__, url_prefix="/admin"))
BOOKING_STATUSES = ("booked", "held", "no-show", "cancelled")


@bp.get("/bookings")
@requires("sales")
def bookings():
    query = select(DemoBooking).join(Lead)
    args = request.args
    if args.get("status") in BOOKING_STATUSES:
        query = query.where(DemoBooking.status == args["status"])
    if args.get("when") == "upcoming":
        query = query.where(DemoBooking.slot_start >= clock.now())
    elif args.get("when") == "past":
        query = query.where(DemoBooking.slot_start < clock.now())
    for name, column in (("country", DemoBooking.country), ("locale", Lead.locale)):
        if args.get(name):
            query = query.where(column == args[name])
    for name, op in (("from", "ge"), ("to", "lt")):
        try:
            day = date.fromisoformat(args.get(name, ""))
        except ValueError:
            continue
        moment = datetime.combine(day + timedelta(days=1 if op == "lt" else 0), datetime.min.time(),
                                  tzinfo=clock.now().tzinfo)
        query = query.where(DemoBooking.slot_start >= moment if op == "ge" else DemoBooking.slot_start < moment)
    if args.get("q"):
        needle = f"%{args['q'].strip()[:100]}%"
        query = query.where(or_(Lead.name.ilike(needle), Lead.email.ilike(needle), DemoBooking.company.ilike(needle)))
    rows = db.session.scalars(query.order_by(DemoBooking.slot_start.desc()).limit(500)).all()
    return render_template("backoffice/bookings.html", rows=rows, statuses=BOOKING_STATUSES, args=args)


# Ids are matched signed and of any length, then checked by get_or_404: a negative or
# out-of-range id is a 404 (unsigned, "-1" fell through to the GET-only catch-all: a 405).
@bp.get("/bookings/<int(signed=True):booking_id>")
@requires("sales")
def booking(booking_id: int):
    row = get_or_404(DemoBooking, booking_id)
    record("view-booking", f"booking #{row.id}")
    db.session.commit()
    return render_template("backoffice/booking.html", row=row, statuses=BOOKING_STATUSES)


@bp.post("/bookings/<int(signed=True):booking_id>/status")
@requires("sales")
def booking_status(booking_id: int):
    row = get_or_404(DemoBooking, booking_id)
    status = request.form.get("status")
    if status not in BOOKING_STATUSES[1:]:
        abort(400)
    if row.status == "cancelled" or (
            # The slot is freed, the prospect told and the calendars updated once, by
            # whichever press changed the row (a colleague's or the prospect's may come first).
            status == "cancelled" and not demo_manage.cancel_for_team(db.session, row, clock.now())):
        db.session.rollback()
        flash(f"Booking #{booking_id} was already cancelled; nothing changed.")
        return redirect(url_for(".booking", booking_id=booking_id), 303)
    if status != "cancelled":
        row.status = status
    record("booking-status", f"booking #{row.id}", status)
    db.session.commit()
    flash(f"Booking #{row.id} is now {status}.")
    return redirect(url_for(".booking", booking_id=row.id), 303)


@bp.get("/leads.csv")
@requires("sales")
def leads_csv():
    body = accounts.export_csv(db.session, lifecycle.unsubscribe_url)
    db.session.commit()  # end the read (it held no lock): the audit entry is a short write of its own
    record("export-leads", None, f"{body.count(chr(10)) - 1} rows")
    db.session.commit()
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="iptor-marketing-leads.csv"',
                             "Cache-Control": "no-store"})


# --- demos: the week per salesperson, and each salesperson's hours, time off and calendar ---

@bp.app_context_processor
def demo_context():
    """For the booking pages: who gives each demo and which are not in a calendar yet."""

    def demo_people(rows) -> dict[int, str]:
        return staff_names(row.salesperson_id for row in rows)

    def calendar_pending(rows) -> set[int]:
        return calendar_sync.pending(db.session, [row.lead_id for row in rows if row.salesperson_id])

    def calendar_errors(row) -> list[OutboxMessage]:
        return db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == calendar_sync.KIND, OutboxMessage.lead_id == row.lead_id,
            OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)).all()

    return {"demo_people": demo_people, "calendar_pending": calendar_pending, "calendar_errors": calendar_errors}


# --- the week of demos ------------------------------------------------------------------------------

def _viewer_zone() -> str:
    asked = valid_time_zone(request.args.get("tz"))
    if asked:
        return asked
    profile = db.session.get(SalesProfile, g.staff.id)
    return profile.time_zone if profile else current_app.config["DEMO_TIMEZONE"]


@bp.get("/demos/week")
@requires("sales")
def demo_week():
    """Booked demos of one week (Monday to Sunday in the viewer's zone), a column per salesperson."""
    zone_name = _viewer_zone()
    zone = ZoneInfo(zone_name)
    try:
        day = date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        day = clock.now().astimezone(zone).date()
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=n) for n in range(7)]
    begins = datetime.combine(monday, time(0), tzinfo=zone)
    ends = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    rows = db.session.scalars(
        select(DemoBooking).join(Lead).where(DemoBooking.slot_start >= begins, DemoBooking.slot_start < ends)
        .order_by(DemoBooking.slot_start, DemoBooking.id)).all()
    giving = {person.id: person.email for person in salespeople.giving_demos(db.session)}
    names = {**giving, **staff_names(row.salesperson_id for row in rows)}
    columns = [(staff_id, names[staff_id]) for staff_id in sorted(names, key=lambda i: names[i])]
    if any(row.salesperson_id is None for row in rows):
        columns.append((None, "Not assigned"))
    cells: dict[tuple[date, int | None], list[dict]] = {}
    for row in rows:
        start = row.slot_start.astimezone(zone)
        finish = (row.slot_start + timedelta(minutes=row.duration_minutes)).astimezone(zone)
        cells.setdefault((start.date(), row.salesperson_id), []).append(
            {"row": row, "start": start.strftime("%H:%M"), "end": finish.strftime("%H:%M")})
    return render_template(
        "backoffice/demo_week.html", days=days, columns=columns, cells=cells, zone=zone_name,
        zone_label=slots.zone_label(zone_name, begins), zones=slots.time_zone_choices(zone_name),
        previous=(monday - timedelta(days=7)).isoformat(), following=(monday + timedelta(days=7)).isoformat(),
        monday=monday, pending=calendar_sync.pending(db.session, [r.lead_id for r in rows if r.salesperson_id]),
        statuses=BOOKING_STATUSES)


# --- salespeople --------------------------------------------------------------------------------

def _may_edit(user: StaffUser) -> None:
    """Admins edit every salesperson; a salesperson edits their own settings."""
    if g.staff.role != "admin" and g.staff.id != user.id:
        abort(403)
    if user.role != "sales":
        abort(404)


@bp.get("/salespeople")
@requires("sales")
def salespeople_list():
    users = db.session.scalars(select(StaffUser).where(StaffUser.role == "sales").order_by(StaffUser.email)).all()
    profiles = {p.staff_id: p for p in db.session.scalars(select(SalesProfile))}
    return render_template("backoffice/salespeople.html", users=users, profiles=profiles)


@bp.route("/salespeople/<int(signed=True):staff_id>", methods=["GET", "POST"])
@requires("sales")
def salesperson(staff_id: int):
    user = get_or_404(StaffUser, staff_id)
    _may_edit(user)
    error = None
    if request.method == "POST":
        form = request.form
        action = form.get("action")
        try:
            if action == "settings":
                salespeople.salesperson(db.session, user.email)  # active and in the sales role
                profile = salespeople.set_hours(db.session, user, form.get("hours", ""), form.get("time_zone", ""),
                                                form.get("meeting_url", ""))
                if form.get("remove_calendar"):
                    salespeople.set_calendar(db.session, user, None)
                else:
                    salespeople.set_calendar(db.session, user, form.get("calendar_url", ""),
                                             form.get("calendar_username", "").strip(),
                                             form.get("calendar_password", ""), keep_password=True)
                record("sales-hours", f"staff #{user.id}",
                       f"{profile.hours} ({profile.time_zone}); calendar {profile.calendar_url or 'none'}")
                message = "Saved."
            elif action == "time-off":
                first = _day(form.get("first_day", ""), "first day")
                last = _day(form.get("last_day", ""), "last day") if form.get("last_day") else first
                row = salespeople.add_time_off(db.session, user, first, last)
                span = f"{row.first_day.isoformat()} to {row.last_day.isoformat()}"
                record("sales-time-off", f"staff #{user.id}", span)
                message = f"Time off from {first.isoformat()} to {last.isoformat()} added."
            elif action == "remove-time-off":
                ident = form.get("id", "")
                if not ident.isascii() or not ident.isdigit() or len(ident) > 12:
                    abort(400)
                if not salespeople.remove_time_off(db.session, user, int(ident)):
                    abort(404)
                record("sales-time-off-remove", f"staff #{user.id}", ident)
                message = "Time off removed."
            else:
                abort(400)
        except salespeople.SalesError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            flash(message)
            return redirect(url_for(".salesperson", staff_id=user.id), 303)
    profile = db.session.get(SalesProfile, user.id)
    time_off = db.session.scalars(select(SalesTimeOff).where(SalesTimeOff.staff_id == user.id)
                                  .order_by(SalesTimeOff.first_day)).all()
    username = None
    if profile and profile.calendar_credentials:
        try:
            username = salespeople.decrypt_credentials(profile.calendar_credentials)[0]
        except salespeople.SalesError as exc:
            error = error or str(exc)
    typed = request.form if request.method == "POST" else {}
    zone = typed.get("time_zone") or (profile.time_zone if profile else current_app.config["DEMO_TIMEZONE"])
    return render_template("backoffice/salesperson.html", user=user, profile=profile, time_off=time_off, error=error,
                           typed=typed, username=username, zone=zone,
                           zones=slots.time_zone_choices(valid_time_zone(zone) or "UTC")), (422 if error else 200)


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise salespeople.SalesError(f"the {what} must be a date such as 2026-12-21, got {value!r}") from None
