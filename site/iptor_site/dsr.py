"""Data-subject requests: verification, deadlines, and the self-service the policy promises.

Nothing is disclosed or changed before the person proves they hold the address,
by a POST from a single-use, expiring link sent to it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import zipfile
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from .models import (
    ConsentRevocation,
    ConsentStamp,
    DemoBooking,
    ErasureRecord,
    Lead,
    OutboxMessage,
    PrivacyInquiry,
    RequestStatusChange,
    RequestToken,
    SpamSubmission,
    Suppression,
)

#: How the deletion certificate and the result page name what was erased.
DELETION_KINDS = {
    "leads": _l("Contact records"),
    "demo_bookings": _l("Demo bookings"),
    "privacy_requests": _l("Privacy requests"),
    "consent_records": _l("Consent records"),
    "mails": _l("E-mails"),
    "caught_as_spam": _l("Submissions held as suspected spam"),
}
OPEN = ("awaiting_verification", "verified", "in_progress", "extended")
STATUSES = (*OPEN, "completed", "rejected", "expired")
SELF_SERVICE = {"access", "portability", "erasure", "marketing-opt-out"}
FLAGS = {"restriction": "restricted", "objection": "objected"}
SUBJECT, SYSTEM = "data subject", "system"


# --- addresses, hashed --------------------------------------------------------------

def email_hash(address: str) -> str:
    """Keyed hash of an address: finds a person's rows without storing the address."""
    key = current_app.config["SUPPRESSION_KEY"].encode()
    return hmac.new(key, address.strip().casefold().encode(), hashlib.sha256).hexdigest()


def is_suppressed(session: Session, address: str) -> bool:
    return session.scalar(select(Suppression.id).where(Suppression.email_hash == email_hash(address))) is not None


def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(address: str) -> str:
    """A signed token for unsubscribe links; it carries the keyed hash, never the address."""
    return _unsubscribe_serializer().dumps(email_hash(address))


def unsubscribe_url(address: str, lang: str) -> str:
    """The link marketing mail to ``address`` carries (List-Unsubscribe and in the text)."""
    from .rendering import absolute_url

    return absolute_url("privacy_requests.unsubscribe", lang=lang, token=unsubscribe_token(address))


def read_unsubscribe_token(token: str) -> str | None:
    try:
        value = _unsubscribe_serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) and len(value) == 64 else None


# --- deadlines and status -----------------------------------------------------------

def due_date(received: datetime, request_type: str, community: bool) -> date:
    """30 days (a setting); erasure of an online-community profile: 8 weeks."""
    if request_type == "erasure" and community:
        return (received + timedelta(weeks=8)).date()
    return (received + timedelta(days=current_app.config["INQUIRY_RESPONSE_DAYS"])).date()


def change_status(session: Session, inquiry: PrivacyInquiry, to: str, *, actor: str, now: datetime,
                  reason: str | None = None) -> None:
    if to not in STATUSES:
        raise ValueError(f"unknown status {to!r}")
    session.add(RequestStatusChange(inquiry_id=inquiry.id, at=now, from_status=inquiry.status, to_status=to,
                                    actor=actor, reason=reason))
    inquiry.status = to
    if to == "verified":
        inquiry.verified_at = now
    if to in {"completed", "rejected"}:
        inquiry.completed_at = now


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def extend(session: Session, inquiry: PrivacyInquiry, *, months: int, reason: str, actor: str,
           now: datetime) -> None:
    """Extend the deadline by up to two further months (GDPR Art. 12(3)), with a reason and a notice."""
    from . import mail
    from .leads import person_message

    if not 1 <= months <= 2:
        raise ValueError("an extension is one or two months")
    if not reason.strip():
        raise ValueError("an extension needs a reason")
    if inquiry.status not in OPEN or inquiry.status == "awaiting_verification":
        raise ValueError(f"request {inquiry.id} is {inquiry.status}")
    if inquiry.extension_reason:
        raise ValueError(f"request {inquiry.id} has been extended already")
    inquiry.due_on = add_months(inquiry.due_on, months)
    inquiry.extension_reason = reason.strip()
    change_status(session, inquiry, "extended", actor=actor, now=now, reason=reason.strip())
    msg = person_message(inquiry.lead, "mail/inquiry_extended.txt", "inquiry_extended", inquiry=inquiry)
    mail.enqueue(session, msg, kind="inquiry-extended", lead_id=inquiry.lead_id)


