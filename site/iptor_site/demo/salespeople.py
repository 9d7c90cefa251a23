"""The salespeople who give demos: their weekly hours, time off, meeting link and calendar.

Service functions take a session and add or flush; the view or command commits.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from datetime import date, time
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from iptor_site.core.locales import valid_time_zone
from iptor_site.core.settings import derive_key
from iptor_site.core.staff import StaffUser, normal_email
from iptor_site.demo.models import SalesProfile, SalesTimeOff

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(r"\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(.+?)\s*")
_SPAN = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))")

#: Weekly hours: ISO weekday (1 = Monday) -> [(start, end)], ``time(0)`` as the end meaning midnight.
Hours = dict[int, list[tuple[time, time]]]


class SalesError(ValueError):
    """A value a salesperson's settings cannot take; the message says why, in English."""


def parse_hours(text: str) -> Hours:
    """``"mon-fri 09:00-17:00; sat 10:00-12:00"``: groups separated by ``;`` or ``,``, each a
    day or a range of days and one or more ``HH:MM-HH:MM`` spans (``24:00`` ends a day)."""
    hours: Hours = {}
    text = (text or "").strip().lower()
    if not text:
        raise SalesError("working hours are needed, such as 'mon-fri 09:00-17:00'")
    for group in re.split(r"[;,]", text):
        match = _GROUP.fullmatch(group)
        if not match or match[1] not in DAYS or (match[2] and match[2] not in DAYS):
            raise SalesError(f"{group.strip()!r} is not a day or days and hours, such as 'mon-fri 09:00-17:00'")
        first = DAYS.index(match[1]) + 1
        last = DAYS.index(match[2]) + 1 if match[2] else first
        if last < first:
            raise SalesError(f"{group.strip()!r}: the days run from Monday to Sunday")
        spans = []
        for span in match[3].split():
            found = _SPAN.fullmatch(span)
            if not found:
                raise SalesError(f"{span!r} is not a span of hours such as 09:00-17:00")
            start = time(int(found[1]), int(found[2]))
            end = time(0) if found[5] else time(int(found[3]), int(found[4]))
            if end != time(0) and end <= start:
                raise SalesError(f"{span!r} ends before it starts")
            spans.append((start, end))
        for day in range(first, last + 1):
            hours.setdefault(day, []).extend(spans)
    for spans in hours.values():
        spans.sort()
    return hours


def normal_hours(text: str) -> str:
    """The hours as given, checked, with spacing made regular: what is stored."""
    parse_hours(text)
    groups = [" ".join(part.split()) for part in re.split(r"[;,]", text.strip().lower())]
    return "; ".join(re.sub(r"\s*-\s*", "-", group) for group in groups)


# --- encrypted calendar credentials -------------------------------------------------------

def _fernet() -> Fernet:
    config = current_app.config
    secret = config["CALENDAR_KEY"] or derive_key(config["SECRET_KEY"], "calendar-credentials")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt_credentials(username: str, password: str) -> str:
    return _fernet().encrypt(json.dumps({"username": username, "password": password}).encode()).decode()


def decrypt_credentials(token: str | None) -> tuple[str | None, str | None]:
    """(user name, password); (None, None) without credentials. A token another key made
    (CALENDAR_KEY or SECRET_KEY changed) raises SalesError: set the calendar again."""
    if not token:
        return None, None
    try:
        values = json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SalesError("the calendar credentials were stored with another key: set them again") from None
    return values["username"], values["password"]


# --- the profiles --------------------------------------------------------------------------

