"""The back-office's rules: staff accounts, sign-in with lockout, roles, audit, lead export."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from iptor_site.backoffice.models import StaffSignInFailures
from iptor_site.consent.models import Suppression
from iptor_site.core.audit import audit
from iptor_site.core.models import UTCDateTime
from iptor_site.core.staff import ROLES, StaffUser, normal_email
from iptor_site.demo.models import DemoBooking
from iptor_site.leads.models import Lead
from iptor_site.privacy_requests import lifecycle
from iptor_site.privacy_requests.models import PrivacyInquiry, ProcessingLimit

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal which do.
_DUMMY_HASH = _hasher.hash("not a real password")
#: Who may open what: each area and the roles allowed in it.
AREAS = {"sales": {"sales", "admin"}, "privacy": {"privacy", "admin"}, "admin": {"admin"}}


def create_staff(session: Session, email: str, password: str, role: str, now: datetime) -> StaffUser:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not email.strip():
        raise ValueError("an e-mail address is needed")
    try:
        # The same check as the site's forms; no DNS look-up, so accounts can be made offline.
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{email.strip()!r} is not a valid e-mail address: {exc}") from None
    if len(password) < 12:
        raise ValueError("the password needs at least 12 characters")
    email = normal_email(email)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise ValueError(f"{email} exists already")
    user = StaffUser(email=email, password_hash=_hasher.hash(password), role=role, active=True,
                     created_at=now, session_epoch=0)
    session.add(user)
    return user


def authenticate(session: Session, email: str, password: str, network: str, now: datetime) -> StaffUser | None:
    """The account, if the password is right; else None, alike for an unknown or inactive
    account, a wrong password and a locked one, each after one Argon2 verification.

    Failures are counted per account and client ``network`` (the truncated address):
    MAX_FAILURES in a row lock that network out of that account for LOCKOUT, so an
    attacker's network locks only itself. Each attempt first claims its place in the
    count with one conditional statement, which also sets the lock on the last place;
    only an attempt that got a place is checked against the account's hash. However
    many arrive at once, at most MAX_FAILURES wrong passwords are tried before the lock.
    """
    user = session.scalar(select(StaffUser).where(StaffUser.email == normal_email(email),
                                                  StaffUser.active.is_(True)))
    if user is None:
        _verify_dummy(password)
        return None
    place = _claim_attempt(session, user.id, network, now)
    if place is None:  # locked: the same work and the same answer as a wrong password
        _verify_dummy(password)
        audit(session, user.email, "login-refused-locked", f"staff #{user.id}", f"network {network}", now=now)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        audit(session, user.email, "login-failed", f"staff #{user.id}", f"network {network}", now=now)
        if place >= MAX_FAILURES:
            audit(session, user.email, "account-locked", f"staff #{user.id}",
                  f"network {network} until {(now + LOCKOUT).isoformat()}", now=now)
        return None
    session.execute(delete(StaffSignInFailures).where(StaffSignInFailures.staff_id == user.id,
                                                      StaffSignInFailures.network == network))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _verify_dummy(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)


def _claim_attempt(session: Session, staff_id: int, network: str, now: datetime) -> int | None:
    """Count one more attempt for the account from ``network`` and return its place in
    the row (1 to MAX_FAILURES), or None while the network is locked out. One statement:
    the database, not Python, decides, so concurrent attempts each get their own place.
    A successful attempt deletes the row; an expired lock starts the count again."""
    table = StaffSignInFailures.__table__
    col = table.c
    at = literal(now, UTCDateTime())
    expired = and_(col.locked_until.is_not(None), col.locked_until <= at)
    place = case((expired, 1), else_=col.failures + 1)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(staff_id=staff_id, network=network, failures=1,
                locked_until=now + LOCKOUT if MAX_FAILURES <= 1 else None)
        .on_conflict_do_update(
            index_elements=[col.staff_id, col.network],
            set_={"failures": place,
                  "locked_until": case((place >= MAX_FAILURES, literal(now + LOCKOUT, UTCDateTime())), else_=None)},
            where=or_(col.locked_until.is_(None), col.locked_until <= at),
        )
        .returning(col.failures)
    )
    return session.execute(statement).scalar_one_or_none()


def end_sessions(session: Session, staff_id: int, deactivate: bool = False) -> bool:
    """End every session of the account now (sign-out, deactivation): the epoch each
    session carries no longer matches. False when there is no such (active) account."""
    values = {"session_epoch": StaffUser.session_epoch + 1}
    if deactivate:
        values["active"] = False
    changed = session.execute(update(StaffUser).where(StaffUser.id == staff_id, StaffUser.active.is_(True))
                              .values(**values))
    return changed.rowcount == 1


def may(role: str, area: str) -> bool:
    return role in AREAS[area]


# --- the marketing export ---------------------------------------------------------------

# What spreadsheets read as the start of a formula, including Excel with a semicolon
# list separator (as in the Netherlands, France and Germany) and full-width signs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", ";", "|", "\uff1d", "\uff0b", "\uff0d", "\uff20")
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
    return list(session.scalars(select(PrivacyInquiry).order_by(
        PrivacyInquiry.status.in_(lifecycle.OPEN).desc(), PrivacyInquiry.due_on, PrivacyInquiry.id)))
