"""Data-subject requests: verification, deadlines, and the self-service the policy promises.

Nothing is disclosed or changed before the person proves they hold the address,
by a POST from a single-use, expiring link sent to it.
"""

from __future__ import annotations

import atexit
import calendar
import contextlib
import hashlib
import hmac
import io
import json
import re
import secrets
import threading
import time
import zipfile
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

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
FLAGS = {"restriction": "restricted", "objection": "objected"}
SUBJECT, SYSTEM = "data subject", "system"


# --- addresses, hashed --------------------------------------------------------------

def email_hash(address: str) -> str:
    """Keyed hash of an address: finds a person's rows without storing the address."""
    key = current_app.config["SUPPRESSION_KEY"].encode()
    return hmac.new(key, address.strip().casefold().encode(), hashlib.sha256).hexdigest()


def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(address: str) -> str:
    """A signed token for unsubscribe links; it carries the keyed hash, never the address."""
    return _unsubscribe_serializer().dumps(email_hash(address))


def unsubscribe_url(address: str, lang: str) -> str:
    """The link marketing mail to ``address`` carries (List-Unsubscribe and in the text),
    and the marketing export's: on SITE_URL (``rendering.public_url``)."""
    from .rendering import public_url

    return public_url("privacy_requests.unsubscribe", lang=lang, token=unsubscribe_token(address))


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


def claim_token(session: Session, row: RequestToken, now: datetime, *, expired: bool = False) -> bool:
    """Spend the link: True for the one caller whose conditional UPDATE changed the row.

    The database decides, not the read in ``check_token``: of concurrent requests with
    the same link, every other one waits for the winner's transaction and then finds
    ``used_at`` set. Act only on True, in the same transaction, and commit once.
    ``expired`` claims a link past its lifetime (to renew it), else only a live one.
    """
    claim = (update(RequestToken).where(RequestToken.id == row.id, RequestToken.used_at.is_(None))
             .values(used_at=now))  # the session's copy of the row is updated too
    if not expired:
        claim = claim.where(RequestToken.expires_at > now)
    return session.execute(claim).rowcount == 1


def claim_verification(session: Session, inquiry: PrivacyInquiry, now: datetime) -> bool:
    """True for the one caller that confirms the request: a second submission of it
    mails another verification link, and two links must not verify it twice."""
    claim = (update(PrivacyInquiry)
             .where(PrivacyInquiry.id == inquiry.id, PrivacyInquiry.status == "awaiting_verification",
                    PrivacyInquiry.verified_at.is_(None))
             .values(verified_at=now))
    return session.execute(claim).rowcount == 1


# --- what a verified request does by itself --------------------------------------------

def leads_of(session: Session, address: str) -> list[Lead]:
    """The person's leads: matched by the keyed hash of the case-folded address."""
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



# --- whose rows: addresses compared as the person's, whatever their case ---------------

def _address_forms(address: str) -> set[str]:
    """The address as typed and as a mail envelope carries it (IDNA domain), case-folded."""
    address = address.strip()
    forms = {address.casefold()}
    local, _, domain = address.rpartition("@")
    with contextlib.suppress(UnicodeError):
        forms.add(f"{local}@{domain.encode('idna').decode('ascii')}".casefold())
    return forms


def _mentions(text: str, forms: set[str]) -> bool:
    """Whether ``text`` names one of the addresses as a whole (not inside a longer one)."""
    folded = text.casefold()
    return any(re.search(rf"(?<![\w.+-]){re.escape(form)}(?![\w-]|\.\w)", folded) for form in forms)


def _mail_rows(session: Session, address: str, lead_ids: list[int]) -> list:
    """The outbox rows about the person (their leads') or to their address, in any case."""
    forms = _address_forms(address)
    recipient = func.lower(OutboxMessage.recipient)
    # lower() folds ASCII on every database: exact for ASCII addresses; a non-ASCII
    # local part is narrowed down by its (IDNA, so ASCII) domain and compared here.
    near = [recipient.in_(sorted(form for form in forms if form.isascii()))]
    near += [recipient.endswith("@" + form.rpartition("@")[2], autoescape=True)
             for form in forms if not form.isascii() and form.rpartition("@")[2].isascii()]
    rows = session.execute(
        select(OutboxMessage).where(or_(OutboxMessage.lead_id.in_(lead_ids), *near)).order_by(OutboxMessage.id)
    ).scalars().all()
    return [row for row in rows if row.lead_id in lead_ids or row.recipient.casefold() in forms]


