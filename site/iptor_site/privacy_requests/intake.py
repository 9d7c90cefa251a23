"""Filing a privacy request: the lead, its stamp, the request, and the single-use links mailed to the person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, render_template
from sqlalchemy.orm import Session

from iptor_site.consent import stamps
from iptor_site.core.locales import force_locale
from iptor_site.core.rendering import public_url
from iptor_site.leads.people import TEAM_LOCALE, _add, _insert_lead, _lead_values, _row_and_lead, person_message
from iptor_site.mail import messages, outbox
from iptor_site.privacy_requests import lifecycle, references
from iptor_site.privacy_requests.forms import INQUIRY_FORM_VERSION, REQUEST_TYPES
from iptor_site.privacy_requests.models import PrivacyInquiry, RequestStatusChange


def team_inquiry_message(inquiry, *, others=(), erased: dict | None = None, copies: dict | None = None,
                         kept_open: bool = True) -> messages.Outgoing:
    """The privacy team's notice of a verified request (in English, the staff's language):
    its details, the other requests from the same address and, for an erasure, what was
    erased here and which copies outside the site may exist. ``inquiry`` may be a snapshot
    (an erased request is gone from the database when its notice is sent)."""
    lead = inquiry.lead
    with force_locale(TEAM_LOCALE):
        return messages.build_message(
            to_name=None,
            to_address=current_app.config["MAIL_PRIVACY_TEAM"],
            subject=(f"Verified privacy request #{inquiry.id} {inquiry.reference} ({inquiry.request_type}), "
                     f"due {inquiry.due_on.isoformat()}"),
            body=render_template("privacy_requests/mail/inquiry_team.txt", lead=lead, inquiry=inquiry, others=others,
                                 erased=erased, copies=copies, kept_open=kept_open, open_statuses=lifecycle.OPEN,
                                 request_label=REQUEST_TYPES[inquiry.request_type]),
            locale=TEAM_LOCALE,
        )


def team_inquiry_mail(session: Session, inquiry: PrivacyInquiry, **extra) -> None:
    """Tell the privacy team about a verified request, through the outbox."""
    team = team_inquiry_message(inquiry, others=lifecycle.same_address(session, inquiry), **extra)
    outbox.enqueue(session, team, kind="inquiry-team", lead_id=inquiry.lead_id)


@outbox.recipe("inquiry-link", _row_and_lead(PrivacyInquiry, "inquiry_id"))
def _inquiry_link_mail(inquiry: PrivacyInquiry, params: dict) -> messages.Outgoing:
    earlier = params.get("earlier")
    return person_message(inquiry.lead, params["template"], params["subject_key"], inquiry=inquiry,
                          link=params["link"], hours=current_app.config["REQUEST_LINK_HOURS"],
                          request_label=REQUEST_TYPES[inquiry.request_type],
                          earlier=earlier and {"reference": earlier["reference"],
                                               "received": datetime.fromisoformat(earlier["received"])})


@dataclass(frozen=True)
class Link:
    """A single-use link made before the transaction that stores it: the mail carries
    the token, the database only its digest."""

    purpose: str
    token: str
    url: str


def new_link(purpose: str, endpoint: str, lang: str) -> Link:
    """A link to ``endpoint`` in ``lang`` with a fresh token for ``purpose``."""
    token = lifecycle.new_token()
    with force_locale(lang):
        return Link(purpose, token, public_url(endpoint, lang=lang, token=token))


#: The verification link (see ``new_link``) and the mail that carries it (see ``store_link``).
VERIFY_LINK = {"purpose": "verify", "endpoint": "privacy_requests.verify"}


VERIFY_MAIL = {"template": "privacy_requests/mail/inquiry_confirmation.txt", "subject_key": "inquiry_received",
               "kind": "inquiry-verification"}


def store_link(session: Session, link: Link, *, inquiry_id: int, lead_id: int, address: str, template: str,
               subject_key: str, kind: str, now: datetime, earlier: dict | None = None) -> None:
    """Store ``link`` for the inquiry and queue the mail that carries it, in the person's
    language; ``earlier`` names an open request of the same type that the mail mentions."""
    lifecycle.store_token(session, inquiry_id, link.purpose, link.token, now)
    params = {"inquiry_id": inquiry_id, "template": template, "subject_key": subject_key, "link": link.url}
    if earlier:
        params["earlier"] = earlier
    outbox.enqueue_recipe(session, "inquiry-link", params, to_address=address, kind=kind, lead_id=lead_id)


def mail_link(session: Session, inquiry: PrivacyInquiry, *, purpose: str, endpoint: str, template: str,
              subject_key: str, kind: str, now: datetime) -> None:
    """Issue a single-use link for ``purpose`` and mail it to the person, in their language."""
    store_link(session, new_link(purpose, endpoint, inquiry.lead.locale), inquiry_id=inquiry.id,
               lead_id=inquiry.lead_id, address=inquiry.lead.email, template=template, subject_key=subject_key,
               kind=kind, now=now)


def _verification_mail(session: Session, inquiry: PrivacyInquiry, now: datetime) -> None:
    mail_link(session, inquiry, now=now, **VERIFY_LINK, **VERIFY_MAIL)


def resend_verification(session: Session, inquiry: PrivacyInquiry, now: datetime) -> None:
    """Mail the person a new verification link (the caller commits)."""
    _verification_mail(session, inquiry, now)


def file_inquiry(session: Session, form, *, policy_version: str, now: datetime) -> str:
    """Store the lead, its consent stamp and the request with its due date and public
    reference, and send the verification link; returns the reference.

    Every submission is its own request, with its own details, name and consent stamp,
    even when the address has an open request of the same type: both requests note the
    other, the privacy team sees them together and the mail tells the person (the page
    tells nobody: it is the same for every address).

    Everything is gathered before the transaction begins with the look for an open
    request, so the write lock is held for the statements only.
    """
    request_type = form.request_type.data
    lead = _lead_values(form, "inquiry", now)
    community = request_type == "erasure" and bool(form.community.data)
    # 55 random bits: a repeat is refused by the unique constraint, and the form then
    # answers "please try again" like any failed save.
    reference = references.new_reference()
    inquiry = {
        "reference": reference,
        "request_type": request_type,
        "details": form.details.data or None,
        "california_resident": bool(form.california_resident.data),
        "community": community,
        "received_at": now,
        "due_on": lifecycle.due_date(now, request_type, community),
        "status": "awaiting_verification",
    }
    stamp = stamps.prepare_stamp(form, form_name="privacy-inquiry", form_version=INQUIRY_FORM_VERSION,
                                  policy_version=policy_version, now=now)
    link = new_link(lang=lead["locale"], **VERIFY_LINK)
    earlier = lifecycle.find_duplicate(session, lead["email"], request_type)
    lead_id = _insert_lead(session, lead)
    inquiry_id = _add(session, PrivacyInquiry(**inquiry, lead_id=lead_id))
    stamps.write_stamp(session, lead_id, stamp)
    session.add(RequestStatusChange(
        inquiry_id=inquiry_id, at=now, from_status=None, to_status="awaiting_verification", actor=lifecycle.SUBJECT,
        reason="received" if earlier is None else
        f"received while request #{earlier.id} {earlier.reference} of the same type is open"))
    if earlier is not None:
        lifecycle.change_status(session, earlier, earlier.status, actor=lifecycle.SUBJECT, now=now,
                          reason=f"the same address sent another request of this type: #{inquiry_id} {reference}")
    store_link(session, link, inquiry_id=inquiry_id, lead_id=lead_id, address=lead["email"], now=now,
               earlier=earlier and {"reference": earlier.reference, "received": earlier.received_at.isoformat()},
               **VERIFY_MAIL)
    return reference