def salesperson(session: Session, email: str) -> StaffUser:
    """The active ``sales`` staff account with ``email``."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == normal_email(email)))
    if user is None or not user.active:
        raise SalesError(f"{email.strip()} is not an active staff account")
    if user.role != "sales":
        raise SalesError(f"{user.email} has the role {user.role}; only staff with the sales role give demos")
    return user


def checked_url(value: str, what: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise SalesError(f"the {what} has an impossible port, got {value!r}") from None
    if parts.scheme not in {"https", "http"} or not parts.hostname or any(c.isspace() for c in value) \
            or len(value) > 500:
        raise SalesError(f"the {what} must be an http(s) address, got {value!r}")
    return value


def _private(address: str) -> bool:
    return not ipaddress.ip_address(address.split("%")[0]).is_global


def checked_calendar_url(value: str) -> str:
    """A calendar address staff may enter: https on the internet, unless the operator
    allows servers on loopback and private networks (CALENDAR_PRIVATE_HOSTS), which may
    also be plain http. Without it, a sales account could make the site send requests
    (with a password) to services only the server can reach."""
    url = checked_url(value, "calendar address")
    if current_app.config["CALENDAR_PRIVATE_HOSTS"]:
        return url
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise SalesError(f"the calendar address must be https, got {url!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    try:
        literal = _private(host)
    except ValueError:
        literal = host == "localhost" or host.endswith(".localhost")
    if literal:
        raise SalesError(f"the calendar address names a local or private host ({host}); "
                         "set CALENDAR_PRIVATE_HOSTS=on to allow one")
    return url


def calendar_host_allowed(url: str) -> bool:
    """Before each request to a calendar: False when CALENDAR_PRIVATE_HOSTS is off and the
    host resolves to a loopback, private, link-local or reserved address (or does not
    resolve), however the address was stored."""
    if current_app.config["CALENDAR_PRIVATE_HOSTS"]:
        return True
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # no such host, or a port out of range
        return False
    return parts.scheme == "https" and bool(found) and not any(_private(info[4][0]) for info in found)


def set_hours(session: Session, user: StaffUser, hours: str, time_zone: str | None,
              meeting_url: str | None = None) -> SalesProfile:
    """Set the weekly hours (and zone, and the meeting link when given; "" removes it)."""
    profile = session.get(SalesProfile, user.id)
    zone = time_zone or (profile.time_zone if profile else current_app.config["DEMO_TIMEZONE"])
    if valid_time_zone(zone) != zone:
        raise SalesError(f"{zone!r} is not an IANA time zone such as Europe/Stockholm")
    stored = normal_hours(hours)
    if profile is None:
        profile = SalesProfile(staff_id=user.id, hours=stored, time_zone=zone)
        session.add(profile)
    profile.hours, profile.time_zone = stored, zone
    if meeting_url is not None:
        profile.meeting_url = checked_url(meeting_url, "meeting link") if meeting_url.strip() else None
    session.flush()
    return profile


def _profile(session: Session, user: StaffUser) -> SalesProfile:
    profile = session.get(SalesProfile, user.id)
    if profile is None:
        raise SalesError(f"{user.email} has no working hours yet: set them first")
    return profile


def set_meeting_url(session: Session, user: StaffUser, url: str) -> None:
    _profile(session, user).meeting_url = checked_url(url, "meeting link") if url.strip() else None


def set_calendar(session: Session, user: StaffUser, url: str | None, username: str = "", password: str = "",
                 keep_password: bool = False) -> None:
    """Connect a CalDAV calendar (``url`` None or empty disconnects it). With
    ``keep_password`` an empty password keeps the stored one."""
    profile = _profile(session, user)
    if not url or not url.strip():
        profile.calendar_url = profile.calendar_credentials = None
        return
    url = checked_calendar_url(url)
    if keep_password and not password and profile.calendar_credentials:
        password = decrypt_credentials(profile.calendar_credentials)[1] or ""
    profile.calendar_url = url
    profile.calendar_credentials = encrypt_credentials(username, password) if username or password else None


def add_time_off(session: Session, user: StaffUser, first: date, last: date | None = None) -> SalesTimeOff:
    last = last or first
    if last < first:
        raise SalesError(f"time off must end on or after its first day ({first.isoformat()})")
    _profile(session, user)
    row = SalesTimeOff(staff_id=user.id, first_day=first, last_day=last)
    session.add(row)
    session.flush()
    return row


def remove_time_off(session: Session, user: StaffUser, ident: int) -> bool:
    return session.execute(delete(SalesTimeOff).where(SalesTimeOff.id == ident,
                                                      SalesTimeOff.staff_id == user.id)).rowcount == 1


# --- what availability and assignment read ------------------------------------------------------

@dataclass(frozen=True)
class Salesperson:
    """A snapshot of one salesperson, read in one short transaction and used after it ends."""

    id: int
    email: str
    time_zone: str
    hours: Hours
    time_off: tuple[tuple[date, date], ...]
    meeting_url: str | None
    calendar_url: str | None
    calendar_credentials: str | None


def giving_demos(session: Session) -> list[Salesperson]:
    """Every active ``sales`` account with working hours, by id."""
    rows = session.execute(
        select(StaffUser.id, StaffUser.email, SalesProfile)
        .join(SalesProfile, SalesProfile.staff_id == StaffUser.id)
        .where(StaffUser.active.is_(True), StaffUser.role == "sales")
        .order_by(StaffUser.id)
    ).all()
    if not rows:
        return []
    off: dict[int, list[tuple[date, date]]] = {}
    for staff_id, first, last in session.execute(
            select(SalesTimeOff.staff_id, SalesTimeOff.first_day, SalesTimeOff.last_day)
            .where(SalesTimeOff.staff_id.in_([row[0] for row in rows]))):
        off.setdefault(staff_id, []).append((first, last))
    return [Salesperson(staff_id, email, profile.time_zone, parse_hours(profile.hours), tuple(off.get(staff_id, ())),
                        profile.meeting_url, profile.calendar_url, profile.calendar_credentials)
            for staff_id, email, profile in rows]
