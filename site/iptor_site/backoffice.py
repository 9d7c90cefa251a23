"""The back-office's rules: staff accounts, sign-in with lockout, roles, audit, lead export."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import dsr
from .models import AuditEntry, DemoBooking, Lead, ProcessingLimit, StaffUser, Suppression
from .models.staff import ROLES

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal which do.
_DUMMY_HASH = _hasher.hash("not a real password")
#: Who may open what: each area and the roles allowed in it.
AREAS = {"sales": {"sales", "admin"}, "privacy": {"privacy", "admin"}, "admin": {"admin"}}


def audit(session: Session, actor: str, action: str, target: str | None = None,
          details: str | None = None, now: datetime | None = None) -> None:
    """Append to the audit log (the caller commits)."""
    from .slots import now as clock

    session.add(AuditEntry(at=now or clock(), actor=actor, action=action, target=target, details=details))


def create_staff(session: Session, email: str, password: str, role: str, now: datetime) -> StaffUser:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise ValueError("the password needs at least 12 characters")
    email = email.strip().casefold()
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise ValueError(f"{email} exists already")
    user = StaffUser(email=email, password_hash=_hasher.hash(password), role=role, active=True,
                     created_at=now, failed_logins=0)
    session.add(user)
    return user


class LockedOut(Exception):
    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until


def authenticate(session: Session, email: str, password: str, now: datetime) -> StaffUser | None:
    """The account, if the password is right; counts failures and locks the account
    for a while after MAX_FAILURES in a row. Raises LockedOut while locked."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().casefold()))
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    if user.locked_until and user.locked_until > now:
        raise LockedOut(user.locked_until)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            audit(session, user.email, "account-locked", f"staff #{user.id}", now=now)
        audit(session, user.email, "login-failed", f"staff #{user.id}", now=now)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    return user


def may(role: str, area: str) -> bool:
    return role in AREAS[area]


# --- the marketing export ---------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ("lead_id", "created_at", "kind", "language", "name", "email", "company", "country", "users",
                  "unsubscribe_url")


def neutralise(value) -> str:
    """A cell that a spreadsheet shows as text and never evaluates as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def marketing_leads(session: Session) -> list[Lead]:
    """Leads that may receive marketing: consent given and not withdrawn, not suppressed,
    restricted or objecting. A restriction or objection is kept for the person (the
    address's keyed hash), so it also keeps out the leads they make afterwards."""
    suppressed = select(Suppression.email_hash)
    limited = select(ProcessingLimit.email_hash)
    return list(session.scalars(
        select(Lead).where(Lead.marketing_opt_in.is_(True), Lead.restricted.is_(False), Lead.objected.is_(False),
                           Lead.email_hash.not_in(suppressed), Lead.email_hash.not_in(limited))
        .order_by(Lead.id)
    ))


def export_csv(session: Session, unsubscribe_url) -> str:
    """The marketing export as CSV text; ``unsubscribe_url(email, lang)`` links each row's opt-out."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for lead in marketing_leads(session):
        booking: DemoBooking | None = lead.booking
        row = (lead.id, lead.created_at.isoformat(), lead.kind, lead.locale, lead.name, lead.email,
               booking.company if booking else "", booking.country if booking else "",
               booking.users if booking else "", unsubscribe_url(lead.email, lead.locale))
        writer.writerow([neutralise(v) for v in row])
    return buffer.getvalue()


def open_requests_by_due(session: Session):
    from .models import PrivacyInquiry

    return list(session.scalars(select(PrivacyInquiry).order_by(
        PrivacyInquiry.status.in_(dsr.OPEN).desc(), PrivacyInquiry.due_on, PrivacyInquiry.id)))