def _spam_rows(session: Session, address: str) -> list[SpamSubmission]:
    """Caught submissions that name the address, in any case."""
    forms = _address_forms(address)
    query = select(SpamSubmission).order_by(SpamSubmission.id)
    if all(form.isascii() for form in forms):
        query = query.where(or_(*[func.lower(SpamSubmission.payload).contains(form, autoescape=True)
                                  for form in forms]))
    return [row for row in session.scalars(query) if _mentions(row.payload, forms)]


def _mail_file_mentions(raw: bytes, forms: set[str]) -> bool:
    msg = message_from_bytes(raw, policy=policy.default)
    texts = [str(msg.get(name, "")) for name in ("To", "Cc")]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(part.get_content())
            except (LookupError, ValueError):
                texts.append(part.get_payload())
    return _mentions("\n".join(texts), forms)


def remove_mail_files(rows: list[tuple[int, bytes | None]] = (), addresses: tuple[str, ...] = ()) -> int:
    """Delete the .eml files written to MAIL_DIR (mail without SMTP) for the given
    outbox rows (``(id, message)``: same id, same bytes) and every file that names
    one of ``addresses``. Returns how many were deleted."""
    folder = Path(current_app.config["MAIL_DIR"])
    if not folder.is_dir():
        return 0
    sent = {row_id: message for row_id, message in rows if message is not None}
    forms = set().union(*(_address_forms(address) for address in addresses))
    removed = 0
    for path in sorted(folder.glob("*.eml")):
        number = path.stem.rpartition("-")[2]
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        mine = number.isdigit() and sent.get(int(number)) == raw
        if mine or (forms and _mail_file_mentions(raw, forms)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- the access export ----------------------------------------------------------------

#: Version of the export's JSON layout (its keys are described in README.md).
EXPORT_FORMAT = "iptor-personal-data/2"


def _collect(session: Session, address: str, now: datetime) -> dict:
    """Everything erasure would delete for the address, as Python values."""
    leads = leads_of(session, address)
    lead_ids = [lead.id for lead in leads]
    inquiry_ids = [lead.inquiry.id for lead in leads if lead.inquiry is not None]
    tokens = session.scalars(select(RequestToken).where(RequestToken.inquiry_id.in_(inquiry_ids))
                             .order_by(RequestToken.id)).all()
    revocations = session.scalars(select(ConsentRevocation).where(ConsentRevocation.lead_id.in_(lead_ids))
                                  .order_by(ConsentRevocation.id)).all()

    def stamp(record: ConsentStamp | None):
        if record is None:
            return None
        return {
            "time": record.created_at, "locale": record.locale, "policy_version": record.policy_version,
            "form": record.form_name, "form_version": record.form_version, "page_url": record.page_url,
            "ip_address": record.ip_address, "user_agent": record.user_agent,
            "browser_consent_id": record.cookie_consent_id,
            "statements": [{"text": item.text.text, "sha256": item.text.sha256, "language": item.text.locale,
                            "ticked": item.ticked} for item in record.items],
        }

    def link_state(token: RequestToken) -> str:
        if token.used_at is not None:
            return "used"
        return "expired" if token.expires_at <= now else "valid"

    def mail(row: OutboxMessage) -> dict:
        # A message the sender has not built yet has no subject or text to show.
        msg = None if row.message is None else message_from_bytes(row.message, policy=policy.default)
        body = None
        if msg is not None:
            part = msg.get_body(("plain",))
            body = part.get_content() if part is not None else None
        return {"to": row.recipient, "subject": None if msg is None else str(msg["Subject"]),
                "written_at": row.created_at, "sent_at": row.sent_at, "body": body}

    def fields(payload: str) -> dict:
        try:
            value = json.loads(payload)
        except ValueError:
            return {"raw": payload}
        return value if isinstance(value, dict) else {"raw": payload}

    return {
        "format": EXPORT_FORMAT,
        "email": address,
        "exported_at": now,
        "leads": [{
            "id": lead.id, "kind": lead.kind, "created_at": lead.created_at, "language": lead.locale,
            "name": lead.name, "email": lead.email, "marketing_opt_in": lead.marketing_opt_in,
            "restricted": lead.restricted, "objected": lead.objected,
            "consent": stamp(lead.consent),
            "consent_revocations": [{"consent": r.consent_key, "at": r.at, "source": r.source}
                                    for r in revocations if r.lead_id == lead.id],
            "demo_booking": None if lead.booking is None else {
                "slot_start": lead.booking.slot_start, "minutes": lead.booking.duration_minutes,
                "time_zone": lead.booking.time_zone, "company": lead.booking.company,
                "country": lead.booking.country, "phone": lead.booking.phone, "users": lead.booking.users,
                "message": lead.booking.message, "status": lead.booking.status},
            "privacy_request": None if lead.inquiry is None else {
                "reference": lead.inquiry.reference, "type": lead.inquiry.request_type, "details": lead.inquiry.details,
                "received_at": lead.inquiry.received_at, "due_on": lead.inquiry.due_on,
                "status": lead.inquiry.status,
                "history": [{"at": h.at, "from": h.from_status, "to": h.to_status, "reason": h.reason}
                            for h in lead.inquiry.history],
                "links": [{"purpose": t.purpose, "created_at": t.created_at, "expires_at": t.expires_at,
                           "used_at": t.used_at, "state": link_state(t)}
                          for t in tokens if t.inquiry_id == lead.inquiry.id]},
        } for lead in leads],
        "mails": [mail(row) for row in _mail_rows(session, address, lead_ids)],
        "caught_as_spam": [{"received_at": row.created_at, "form": row.form_name, "reason": row.reason,
                            "fields": fields(row.payload), "ip_address": row.ip_address,
                            "user_agent": row.user_agent} for row in _spam_rows(session, address)],
    }


def _plain(value):
    """``value`` with dates as ISO 8601 text, for JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def export_locale(session: Session, address: str) -> str:
    """The language of the person's latest privacy request (else of their latest lead)."""
    leads = leads_of(session, address)
    asked = [lead for lead in leads if lead.inquiry is not None] or leads
    return asked[-1].locale if asked else "en"


#: The files in the ZIP, named in the person's language.
EXPORT_FILES = {"json": _l("my-data"), "html": _l("overview")}


def export_archive(session: Session, address: str, *, locale: str | None = None,
                   now: datetime | None = None) -> bytes:
    """The export as a ZIP: machine-readable JSON and a readable HTML page, both
    named, and the page written, in the person's language."""
    from . import exportpage
    from .slots import now as clock

    data = _collect(session, address, now or clock())
    locale = locale or export_locale(session, address)
    buffer = io.BytesIO()
    with force_locale(locale), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        json_name, html_name = f"{EXPORT_FILES['json']}.json", f"{EXPORT_FILES['html']}.html"
        archive.writestr(json_name, json.dumps(_plain(data), ensure_ascii=False, indent=2))
        archive.writestr(html_name, exportpage.render(data, locale, json_name))
    return buffer.getvalue()


# --- erasure ----------------------------------------------------------------------------

def erase(session: Session, address: str, *, request_type: str, received_at: datetime, now: datetime,
          keep_lead_id: int | None = None) -> dict:
    """Delete every row that holds the address, whatever its case (and the .eml files
    of its mail); keep only the erasure record (and a suppression hash if the person
    had opted out). Returns counts by kind.

    ``keep_lead_id``: a request that stays open after the site's part is done (the
    erasure of an online-community profile) keeps its own lead until staff complete it."""
    hashed = email_hash(address)
    lead_ids = [lead_id for lead_id in session.scalars(select(Lead.id).where(Lead.email_hash == hashed))
                if lead_id != keep_lead_id]

    def count(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    mails = _mail_rows(session, address, lead_ids)
    spam = [row.id for row in _spam_rows(session, address)]
    counts = {
        "demo_bookings": count(DemoBooking, DemoBooking.lead_id.in_(lead_ids)),
        "privacy_requests": count(PrivacyInquiry, PrivacyInquiry.lead_id.in_(lead_ids)),
        "consent_records": count(ConsentStamp, ConsentStamp.lead_id.in_(lead_ids)),
        "mails": len(mails),
        "leads": len(lead_ids),
        "caught_as_spam": len(spam),
    }
    # The files go now, before the certificate is written to the same folder; should
    # the transaction fail, they were copies of mail whose outbox rows remain.
    remove_mail_files([(row.id, row.message) for row in mails], (address,))
    session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_([row.id for row in mails])))
    session.execute(delete(SpamSubmission).where(SpamSubmission.id.in_(spam)))
    from .demo.calendar_sync import leads_erased

    leads_erased(session, lead_ids)  # their demo events leave the salespeople's calendars
    for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids))):
        session.delete(lead)  # cascades: consent stamps, bookings, requests, their links and history
    session.add(ErasureRecord(request_type=request_type, received_at=received_at, completed_at=now,
                              deleted=json.dumps({k: v for k, v in counts.items() if v})))
    return {k: v for k, v in counts.items() if v}