def overdue(session: Session, today: date, within_days: int = 7) -> list[PrivacyInquiry]:
    """Open requests past their due date or due within ``within_days``, soonest first."""
    return list(session.scalars(
        select(PrivacyInquiry)
        .where(PrivacyInquiry.status.in_(OPEN), PrivacyInquiry.due_on <= today + timedelta(days=within_days))
        .order_by(PrivacyInquiry.due_on, PrivacyInquiry.id)
    ))


_OPEN_REQUEST = (
    select(PrivacyInquiry.id).join(Lead)
    .where(Lead.email_hash == bindparam("email_hash"), PrivacyInquiry.request_type == bindparam("request_type"),
           PrivacyInquiry.status.in_(OPEN))
    .order_by(PrivacyInquiry.id).limit(1)
)


def find_duplicate(session: Session, address: str, request_type: str) -> PrivacyInquiry | None:
    """An open request of the same type for the same address."""
    # Asked on every inquiry, under the write lock: one statement built once, run
    # without the ORM; the row is loaded only for the rare duplicate.
    found = session.connection().scalar(_OPEN_REQUEST, {"email_hash": email_hash(address),
                                                        "request_type": request_type})
    return session.get(PrivacyInquiry, found) if found is not None else None


# --- single-use links ----------------------------------------------------------------

def new_token() -> str:
    """A fresh single-use token; only its digest is stored (``store_token``)."""
    return secrets.token_urlsafe(32)


def store_token(session: Session, inquiry_id: int, purpose: str, raw: str, now: datetime) -> None:
    """Make ``raw`` a link for ``purpose`` on the inquiry, valid for REQUEST_LINK_HOURS."""
    hours = current_app.config["REQUEST_LINK_HOURS"]
    session.add(RequestToken(inquiry_id=inquiry_id, purpose=purpose, token_hash=_digest(raw),
                             created_at=now, expires_at=now + timedelta(hours=hours)))


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def check_token(session: Session, raw: str, purpose: str, now: datetime) -> tuple[RequestToken | None, str | None]:
    """The token's row and None, or None/row and why it cannot be used: unknown, used or expired."""
    row = session.scalar(select(RequestToken).where(RequestToken.token_hash == _digest(raw),
                                                    RequestToken.purpose == purpose))
    if row is None:
        return None, "unknown"
    if row.used_at is not None:
        return row, "used"
    if row.expires_at <= now:
        return row, "expired"
    return row, None


# --- what a verified request does by itself --------------------------------------------

def leads_of(session: Session, address: str) -> list[Lead]:
    return list(session.scalars(select(Lead).where(Lead.email_hash == email_hash(address)).order_by(Lead.id)))


def opt_out(session: Session, hashed: str, *, source: str, now: datetime) -> int:
    """Marketing off at once for every lead of the address, revocations recorded, address suppressed."""
    leads = list(session.scalars(select(Lead).where(Lead.email_hash == hashed)))
    for lead in leads:
        if lead.marketing_opt_in:
            session.add(ConsentRevocation(lead_id=lead.id, consent_key="marketing", at=now, source=source))
        lead.marketing_opt_in = False
    if session.scalar(select(Suppression.id).where(Suppression.email_hash == hashed)) is None:
        session.add(Suppression(email_hash=hashed, created_at=now, source=source))
    return len(leads)


