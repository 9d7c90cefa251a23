"""Privacy inquiries from data subjects."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for

from .. import antispam, dsr, formflow, leads, selfservice, slots
from ..extensions import csrf, db, limiter
from ..i18n import format_day
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

    def done(inquiry_id):
        session[SESSION_KEY] = inquiry_id
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
        due=format_day(inquiry.due_on, "long"),
        received=format_day(inquiry.received_at, "long"),
    )


# --- verification and self-service -------------------------------------------------

RESULT_KEY = "privacy_request_result"


def _problem_page(problem: str, token: str | None = None, status: int = 410):
    g.status_page = True
    return render_template("privacy/link_problem.html", problem=problem, token=token), status


@bp.route("/privacy/requests/verify/<token>", methods=["GET", "POST"])
def verify(token: str):
    """GET shows a confirm button; only the POST verifies, so mail scanners that
    open links confirm nothing."""
    now = slots.now()
    row, problem = dsr.check_token(db.session, token, "verify", now)
    if problem:
        return _problem_page(problem, token if problem == "expired" else None,
                             404 if problem == "unknown" else 410)
    inquiry = row.inquiry
    if request.method == "GET":
        g.status_page = True
        return render_template("privacy/verify.html", inquiry=inquiry,
                               request_label=REQUEST_TYPES[inquiry.request_type])
    row.used_at = now
    result = selfservice.verify(db.session, inquiry, now)
    session[RESULT_KEY] = result
    response = redirect(url_for(".request_done"), 303)
    return response


@bp.post("/privacy/requests/verify/<token>/renew")
def renew(token: str):
    """An expired link: send a fresh one to the address on file (shown to nobody)."""
    now = slots.now()
    row, problem = dsr.check_token(db.session, token, "verify", now)
    if problem != "expired" or row.inquiry.status not in dsr.OPEN:
        return _problem_page(problem or "used", None, 410)
    leads.resend_verification(db.session, row.inquiry, now)
    g.status_page = True
    page = render_template("privacy/link_problem.html", problem="renewed", token=None)
    return Response(page)


@bp.get("/privacy/requests/done")
def request_done():
    """What the confirmed request did (counts and kinds only; nothing personal)."""
    result = session.get(RESULT_KEY)
    if not result:
        return redirect(url_for(".inquiry"))
    g.status_page = True
    return render_template("privacy/request_done.html", result=result,
                           request_label=REQUEST_TYPES[result["type"]])


@bp.route("/privacy/requests/download/<token>", methods=["GET", "POST"])
def download(token: str):
    """The person's data, once: GET shows the button, the POST hands over the file."""
    now = slots.now()
    row, problem = dsr.check_token(db.session, token, "download", now)
    if problem:
        return _problem_page(problem, None, 404 if problem == "unknown" else 410)
    if request.method == "GET":
        g.status_page = True
        return render_template("privacy/download.html")
    row.used_at = now
    inquiry = row.inquiry
    archive = dsr.export_archive(db.session, inquiry.lead.email)
    dsr.change_status(db.session, inquiry, "completed", actor=dsr.SUBJECT, now=now, reason="data downloaded")
    db.session.commit()
    return Response(archive, mimetype="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="iptor-my-data.zip"',
                             "Cache-Control": "no-store"})


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the authority; RFC 8058 one-click posts carry nothing else
def unsubscribe(token: str):
    """Marketing e-mail unsubscribe: a button on the page, or the one-click POST of RFC 8058."""
    hashed = dsr.read_unsubscribe_token(token)
    if hashed is None:
        return _problem_page("unknown", None, 404)
    g.status_page = True
    if request.method == "GET":
        return render_template("privacy/unsubscribe.html", done=False)
    dsr.opt_out(db.session, hashed, source="unsubscribe", now=slots.now())
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response(status=200)
    return render_template("privacy/unsubscribe.html", done=True)