#: The tables that hold personal data, rewritten on PostgreSQL after an erasure or purge.
PERSONAL_TABLES = ("leads", "consent_stamps", "consent_stamp_items", "demo_bookings", "privacy_inquiries",
                   "request_status_changes", "request_tokens", "outbox", "spam_submissions",
                   "consent_revocations")
#: What the retention purge and ``flask privacy vacuum`` rewrite besides.
LOGS = ("cookie_consent_events", "audit_log")
#: How long a rewrite waits for a table's lock before it gives up and tries again.
LOCK_TIMEOUT = "5s"
RETRIES = 3


#: How long a rewrite waits for transactions that may still see the deleted rows.
SNAPSHOT_WAIT_SECONDS = 60
_OLDER_SNAPSHOTS = """
    SELECT count(*) FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND backend_xmin IS NOT NULL
      AND backend_type <> 'autovacuum worker' AND xact_start < %(since)s
"""


def rewrite_tables(engine, tables) -> None:
    """PostgreSQL: ``VACUUM FULL`` each table, after a deletion has committed.

    A plain VACUUM only marks dead tuples' space reusable and leaves their bytes
    in the pages; VACUUM FULL copies the rows into new files and truncates the
    old ones, indexes and TOAST included. It also copies rows deleted so recently
    that an older transaction may still see them, so it first waits (up to
    ``SNAPSHOT_WAIT_SECONDS``) for every transaction begun before it to end, in
    any database of the server (tests showed others' snapshots holding rows back).
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        since = conn.exec_driver_sql("SELECT clock_timestamp()").scalar()
        deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
        while conn.exec_driver_sql(_OLDER_SNAPSHOTS, {"since": since}).scalar():
            if time.monotonic() > deadline:
                current_app.logger.warning("a transaction older than the deletion is still open: "
                                           "VACUUM FULL may keep the rows it can still see")
                break
            time.sleep(0.1)
        conn.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        for table in sorted(tables):
            for attempt in range(1, RETRIES + 1):
                try:
                    conn.exec_driver_sql(f"VACUUM (FULL) {conn.dialect.identifier_preparer.quote(table)}")
                    break
                except OperationalError:  # the lock did not come in time: busy now, try again
                    if attempt == RETRIES:
                        raise
                    time.sleep(attempt)


class Scrubber:
    """Rewrites tables after deletions, in a thread of its own: off the request path,
    and without waiting for a cron job."""

    def __init__(self, app):
        self.app = app
        self.changed = threading.Condition()
        self.tables: set[str] = set()
        self.busy = False
        self.thread: threading.Thread | None = None

    def request(self, tables) -> None:
        with self.changed:
            self.tables.update(tables)
            self.changed.notify_all()
            if self.thread is None or not self.thread.is_alive():
                if self.thread is None:
                    atexit.register(self.wait_idle, 30)
                self.thread = threading.Thread(target=self._serve, name="table-scrubber", daemon=True)
                self.thread.start()

    def wait_idle(self, timeout: float = 60) -> bool:
        """Wait until every requested rewrite has run; False on timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: not self.tables and not self.busy, timeout)

    def _serve(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.tables)
                tables, self.tables, self.busy = self.tables, set(), True
            try:
                with self.app.app_context():
                    try:
                        rewrite_tables(self.app.extensions["database"].kw["bind"], tables)
                    except Exception:  # noqa: BLE001 - logged; the next erasure, purge or vacuum retries
                        current_app.logger.exception("rewriting %s failed", ", ".join(sorted(tables)))
            finally:
                with self.changed:
                    self.busy = False
                    self.changed.notify_all()


