"""The back-office at /admin/: sign-in, the home page, staff accounts and the audit log.

English only. Every action is written to the audit log; every POST carries a CSRF token.
The sales and privacy areas are ``demo_views`` and ``request_views``; ``access`` holds what
they share.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from iptor_site.backoffice import accounts
from iptor_site.backoffice.access import get_or_404, protect, record, requires
from iptor_site.core import audit, client_ip, clock
from iptor_site.core.audit import AuditEntry
from iptor_site.core.extensions import db, limiter
from iptor_site.core.security import safe_next
from iptor_site.core.staff import ROLES, StaffUser

bp = protect(Blueprint("admin", __name__, url_prefix="/admin"))
#: One answer for an unknown account, a wrong password and a locked one.
SIGN_IN_FAILED = (f"The e-mail address or password is not right, or sign-in from your network is paused: "
                  f"after {accounts.MAX_FAILURES} failed attempts in a row it waits "
                  f"{int(accounts.LOCKOUT.total_seconds() // 60)} minutes.")


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        now = clock.now()
        # Failures count per account and network: an attacker's network locks only itself.
        network = client_ip.stored_ip(request.remote_addr, "truncated") or "unknown"
        user = accounts.authenticate(db.session, form.email.data, form.password.data, network, now)
        if user is None:
            error = SIGN_IN_FAILED
        else:
            session.clear()  # a new session for the signed-in staff member
            session.update(staff_id=user.id, staff_epoch=user.session_epoch, staff_login_at=now.isoformat(),
                           staff_seen_at=now.isoformat())
            audit.audit(db.session, user.email, "login", f"staff #{user.id}", now=now)
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for(".dashboard"), within="/admin"), 303)
        db.session.commit()
    return render_template("backoffice/login.html", form=form, error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    if g.staff is not None:
        # Every session of the account ends, including any copy of this one's cookie.
        accounts.end_sessions(db.session, g.staff.id)
        record("logout", f"staff #{g.staff.id}")
        db.session.commit()
    session.clear()
    return redirect(url_for(".login"), 303)


@bp.get("/")
def dashboard():
    if g.staff is None:
        return redirect(url_for(".login"))
    return render_template("backoffice/dashboard.html")


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
            user = get_or_404(StaffUser, int(ident) if len(ident) <= 20 else 0)
            if user.id == g.staff.id:
                abort(400)
            if accounts.end_sessions(db.session, user.id, deactivate=True):
                record("staff-deactivate", f"staff #{user.id}")
            db.session.commit()
            return redirect(url_for(".staff"), 303)
        try:
            user = accounts.create_staff(db.session, request.form.get("email", ""), request.form.get("password", ""),
                                           request.form.get("role", ""), clock.now())
            db.session.flush()
            record("staff-create", f"staff #{user.id}", user.role)
            db.session.commit()
            return redirect(url_for(".staff"), 303)
        except ValueError as exc:
            db.session.rollback()
            error = str(exc)
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    return render_template("backoffice/staff.html", users=users, roles=ROLES, error=error), (422 if error else 200)


@bp.get("/audit")
@requires("admin")
def audit_log():
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1000)).all()
    return render_template("backoffice/audit.html", rows=rows)


@bp.app_context_processor
def staff_context():
    return {"staff": g.get("staff"), "may": accounts.may}
