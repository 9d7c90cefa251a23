"""The back-office at /admin/: bookings for sales, requests and consent for privacy, staff for admins.

English only. Every action is written to the audit log; every POST carries a CSRF token.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .. import backoffice, consent, dsr, leads, mail, slots
from ..demo import manage as demo_manage
from ..extensions import db, limiter
from ..models import AuditEntry, CookieConsentEvent, DemoBooking, Lead, PrivacyInquiry, RequestToken, StaffUser
from ..models.staff import ROLES
from ..security import safe_next

bp = Blueprint("admin", __name__, url_prefix="/admin")
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
BOOKING_STATUSES = ("booked", "held", "no-show", "cancelled")
#: The largest id an Integer id column holds (PostgreSQL's are 32-bit, and refuse to even
#: compare with a larger number): any id beyond it is a 404, not a 500.
MAX_ID = 2**31 - 1
#: One answer for an unknown account, a wrong password and a locked one.
SIGN_IN_FAILED = (f"The e-mail address or password is not right, or sign-in from your network is paused: "
                  f"after {backoffice.MAX_FAILURES} failed attempts in a row it waits "
                  f"{int(backoffice.LOCKOUT.total_seconds() // 60)} minutes.")


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.before_request
def load_staff():
    g.lang = "en"  # the back-office speaks English
    g.status_page = True  # never indexed, never cached
    g.staff = None
    staff_id = session.get("staff_id")
    if staff_id is None:
        return
    now = slots.now()
    started = datetime.fromisoformat(session.get("staff_login_at", "1970-01-01T00:00:00+00:00"))
    seen = datetime.fromisoformat(session.get("staff_seen_at", "1970-01-01T00:00:00+00:00"))
    user = db.session.get(StaffUser, staff_id)
    if (user is None or not user.active or session.get("staff_epoch") != user.session_epoch
            or now - seen > IDLE or now - started > ABSOLUTE):
        session.clear()
        return
    session["staff_seen_at"] = now.isoformat()
    g.staff = user
    return


def requires(area: str):
    """Signed in, and in a role allowed in ``area``; else the sign-in page or 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.staff is None:
                return redirect(url_for(".login", next=request.full_path.rstrip("?")))
            if not backoffice.may(g.staff.role, area):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _get_or_404(model, ident: int):
    if not 0 < ident <= MAX_ID:
        abort(404)
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row


