"""Privacy inquiries from data subjects."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms.validators import ValidationError

from iptor_site.core import clock, scrubbing
from iptor_site.core.extensions import csrf, db, limiter
from iptor_site.core.locales import format_day
from iptor_site.core.ratelimits import per_email, per_ip
from iptor_site.leads import antispam, submission
from iptor_site.legal.documents import privacy_version
from iptor_site.privacy_requests import data_export, erasure, intake, lifecycle, verification
from iptor_site.privacy_requests.forms import REQUEST_TYPES, InquiryForm
from iptor_site.privacy_requests.models import PrivacyInquiry

bp = Blueprint("privacy_requests", __name__, url_prefix="/<locale:lang>")

FORM_NAME = "privacy-inquiry"
SESSION_KEY = "privacy_inquiry"


def _render(form: InquiryForm, status: int = 200, notice: str | None = None) -> Response:
    return Response(render_template("privacy_requests/inquiry.html", form=form, notice=notice), status=status)


@bp.route("/privacy/inquiry", methods=["GET", "POST"])
@csrf.exempt  # the form validates its own CSRF token, so a failure keeps what was typed
@limiter.shared_limit(per_ip, scope="form-ip", methods=["POST"])
@limiter.shared_limit(per_email, scope="form-email", key_func=per_email.key, methods=["POST"])
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
        return intake.file_inquiry(db_session, form, policy_version=privacy_version(), now=now)

    def done(reference):
        session[SESSION_KEY] = reference  # random: the cookie says nothing about other requests
        return redirect(url_for(".inquiry_received"), 303)

    return submission.submit(form, FORM_NAME, save, lambda status, notice=None: _render(form, status, notice), done)


@bp.get("/privacy/inquiry/received")
def inquiry_received():
    """What happens next, and the date by which we answer.

    The page shows only what the visitor sent and dates that follow from it, never
    anything about other requests for the address (nor the reference, which goes to
    the address only): it is the same whether the address is new or known."""
    reference = session.get(SESSION_KEY)
    inquiry = None
    if isinstance(reference, str):
        inquiry = db.session.scalar(select(PrivacyInquiry).where(PrivacyInquiry.reference == reference))
    if inquiry is None:
        return redirect(url_for(".inquiry"))
    g.status_page = True
    return render_template(
        "privacy_requests/inquiry_received.html",
        name=inquiry.lead.name,
        email=inquiry.lead.email,
        request_label=REQUEST_TYPES[inquiry.request_type],
        due=format_day(inquiry.due_on, "long"),
        received=format_day(inquiry.received_at, "long"),
    )


# --- verification and self-service -------------------------------------------------

RESULT_KEY = "privacy_request_result"


def _problem_page(problem: str, token: str | None = None, status: int = 410):
    g.status_page = True
    return render_template("privacy_requests/link_problem.html", problem=problem, token=token), status


def _deliberate() -> bool:
    """A mailed link acts only on a POST with the CSRF token of the page it shows.

    GET and HEAD (what link scanners and previews send) only show the page; the token
    ties the POST to a person who opened that page and pressed its button.
    """
    if request.method != "POST":
        return False
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _link_page(template: str, **context):
    """The page behind a mailed link: its button, and after a POST that did not count
    (no or stale CSRF token) a notice to press it again, with 400."""
    g.status_page = True
    retry = request.method == "POST"
    return render_template(template, retry=retry, **context), 400 if retry else 200


@bp.route("/privacy/requests/verify/<token>", methods=["GET", "POST"])
@csrf.exempt  # checked by _deliberate, so a stale token gets the page again, not a bare 400
def verify(token: str):
    """GET and HEAD show a confirm button; only its POST verifies, so mail scanners that
    open links confirm nothing. The link is claimed in the database: one POST wins."""
    now = clock.now()
    row, problem = lifecycle.check_token(db.session, token, "verify", now)
    if problem:
        return _problem_page(problem, token if problem == "expired" else None,
                             404 if problem == "unknown" else 410)
    inquiry = row.inquiry
    if inquiry.status != "awaiting_verification":  # confirmed through another of its links
        return _problem_page("used")
    if not _deliberate():
        return _link_page("privacy_requests/verify.html", inquiry=inquiry,
                          request_label=REQUEST_TYPES[inquiry.request_type])
    if not lifecycle.claim_token(db.session, row, now):
        db.session.rollback()
        return _problem_page("used")
    if not lifecycle.claim_verification(db.session, inquiry, now):
        db.session.commit()  # this link is spent too
        return _problem_page("used")
    result = verification.verify(db.session, inquiry, now)
    db.session.commit()
    if result["outcome"] == "erased":
        scrubbing.make_unreadable(db.session, erasure.PERSONAL_TABLES)
    session[RESULT_KEY] = result
    return redirect(url_for(".request_done"), 303)


def _renewal_address_key() -> str:
    """A renewal mails the request's address: it counts against that address's form limit
    (and so against the request's). Read in a session of its own, closed before the
    limiter writes its count, so no transaction of this request is open meanwhile."""
    with Session(db.engine) as reading:
        row, _ = lifecycle.check_token(reading, request.view_args["token"], "verify", clock.now())
        return per_email.key_of(row.inquiry.lead.email) if row is not None else ""


@bp.post("/privacy/requests/verify/<token>/renew")
@limiter.shared_limit(per_ip, scope="form-ip", methods=["POST"])
@limiter.shared_limit(per_email, scope="form-email", key_func=_renewal_address_key, methods=["POST"])
def renew(token: str):
    """An expired link: send a fresh one to the address on file (shown to nobody).
    The expired link is spent by this, so it renews once."""
    now = clock.now()
    row, problem = lifecycle.check_token(db.session, token, "verify", now)
    if problem != "expired" or row.inquiry.status not in lifecycle.OPEN:
        return _problem_page(problem or "used", None, 410)
    if not lifecycle.claim_token(db.session, row, now, expired=True):
        db.session.rollback()
        return _problem_page("used")
    intake.resend_verification(db.session, row.inquiry, now)
    db.session.commit()
    g.status_page = True
    page = render_template("privacy_requests/link_problem.html", problem="renewed", token=None)
    return Response(page)


@bp.get("/privacy/requests/done")
def request_done():
    """What the confirmed request did (counts and kinds only; nothing personal)."""
    result = session.get(RESULT_KEY)
    if not result:
        return redirect(url_for(".inquiry"))
    g.status_page = True
    return render_template("privacy_requests/request_done.html", result=result,
                           request_label=REQUEST_TYPES[result["type"]])


@bp.route("/privacy/requests/download/<token>", methods=["GET", "POST"])
@csrf.exempt  # checked by _deliberate, as for verify
def download(token: str):
    """The person's data, once: GET and HEAD show the button, its POST hands over the file."""
    now = clock.now()
    row, problem = lifecycle.check_token(db.session, token, "download", now)
    if problem:
        return _problem_page(problem, None, 404 if problem == "unknown" else 410)
    if not _deliberate():
        return _link_page("privacy_requests/download.html")
    if not lifecycle.claim_token(db.session, row, now):
        db.session.rollback()
        return _problem_page("used")
    inquiry = row.inquiry
    archive = data_export.export_archive(db.session, inquiry.lead.email)
    lifecycle.change_status(db.session, inquiry, "completed", actor=lifecycle.SUBJECT, now=now,
                            reason="data downloaded")
    db.session.commit()
    return Response(archive, mimetype="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="iptor-my-data.zip"',
                             "Cache-Control": "no-store"})


def _one_click() -> bool:
    """The RFC 8058 one-click POST a mail provider sends: it carries nothing but this."""
    return request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click"


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the RFC 8058 one-click POST carries no CSRF token; _deliberate checks the button's
def unsubscribe(token: str):
    """Marketing e-mail unsubscribe: the button's POST, or the one-click POST of RFC 8058.
    GET and HEAD only show the button."""
    hashed = lifecycle.read_unsubscribe_token(token)
    if hashed is None:
        return _problem_page("unknown", None, 404)
    one_click = _one_click()
    if not one_click and not _deliberate():
        return _link_page("privacy_requests/unsubscribe.html", done=False)
    lifecycle.opt_out(db.session, hashed, source="unsubscribe", now=clock.now())
    db.session.commit()
    if one_click:
        return Response(status=200)
    g.status_page = True
    return render_template("privacy_requests/unsubscribe.html", done=True, retry=False)
