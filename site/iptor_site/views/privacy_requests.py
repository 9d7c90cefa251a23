"""Privacy inquiries from data subjects."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_babel import format_date

from .. import antispam, formflow, leads
from ..extensions import csrf, db, limiter
from ..models import PrivacyInquiry
from ..ratelimits import per_email, per_ip
from ..webforms import REQUEST_TYPES, InquiryForm
from .pages import privacy_version

bp = Blueprint("privacy_requests", __name__, url_prefix="/<locale:lang>")

FORM_NAME = "privacy-inquiry"
SESSION_KEY = "privacy_inquiry"


def _render(form: InquiryForm, status: int = 200, notice: str | None = None) -> Response:
    return Response(render_template("privacy/inquiry.html", form=form, notice=notice), status=status)


@bp.route("/privacy/inquiry", methods=["GET", "POST"])
@csrf.exempt  # the form validates its own CSRF token, so a failure keeps what was typed
@limiter.limit(per_ip, methods=["POST"])
@limiter.limit(per_email, key_func=per_email.key, methods=["POST"])
def inquiry():
    """File a request about one's personal data; the policy's links preselect its type."""
    form = InquiryForm()
    if request.method == "GET":
        wanted = request.args.get("type")
        if wanted in REQUEST_TYPES:
            form.request_type.data = wanted
        form.started.data = antispam.start_token(FORM_NAME)
        return _render(form)

    def save(db_session, now):
        return leads.file_inquiry(db_session, form, policy_version=privacy_version(), now=now)

    def done(inquiry):
        session[SESSION_KEY] = inquiry.id
        return redirect(url_for(".inquiry_received"), 303)

    return formflow.submit(form, FORM_NAME, save, lambda status, notice=None: _render(form, status, notice), done)


@bp.get("/privacy/inquiry/received")
def inquiry_received():
    """What happens next, and the date by which we answer."""
    inquiry_id = session.get(SESSION_KEY)
    inquiry = db.session.get(PrivacyInquiry, inquiry_id) if inquiry_id else None
    if inquiry is None:
        return redirect(url_for(".inquiry"))
    g.status_page = True
    return render_template(
        "privacy/inquiry_received.html",
        inquiry=inquiry,
        request_label=REQUEST_TYPES[inquiry.request_type],
        due=format_date(inquiry.due_on, "long"),
        received=format_date(inquiry.received_at, "long"),
    )