_scrubber_lock = threading.Lock()


def scrubber(app=None) -> Scrubber:
    app = app or current_app._get_current_object()
    with _scrubber_lock:
        if "scrubber" not in app.extensions:
            app.extensions["scrubber"] = Scrubber(app)
        return app.extensions["scrubber"]


def make_unreadable(session: Session, tables=PERSONAL_TABLES) -> None:
    """After a committed deletion, make what was deleted unreadable on disk.

    SQLite: deleted content is zeroed (secure_delete) and the write-ahead log is
    checkpointed and truncated here. PostgreSQL: ``tables`` are rewritten
    (``rewrite_tables``) by the scrubber thread when called while serving a request
    or from another thread (the mail sender), and right away in a command.
    """
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        if has_request_context() or threading.current_thread() is not threading.main_thread():
            scrubber().request(tables)
        else:
            rewrite_tables(engine, tables)
        return
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside any transaction, which would hold the log
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def vacuum_sqlite(engine) -> None:
    """SQLite: rebuild the file without free pages, then empty the write-ahead log.
    VACUUM cannot run in a transaction: it goes over a raw connection, which this
    app's connections leave in autocommit (see ``db._tune_sqlite``)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def deletion_kind(kind: str) -> str:
    return str(DELETION_KINDS.get(kind, kind))
