"""Who may use the back-office, and what every back-office view shares: the staff member
signed in (``g.staff``), the role check, the id check and the audit entry of a view.

Each area of the back-office is a blueprint of its own under ``/admin`` (``backoffice.views``
for sign-in, staff and the audit log, ``demo_views`` for sales, ``request_views`` for the
privacy team); ``protect`` gives each the same sign-in check."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps

from flask import Blueprint, abort, g, redirect, request, session, url_for
from sqlalchemy import select

from iptor_site.backoffice import accounts
from iptor_site.core import audit, clock
from iptor_site.core.extensions import db
from iptor_site.core.staff import StaffUser

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
#: The largest id an Integer id column holds (PostgreSQL's are 32-bit, and refuse to even
#: compare with a larger number): any id beyond it is a 404, not a 500.
MAX_ID = 2**31 - 1


def protect(bp: Blueprint) -> Blueprint:
    """Load the signed-in staff member before every request of ``bp``."""
    bp.before_request(load_staff)
    return bp


def load_staff():
    """``g.staff``: the staff member of this session, or None once it has expired, was
    signed out everywhere, or the account was deactivated."""
    g.lang = "en"  # the back-office speaks English
    g.status_page = True  # never indexed, never cached
    g.staff = None
    staff_id = session.get("staff_id")
    if staff_id is None:
        return
    now = clock.now()
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
                return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
            if not accounts.may(g.staff.role, area):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def get_or_404(model, ident: int):
    """The row of ``model`` with id ``ident``, or 404 (also for an id no column can hold)."""
    if not 0 < ident <= MAX_ID:
        abort(404)
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row


def record(action: str, target: str | None = None, details: str | None = None) -> None:
    """An audit entry for what the signed-in staff member did or looked at."""
    audit.audit(db.session, g.staff.email, action, target, details)


def staff_names(ids) -> dict[int, str]:
    """Staff e-mail addresses by id, for the ids given (None skipped)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(ids))).all())
