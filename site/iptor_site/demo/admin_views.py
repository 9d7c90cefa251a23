"""The back-office's demo pages: the week of booked demos per salesperson, and each
salesperson's hours, time off, meeting link and calendar. English, like the rest of it.

Routes on the back-office's blueprint (``views.admin.bp``); every change is audited and
committed once by its view.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import slots
from ..extensions import db
from ..models import DemoBooking, Lead, OutboxMessage, SalesProfile, SalesTimeOff, StaffUser
from ..views.admin import BOOKING_STATUSES, _audit, _get_or_404, bp, requires
from . import calendar_sync, salespeople


def _staff_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(ids))).all())


@bp.app_context_processor
def demo_context():
    """For the booking pages: who gives each demo and which are not in a calendar yet."""

    def demo_people(rows) -> dict[int, str]:
        return _staff_names(row.salesperson_id for row in rows)

    def calendar_pending(rows) -> set[int]:
        return calendar_sync.pending(db.session, [row.lead_id for row in rows if row.salesperson_id])

    def calendar_errors(row) -> list[OutboxMessage]:
        return db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == calendar_sync.KIND, OutboxMessage.lead_id == row.lead_id,
            OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)).all()

    return {"demo_people": demo_people, "calendar_pending": calendar_pending, "calendar_errors": calendar_errors}


# --- the week of demos ------------------------------------------------------------------------------

def _viewer_zone() -> str:
    asked = slots.valid_time_zone(request.args.get("tz"))
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
        day = slots.now().astimezone(zone).date()
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=n) for n in range(7)]
    begins = datetime.combine(monday, time(0), tzinfo=zone)
    ends = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    rows = db.session.scalars(
        select(DemoBooking).join(Lead).where(DemoBooking.slot_start >= begins, DemoBooking.slot_start < ends)
        .order_by(DemoBooking.slot_start, DemoBooking.id)).all()
    giving = {person.id: person.email for person in salespeople.giving_demos(db.session)}
    names = {**giving, **_staff_names(row.salesperson_id for row in rows)}
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
        "admin/demo_week.html", days=days, columns=columns, cells=cells, zone=zone_name,
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
    return render_template("admin/salespeople.html", users=users, profiles=profiles)


@bp.route("/salespeople/<int(signed=True):staff_id>", methods=["GET", "POST"])
@requires("sales")
def salesperson(staff_id: int):
    user = _get_or_404(StaffUser, staff_id)
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
                _audit("sales-hours", f"staff #{user.id}",
                       f"{profile.hours} ({profile.time_zone}); calendar {profile.calendar_url or 'none'}")
                message = "Saved."
            elif action == "time-off":
                first = _day(form.get("first_day", ""), "first day")
                last = _day(form.get("last_day", ""), "last day") if form.get("last_day") else first
                row = salespeople.add_time_off(db.session, user, first, last)
                span = f"{row.first_day.isoformat()} to {row.last_day.isoformat()}"
                _audit("sales-time-off", f"staff #{user.id}", span)
                message = f"Time off from {first.isoformat()} to {last.isoformat()} added."
            elif action == "remove-time-off":
                ident = form.get("id", "")
                if not ident.isascii() or not ident.isdigit() or len(ident) > 12:
                    abort(400)
                if not salespeople.remove_time_off(db.session, user, int(ident)):
                    abort(404)
                _audit("sales-time-off-remove", f"staff #{user.id}", ident)
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
    return render_template("admin/salesperson.html", user=user, profile=profile, time_off=time_off, error=error,
                           typed=typed, username=username, zone=zone,
                           zones=slots.time_zone_choices(slots.valid_time_zone(zone) or "UTC")), (422 if error else 200)


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise salespeople.SalesError(f"the {what} must be a date such as 2026-12-21, got {value!r}") from None