def _audit(action: str, target: str | None = None, details: str | None = None) -> None:
    backoffice.audit(db.session, g.staff.email, action, target, details)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        now = slots.now()
        # Failures count per account and network: an attacker's network locks only itself.
        network = consent.stored_ip(request.remote_addr, "truncated") or "unknown"
        user = backoffice.authenticate(db.session, form.email.data, form.password.data, network, now)
        if user is None:
            error = SIGN_IN_FAILED
        else:
            session.clear()  # a new session for the signed-in staff member
            session.update(staff_id=user.id, staff_epoch=user.session_epoch, staff_login_at=now.isoformat(),
                           staff_seen_at=now.isoformat())
            backoffice.audit(db.session, user.email, "login", f"staff #{user.id}", now=now)
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for(".dashboard"), within="/admin"), 303)
        db.session.commit()
    return render_template("admin/login.html", form=form, error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    if g.staff is not None:
        # Every session of the account ends, including any copy of this one's cookie.
        backoffice.end_sessions(db.session, g.staff.id)
        _audit("logout", f"staff #{g.staff.id}")
        db.session.commit()
    session.clear()
    return redirect(url_for(".login"), 303)


@bp.get("/")
def dashboard():
    if g.staff is None:
        return redirect(url_for(".login"))
    return render_template("admin/dashboard.html")


# --- sales ------------------------------------------------------------------------------

@bp.get("/bookings")
@requires("sales")
def bookings():
    query = select(DemoBooking).join(Lead)
    args = request.args
    if args.get("status") in BOOKING_STATUSES:
        query = query.where(DemoBooking.status == args["status"])
    if args.get("when") == "upcoming":
        query = query.where(DemoBooking.slot_start >= slots.now())
    elif args.get("when") == "past":
        query = query.where(DemoBooking.slot_start < slots.now())
    for name, column in (("country", DemoBooking.country), ("locale", Lead.locale)):
        if args.get(name):
            query = query.where(column == args[name])
    for name, op in (("from", "ge"), ("to", "lt")):
        try:
            day = date.fromisoformat(args.get(name, ""))
        except ValueError:
            continue
        moment = datetime.combine(day + timedelta(days=1 if op == "lt" else 0), datetime.min.time(),
                                  tzinfo=slots.now().tzinfo)
        query = query.where(DemoBooking.slot_start >= moment if op == "ge" else DemoBooking.slot_start < moment)
    if args.get("q"):
        needle = f"%{args['q'].strip()[:100]}%"
        query = query.where(or_(Lead.name.ilike(needle), Lead.email.ilike(needle), DemoBooking.company.ilike(needle)))
    rows = db.session.scalars(query.order_by(DemoBooking.slot_start.desc()).limit(500)).all()
    return render_template("admin/bookings.html", rows=rows, statuses=BOOKING_STATUSES, args=args)


# Ids are matched signed and of any length, then checked by _get_or_404: a negative or
# out-of-range id is a 404 (unsigned, "-1" fell through to the GET-only catch-all: a 405).
@bp.get("/bookings/<int(signed=True):booking_id>")
@requires("sales")
def booking(booking_id: int):
    row = _get_or_404(DemoBooking, booking_id)
    _audit("view-booking", f"booking #{row.id}")
    db.session.commit()
    return render_template("admin/booking.html", row=row, statuses=BOOKING_STATUSES)


@bp.post("/bookings/<int(signed=True):booking_id>/status")
@requires("sales")
def booking_status(booking_id: int):
    row = _get_or_404(DemoBooking, booking_id)
    status = request.form.get("status")
    if status not in BOOKING_STATUSES[1:] or row.status == "cancelled":
        abort(400)
    row.status = status
    if status == "cancelled":
        row.seat = None  # the slot is free again
        row.sequence += 1  # the invitation's SEQUENCE: a later calendar file supersedes it
        row.changed_at = slots.now()
        demo_manage.cancel_reminders(db.session, row.lead_id)
        msg = leads.person_message(row.lead, "mail/demo_cancelled.txt", "demo_cancelled", booking=row,
                                   when=leads.booking_time(row), reply_to=current_app.config["MAIL_SALES_TEAM"])
        mail.enqueue(db.session, msg, kind="demo-cancelled", lead_id=row.lead_id)
    _audit("booking-status", f"booking #{row.id}", status)
    db.session.commit()
    flash(f"Booking #{row.id} is now {status}.")
    return redirect(url_for(".booking", booking_id=row.id), 303)


@bp.get("/leads.csv")
@requires("sales")
def leads_csv():
    body = backoffice.export_csv(db.session, dsr.unsubscribe_url)
    db.session.commit()  # end the read (it held no lock): the audit entry is a short write of its own
    _audit("export-leads", None, f"{body.count(chr(10)) - 1} rows")
    db.session.commit()
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="iptor-marketing-leads.csv"',
                             "Cache-Control": "no-store"})


# --- privacy ----------------------------------------------------------------------------

@bp.get("/requests")
@requires("privacy")
def requests_queue():
    rows = backoffice.open_requests_by_due(db.session)
    return render_template("admin/requests.html", rows=rows, today=slots.now().date(), open=dsr.OPEN)


