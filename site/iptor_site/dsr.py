"""Data-subject requests: verification, deadlines, and the self-service the policy promises.

Nothing is disclosed or changed before the person proves they hold the address,
by a POST from a single-use, expiring link sent to it.
"""

from __future__ import annotations

import calendar
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
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .db import insert_rows
from .models import (
    AuditEntry,
    ConsentRevocation,
    ConsentStamp,
    DemoBooking,
    ErasureRecord,
    Lead,
    OutboxMessage,
    PrivacyInquiry,
    ProcessingLimit,
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


# --- public references ----------------------------------------------------------------

#: Crockford's base32: no I, L, O or U, so nothing reads as another symbol.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _check_symbol(symbols: str) -> str:
    """Luhn mod 32 over ``symbols``: catches any single wrong symbol and most swaps."""
    factor, total = 2, 0
    for symbol in reversed(symbols):
        addend = factor * REFERENCE_ALPHABET.index(symbol)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return REFERENCE_ALPHABET[(32 - total % 32) % 32]


def new_reference() -> str:
    """A request's public reference, e.g. ``7KQM-2XPD-W4R9``: eleven random symbols
    (55 bits) and a check symbol. Random, so it says nothing about other requests;
    the database's unique constraint refuses a repeat."""
    symbols = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(11))
    text = symbols + _check_symbol(symbols)
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


def read_reference(text: str) -> str | None:
    """A reference as typed (any case, with or without dashes, O for 0, I or L for 1)
    in its stored form, or None when it is not a well-formed one."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != 12 or any(c not in REFERENCE_ALPHABET for c in cleaned):
        return None
    if _check_symbol(cleaned[:11]) != cleaned[11]:
        return None
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}"


# --- deadlines and status -----------------------------------------------------------

def due_date(received: datetime, request_type: str, community: bool) -> date:
    """One month from receipt as GDPR Art. 12(3) counts it: the same day of the next
    month, or that month's last day when it is shorter (31 January: 28 or 29 February).
    Erasure of an online-community profile: eight weeks."""
    if request_type == "erasure" and community:
        return received.date() + timedelta(weeks=8)
    return add_months(received.date(), 1)


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
    """``day`` plus ``months`` calendar months: the same day of the month, or the
    target month's last day when it has fewer days."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def extend(session: Session, inquiry: PrivacyInquiry, *, months: int, reason: str, actor: str,
           now: datetime) -> None:
    """Extend the deadline by up to two further months (GDPR Art. 12(3)), counted from the
    due date like the first month, with a reason and a notice; refused once the due date has passed."""
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
    if now.date() > inquiry.due_on:
        raise ValueError(f"request {inquiry.id} was due on {inquiry.due_on.isoformat()}; a deadline that has passed "
                         "cannot be extended (the person must be told of an extension within the first period)")
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
    """The oldest open request of the same type for the same address: a new one is
    stored as its own request and both are noted as belonging together."""
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
    insert_rows(session, RequestToken, [{"inquiry_id": inquiry_id, "purpose": purpose, "token_hash": _digest(raw),
                                         "created_at": now, "expires_at": now + timedelta(hours=hours)}])


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


def limit_processing(session: Session, hashed: str, kind: str, now: datetime) -> None:
    """Record a verified restriction or objection for the person (by the keyed hash of
    the address), so that it also holds for leads made later; once per person and kind,
    which the unique (email_hash, kind) constraint decides."""
    if kind not in FLAGS:
        raise ValueError(f"not a restriction or objection: {kind!r}")
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(ProcessingLimit).values(email_hash=hashed, kind=kind, created_at=now)
                    .on_conflict_do_nothing(index_elements=["email_hash", "kind"]))


def same_address(session: Session, inquiry: PrivacyInquiry) -> list[PrivacyInquiry]:
    """The other requests made from the same address, oldest first (for staff)."""
    return list(session.scalars(
        select(PrivacyInquiry).join(Lead)
        .where(Lead.email_hash == inquiry.lead.email_hash, PrivacyInquiry.id != inquiry.id)
        .order_by(PrivacyInquiry.id)))


def copies_elsewhere(session: Session, address: str) -> dict:
    """Where the person's data may have gone from this site, so an erasure can reach it:
    marketing exports (the audit log records each one) taken while one of their leads was
    in the export, and mails to the sales team about their demo bookings."""
    leads = leads_of(session, address)
    revoked = dict(session.execute(
        select(ConsentRevocation.lead_id, func.min(ConsentRevocation.at))
        .where(ConsentRevocation.lead_id.in_([lead.id for lead in leads]),
               ConsentRevocation.consent_key == "marketing")
        .group_by(ConsentRevocation.lead_id)).all())
    # A lead may have been in an export taken after it was made and before its marketing
    # consent was withdrawn (the export's own rules may have left it out: "may").
    windows = [(lead.created_at, revoked.get(lead.id)) for lead in leads
               if lead.marketing_opt_in or lead.id in revoked]
    exports = []
    if windows:
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.action == "export-leads")
                                     .order_by(AuditEntry.at, AuditEntry.id)):
            if any(start <= entry.at and (end is None or entry.at < end) for start, end in windows):
                exports.append({"at": entry.at, "by": entry.actor})
    sales_mails = session.scalars(
        select(OutboxMessage.sent_at).where(OutboxMessage.lead_id.in_([lead.id for lead in leads]),
                                            OutboxMessage.kind == "demo-team", OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at)).all()
    return {"exports": exports, "sales_mails": list(sales_mails)}


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


def erase(session: Session, address: str, *, request_type: str, received_at: datetime, now: datetime,
          keep_lead_id: int | None = None) -> dict:
    """Delete every row that holds the address; keep only the erasure record (and a
    suppression hash if the person had opted out). Returns counts by kind.

    ``keep_lead_id``: a request that stays open after the site's part is done (the
    erasure of an online-community profile) keeps its own lead until staff complete it."""
    hashed = email_hash(address)
    lead_ids = [lead_id for lead_id in session.scalars(select(Lead.id).where(Lead.email_hash == hashed))
                if lead_id != keep_lead_id]

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
