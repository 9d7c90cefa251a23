"""Erasure: deleting every row and file that names an address, and saying what may exist elsewhere."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from iptor_site.consent.models import ConsentRevocation, ConsentStamp
from iptor_site.core.audit import AuditEntry
from iptor_site.demo import calendar_sync
from iptor_site.demo.models import DemoBooking
from iptor_site.leads.models import Lead, SpamSubmission
from iptor_site.leads.people import email_hash, leads_of
from iptor_site.mail.models import OutboxMessage
from iptor_site.privacy_requests.models import (
    ErasureRecord,
    PrivacyInquiry,
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
    calendar_sync.leads_erased(session, lead_ids)  # their demo events leave the salespeople's calendars
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


def deletion_kind(kind: str) -> str:
    return str(DELETION_KINDS.get(kind, kind))


def init_app(app: Flask) -> None:
    """How templates name what was erased."""
    app.jinja_env.globals["deletion_kind"] = deletion_kind