@bp.get("/requests/<int(signed=True):request_id>")
@requires("privacy")
def privacy_request(request_id: int):
    row = _get_or_404(PrivacyInquiry, request_id)
    tokens = db.session.scalars(select(RequestToken).where(RequestToken.inquiry_id == row.id)
                                .order_by(RequestToken.id)).all()
    _audit("view-request", backoffice.request_target(row))
    db.session.commit()
    return render_template("admin/request.html", row=row, tokens=tokens, today=slots.now().date(), open=dsr.OPEN,
                           others=dsr.same_address(db.session, row))


@bp.post("/requests/<int(signed=True):request_id>/action")
@requires("privacy")
def request_action(request_id: int):
    row = _get_or_404(PrivacyInquiry, request_id)
    action = request.form.get("action")
    reason = (request.form.get("reason") or "").strip()[:2000]
    now = slots.now()
    if row.status not in dsr.OPEN or row.status == "awaiting_verification":
        abort(409)
    try:
        if action == "start":
            dsr.change_status(db.session, row, "in_progress", actor=g.staff.email, now=now, reason=reason or None)
            template, subject = "mail/request_started.txt", "request_started"
        elif action == "extend":
            dsr.extend(db.session, row, months=int(request.form.get("months", "2")), reason=reason,
                       actor=g.staff.email, now=now)
            template = None
        elif action == "complete":
            dsr.change_status(db.session, row, "completed", actor=g.staff.email, now=now, reason=reason or None)
            template, subject = "mail/request_completed.txt", "request_completed"
        elif action == "reject":
            if not reason:
                raise ValueError("a rejection needs a reason")
            dsr.change_status(db.session, row, "rejected", actor=g.staff.email, now=now, reason=reason)
            template, subject = "mail/request_rejected.txt", "request_rejected"
        else:
            abort(400)
    except ValueError as exc:
        db.session.rollback()
        flash(f"Not done: {exc}.", "error")
        return redirect(url_for(".privacy_request", request_id=row.id), 303)
    if template:
        msg = leads.person_message(row.lead, template, subject, inquiry=row, reason=reason)
        mail.enqueue(db.session, msg, kind=f"request-{action}", lead_id=row.lead_id)
    _audit(f"request-{action}", backoffice.request_target(row), reason or None)
    db.session.commit()
    flash(f"Request #{row.id}: {action} done; the person has been told.")
    return redirect(url_for(".privacy_request", request_id=row.id), 303)


@bp.get("/consent-log")
@requires("privacy")
def consent_log():
    rows = db.session.scalars(select(CookieConsentEvent).order_by(CookieConsentEvent.id.desc()).limit(500)).all()
    return render_template("admin/consent_log.html", rows=rows)


# --- admin ------------------------------------------------------------------------------

@bp.route("/staff", methods=["GET", "POST"])
@requires("admin")
def staff():
    error = None
    if request.method == "POST":
        if request.form.get("action") == "deactivate":
            ident = request.form.get("id", "")
            if not ident.isascii() or not ident.isdigit():
                abort(400)
            user = _get_or_404(StaffUser, int(ident) if len(ident) <= 20 else 0)
            if user.id == g.staff.id:
                abort(400)
            if backoffice.end_sessions(db.session, user.id, deactivate=True):
                _audit("staff-deactivate", f"staff #{user.id}")
            db.session.commit()
            return redirect(url_for(".staff"), 303)
        try:
            user = backoffice.create_staff(db.session, request.form.get("email", ""), request.form.get("password", ""),
                                           request.form.get("role", ""), slots.now())
            db.session.flush()
            _audit("staff-create", f"staff #{user.id}", user.role)
            db.session.commit()
            return redirect(url_for(".staff"), 303)
        except ValueError as exc:
            db.session.rollback()
            error = str(exc)
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    return render_template("admin/staff.html", users=users, roles=ROLES, error=error), (422 if error else 200)


@bp.get("/audit")
@requires("admin")
def audit_log():
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1000)).all()
    return render_template("admin/audit.html", rows=rows)


@bp.app_context_processor
def staff_context():
    return {"staff": g.get("staff"), "may": backoffice.may}
