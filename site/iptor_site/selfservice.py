"""What a verified privacy request does without waiting on a human."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy.orm import Session

from . import dsr, mail
from .leads import mail_link, person_message, team_inquiry_mail
from .models import PrivacyInquiry


def verify(session: Session, inquiry: PrivacyInquiry, now: datetime) -> dict:
    """Mark the request verified and carry out what needs no judgement.

    Returns what happened, for the result page (counts and kinds, nothing personal).
    """
    dsr.change_status(session, inquiry, "verified", actor=dsr.SUBJECT, now=now, reason="address confirmed")
    kind = inquiry.request_type
    address = inquiry.lead.email
    result = {"type": kind, "number": inquiry.id, "due": inquiry.due_on.isoformat()}
    if kind in {"access", "portability"}:
        mail_link(session, inquiry, purpose="download", endpoint="privacy_requests.download",
                  template="mail/download_ready.txt", subject_key="download_ready", kind="download-link", now=now)
        result["outcome"] = "download-sent"
    elif kind == "marketing-opt-out":
        dsr.opt_out(session, inquiry.lead.email_hash, source="privacy-request", now=now)
        dsr.change_status(session, inquiry, "completed", actor=dsr.SYSTEM, now=now, reason="marketing switched off")
        result["outcome"] = "opted-out"
    elif kind in dsr.FLAGS:
        for lead in dsr.leads_of(session, address):
            setattr(lead, dsr.FLAGS[kind], True)
        team_inquiry_mail(session, inquiry)
        result["outcome"] = "flagged"
    elif kind == "erasure":
        return erase(session, inquiry, now)
    else:
        team_inquiry_mail(session, inquiry)
        result["outcome"] = "with-team"
    session.commit()
    return result


def erase(session: Session, inquiry: PrivacyInquiry, now: datetime) -> dict:
    """Erase the person's data, then send them the deletion certificate.

    The certificate is the one message that names the address after the erasure;
    its outbox row is removed as soon as it has been sent.
    """
    lead = inquiry.lead
    person = {"name": lead.name, "email": lead.email, "locale": lead.locale}
    request_type, received = inquiry.request_type, inquiry.received_at
    counts = dsr.erase(session, person["email"], request_type=request_type, received_at=received, now=now)
    session.flush()
    msg = person_message(SimpleNamespace(**person), "mail/erasure_certificate.txt", "erasure_certificate",
                         counts=counts, completed=now)
    certificate = mail.enqueue(session, msg, kind=mail.EPHEMERAL, lead_id=None, hand_over=False)
    session.commit()
    mail.deliver(session, [certificate])
    dsr.make_unreadable(session)
    return {"type": request_type, "outcome": "erased", "counts": counts}
