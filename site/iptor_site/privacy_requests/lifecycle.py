"""Data-subject requests: verification, deadlines, and the self-service the policy promises.

Nothing is disclosed or changed before the person proves they hold the address,
by a POST from a single-use, expiring link sent to it.
"""

from __future__ import annotations

import calendar
import hashlib
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from iptor_site.consent.models import ConsentRevocation, Suppression
from iptor_site.core.rendering import public_url
from iptor_site.leads.models import Lead
from iptor_site.leads.people import email_hash, person_message
from iptor_site.mail import outbox
from iptor_site.privacy_requests.models import (
    PrivacyInquiry,
    ProcessingLimit,
    RequestStatusChange,
    RequestToken,
)

OPEN = ("awaiting_verification", "verified", "in_progress", "extended")
STATUSES = (*OPEN, "completed", "rejected", "expired")
FLAGS = {"restriction": "restricted", "objection": "objected"}
SUBJECT, SYSTEM = "data subject", "system"


# --- addresses, hashed --------------------------------------------------------------


def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(address: str) -> str:
    """A signed token for unsubscribe links; it carries the keyed hash, never the address."""
    return _unsubscribe_serializer().dumps(email_hash(address))


def unsubscribe_url(address: str, lang: str) -> str:
    """The link marketing mail to ``address`` carries (List-Unsubscribe and in the text),
    and the marketing export's: on SITE_URL (``core.rendering.public_url``)."""

    return public_url("privacy_requests.unsubscribe", lang=lang, token=unsubscribe_token(address))


def read_unsubscribe_token(token: str) -> str | None:
    try:
        value = _unsubscribe_serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) and len(value) == 64 else None


# --- public references ----------------------------------------------------------------


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
    msg = person_message(inquiry.lead, "privacy_requests/mail/inquiry_extended.txt", "inquiry_extended",
                         inquiry=inquiry)
    outbox.enqueue(session, msg, kind="inquiry-extended", lead_id=inquiry.lead_id)


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


# --- whose rows: addresses compared as the person's, whatever their case ---------------


# --- the access export ----------------------------------------------------------------


# --- erasure ----------------------------------------------------------------------------


