"""The privacy area of the back-office: the queue of data-subject requests, each request,
and the cookie-consent log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from iptor_site.backoffice import accounts
from iptor_site.backoffice.access import get_or_404, protect, record, requires
from iptor_site.consent.models import CookieConsentEvent
from iptor_site.core import clock
from iptor_site.core.extensions import db
from iptor_site.leads import people
from iptor_site.mail import outbox
from iptor_site.privacy_requests import lifecycle
from iptor_site.privacy_requests.models import PrivacyInquiry, RequestToken

bp = protect(Blueprint("admin_privacy", __name__, url_prefix="/admin"))


@bp.get("/requests")
@requires("privacy")
def requests_queue():
    rows = accounts.open_requests_by_due(db.session)
    return render_template("backoffice/requests.html", rows=rows, today=clock.now().date(), open=lifecycle.OPEN)


@bp.get("/requests/<int(signed=True):request_id>")
@requires("privacy")
def privacy_request(request_id: int):
    row = get_or_404(PrivacyInquiry, request_id)
    tokens = db.session.scalars(select(RequestToken).where(RequestToken.inquiry_id == row.id)
                                .order_by(RequestToken.id)).all()
    record("view-request", row.audit_target)
    db.session.commit()
    return render_template("backoffice/request.html", row=row, tokens=tokens, today=clock.now().date(),
                           open=lifecycle.OPEN, others=lifecycle.same_address(db.session, row))


@bp.post("/requests/<int(signed=True):request_id>/action")
@requires("privacy")
def request_action(request_id: int):
    row = get_or_404(PrivacyInquiry, request_id)
    action = request.form.get("action")
    reason = (request.form.get("reason") or "").strip()[:2000]
    now = clock.now()
    if row.status not in lifecycle.OPEN or row.status == "awaiting_verification":
        abort(409)
    try:
        if action == "start":
            lifecycle.change_status(db.session, row, "in_progress", actor=g.staff.email, now=now, reason=reason or None)
            template, subject = "privacy_requests/mail/request_started.txt", "request_started"
        elif action == "extend":
            lifecycle.extend(db.session, row, months=int(request.form.get("months", "2")), reason=reason,
                       actor=g.staff.email, now=now)
            template = None
        elif action == "complete":
            lifecycle.change_status(db.session, row, "completed", actor=g.staff.email, now=now, reason=reason or None)
            template, subject = "privacy_requests/mail/request_completed.txt", "request_completed"
        elif action == "reject":
            if not reason:
                raise ValueError("a rejection needs a reason")
            lifecycle.change_status(db.session, row, "rejected", actor=g.staff.email, now=now, reason=reason)
            template, subject = "privacy_requests/mail/request_rejected.txt", "request_rejected"
        else:
            abort(400)
    except ValueError as exc:
        db.session.rollback()
        flash(f"Not done: {exc}.", "error")
        return redirect(url_for(".privacy_request", request_id=row.id), 303)
    if template:
        msg = people.person_message(row.lead, template, subject, inquiry=row, reason=reason)
        outbox.enqueue(db.session, msg, kind=f"request-{action}", lead_id=row.lead_id)
    record(f"request-{action}", row.audit_target, reason or None)
    db.session.commit()
    flash(f"Request #{row.id}: {action} done; the person has been told.")
    return redirect(url_for(".privacy_request", request_id=row.id), 303)


@bp.get("/consent-log")
@requires("privacy")
def consent_log():
    rows = db.session.scalars(select(CookieConsentEvent).order_by(CookieConsentEvent.id.desc()).limit(500)).all()
    return render_template("backoffice/consent_log.html", rows=rows)