def export(session: Session, address: str) -> dict:
    """Everything the site stores about an address, as plain data."""
    leads = leads_of(session, address)
    mails = session.scalars(
        select(OutboxMessage).where(or_(OutboxMessage.recipient == address,
                                        OutboxMessage.lead_id.in_([lead.id for lead in leads])))
        .order_by(OutboxMessage.id)
    ).all()

    def when(value):
        return value.isoformat() if value else None

    def stamp(record: ConsentStamp | None):
        if record is None:
            return None
        return {
            "time": when(record.created_at), "locale": record.locale, "policy_version": record.policy_version,
            "form": record.form_name, "form_version": record.form_version, "page_url": record.page_url,
            "ip_address": record.ip_address, "user_agent": record.user_agent,
            "browser_consent_id": record.cookie_consent_id,
            "statements": [{"text": item.text.text, "sha256": item.text.sha256, "language": item.text.locale,
                            "ticked": item.ticked} for item in record.items],
        }

    revocations = session.scalars(select(ConsentRevocation).where(
        ConsentRevocation.lead_id.in_([lead.id for lead in leads]))).all()
    return {
        "email": address,
        "exported_at": when(datetime.now().astimezone()),
        "leads": [{
            "id": lead.id, "kind": lead.kind, "created_at": when(lead.created_at), "language": lead.locale,
            "name": lead.name, "email": lead.email, "marketing_opt_in": lead.marketing_opt_in,
            "restricted": lead.restricted, "objected": lead.objected,
            "consent": stamp(lead.consent),
            "consent_revocations": [{"consent": r.consent_key, "at": when(r.at), "source": r.source}
                                    for r in revocations if r.lead_id == lead.id],
            "demo_booking": None if lead.booking is None else {
                "slot_start": when(lead.booking.slot_start), "minutes": lead.booking.duration_minutes,
                "time_zone": lead.booking.time_zone, "company": lead.booking.company,
                "country": lead.booking.country, "phone": lead.booking.phone, "users": lead.booking.users,
                "message": lead.booking.message, "status": lead.booking.status},
            "privacy_request": None if lead.inquiry is None else {
                "number": lead.inquiry.id, "type": lead.inquiry.request_type, "details": lead.inquiry.details,
                "received_at": when(lead.inquiry.received_at), "due_on": lead.inquiry.due_on.isoformat(),
                "status": lead.inquiry.status,
                "history": [{"at": when(h.at), "from": h.from_status, "to": h.to_status, "reason": h.reason}
                            for h in lead.inquiry.history]},
        } for lead in leads],
        "mails": [{
            "to": m.recipient,
            # A message the sender has not built yet has no subject to show.
            "subject": None if m.message is None
            else str(message_from_bytes(m.message, policy=policy.default)["Subject"]),
            "written_at": when(m.created_at), "sent_at": when(m.sent_at),
        } for m in mails],
    }


def export_archive(session: Session, address: str) -> bytes:
    """The export as a ZIP: machine-readable JSON and a readable HTML page."""
    data = export(session, address)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("my-data.json", json.dumps(data, ensure_ascii=False, indent=2))
        archive.writestr("my-data.html", render_template("privacy/export.html", data=data))
    return buffer.getvalue()


def erase(session: Session, address: str, *, request_type: str, received_at: datetime, now: datetime) -> dict:
    """Delete every row that holds the address; keep only the erasure record (and a
    suppression hash if the person had opted out). Returns counts by kind."""
    hashed = email_hash(address)
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.email_hash == hashed)))

    def count(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    counts = {
        "demo_bookings": count(DemoBooking, DemoBooking.lead_id.in_(lead_ids)),
        "privacy_requests": count(PrivacyInquiry, PrivacyInquiry.lead_id.in_(lead_ids)),
        "consent_records": count(ConsentStamp, ConsentStamp.lead_id.in_(lead_ids)),
        "mails": count(OutboxMessage, or_(OutboxMessage.lead_id.in_(lead_ids), OutboxMessage.recipient == address)),
        "leads": len(lead_ids),
    }
    spam = [row.id for row in session.scalars(
        select(SpamSubmission).where(SpamSubmission.payload.contains(address)))]
    counts["caught_as_spam"] = len(spam)
    session.execute(delete(OutboxMessage).where(
        or_(OutboxMessage.lead_id.in_(lead_ids), OutboxMessage.recipient == address)))
    session.execute(delete(SpamSubmission).where(SpamSubmission.id.in_(spam)))
    for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids))):
        session.delete(lead)  # cascades: consent stamps, bookings, requests, their links and history
    session.add(ErasureRecord(request_type=request_type, received_at=received_at, completed_at=now,
                              deleted=json.dumps({k: v for k, v in counts.items() if v})))
    return {k: v for k, v in counts.items() if v}


def make_unreadable(session: Session) -> None:
    """After a committed deletion: on SQLite, deleted content is zeroed (secure_delete)
    and the write-ahead log is checkpointed and truncated, so nothing deleted is left
    on disk. PostgreSQL needs a VACUUM (``flask privacy vacuum``)."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside any transaction, which would hold the log
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def deletion_kind(kind: str) -> str:
    return str(DELETION_KINDS.get(kind, kind))
