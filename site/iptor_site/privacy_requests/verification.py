"""What a verified privacy request does without waiting on a human."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy.orm import Session

from iptor_site.leads import people
from iptor_site.leads.people import person_message
from iptor_site.mail import outbox
from iptor_site.privacy_requests import erasure, lifecycle
from iptor_site.privacy_requests.intake import mail_link, team_inquiry_mail, team_inquiry_message
from iptor_site.privacy_requests.models import PrivacyInquiry


def verify(session: Session, inquiry: PrivacyInquiry, now: datetime) -> dict:
    """Mark the request verified and carry out what needs no judgement.

    Returns what happened, for the result page (counts and kinds, nothing personal).
    """
    lifecycle.change_status(session, inquiry, "verified", actor=lifecycle.SUBJECT, now=now, reason="address confirmed")
    kind = inquiry.request_type
    result = {"type": kind, "due": inquiry.due_on.isoformat()}
    if kind in {"access", "portability"}:
        mail_link(session, inquiry, purpose="download", endpoint="privacy_requests.download",
                  template="privacy_requests/mail/download_ready.txt", subject_key="download_ready",
                  kind="download-link", now=now)
        result["outcome"] = "download-sent"
    elif kind == "marketing-opt-out":
        lifecycle.opt_out(session, inquiry.lead.email_hash, source="privacy-request", now=now)
        lifecycle.change_status(session, inquiry, "completed", actor=lifecycle.SYSTEM, now=now,
                                reason="marketing switched off")
        result["outcome"] = "opted-out"
    elif kind in lifecycle.FLAGS:
        # Kept for the person, so it also holds for what they submit later.
        lifecycle.limit_processing(session, inquiry.lead.email_hash, kind, now)
        for lead in people.leads_of(session, inquiry.lead.email):
            setattr(lead, lifecycle.FLAGS[kind], True)
        team_inquiry_mail(session, inquiry)
        result["outcome"] = "flagged"
    elif kind == "erasure":
        return erase(session, inquiry, now)
    else:
        team_inquiry_mail(session, inquiry)
        result["outcome"] = "with-team"
    return result


def _snapshot(inquiry: PrivacyInquiry) -> SimpleNamespace:
    """The request and its lead as plain values, readable after their rows are deleted."""
    lead = inquiry.lead
    fields = ("id", "reference", "lead_id", "request_type", "details", "california_resident", "community",
              "received_at", "due_on")
    return SimpleNamespace(**{name: getattr(inquiry, name) for name in fields},
                           lead=SimpleNamespace(name=lead.name, email=lead.email, locale=lead.locale))


def erase(session: Session, inquiry: PrivacyInquiry, now: datetime) -> dict:
    """Erase the person's data on this site, tell the privacy team what is left to do,
    then queue the person's deletion certificate, which says what is still pending.

    What the site cannot erase by itself is pending: an online-community profile (the
    request then keeps its own lead and stays open until staff complete it), and copies
    that left the site (marketing exports, mail to the sales team about demo bookings).
    Otherwise the request goes with the rest, and the certificate and the team's notice
    are removed from the outbox as soon as they have been sent.
    """
    request = _snapshot(inquiry)
    others = [SimpleNamespace(id=o.id, reference=o.reference, request_type=o.request_type,
                              received_at=o.received_at, status=o.status)
              for o in lifecycle.same_address(session, inquiry)]
    copies = erasure.copies_elsewhere(session, request.lead.email)
    community = request.community
    counts = erasure.erase(session, request.lead.email, request_type=request.request_type,
                           received_at=request.received_at, now=now,
                           keep_lead_id=request.lead_id if community else None)
    session.flush()
    team = team_inquiry_message(request, others=others, erased=counts, copies=copies, kept_open=community)
    if community:
        lifecycle.change_status(session, inquiry, inquiry.status, actor=lifecycle.SYSTEM, now=now,
                                reason="this site's data erased; the online-community profile is left "
                                       "to the privacy team")
        outbox.enqueue(session, team, kind="inquiry-team", lead_id=request.lead_id)
    else:
        outbox.enqueue(session, team, kind=outbox.EPHEMERAL, lead_id=None)
    pending = {"community": community, "exports": sorted({e["at"].date() for e in copies["exports"]}),
               "sales_mails": len(copies["sales_mails"])}
    msg = person_message(request.lead, "privacy_requests/mail/erasure_certificate.txt", "erasure_certificate",
                         counts=counts, completed=now, pending=pending, due=request.due_on)
    outbox.enqueue(session, msg, kind=outbox.EPHEMERAL, lead_id=None)
    return {"type": request.request_type, "outcome": "erased", "counts": counts, "due": request.due_on.isoformat(),
            "pending": [name for name in ("community", "exports", "sales_mails") if pending[name]],
            "exported": [day.isoformat() for day in pending["exports"]]}
