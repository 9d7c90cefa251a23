"""Salespeople's CalDAV calendars: their busy times (read, cached for a minute) and the
demo events the site writes into them (PUT and DELETE, sent from the outbox)."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import caldav
from flask import current_app

from iptor_site.demo.salespeople import Salesperson, calendar_host_allowed, decrypt_credentials

#: How long busy times read from a calendar are used before it is read again.
CACHE_SECONDS = 60
#: Seconds a calendar server has to answer, reading or writing.
TIMEOUT = 10
#: The UIDs of the site's own demo events (``event_uid``): the database knows those
#: bookings already, with their current state, so they are skipped when reading.
OWN_UID = re.compile(r"demo-[0-9]+@iptor\.com")

_cache: dict[tuple, tuple[float, list[tuple[datetime, datetime]] | None]] = {}
_cache_lock = threading.Lock()


class CalendarUnavailable(Exception):
    """The calendar could not be read; its salesperson is treated as busy meanwhile."""


def monotonic() -> float:
    """The clock of the cache (tests move it)."""
    return time.monotonic()


def forget() -> None:
    """Drop every cached reading (tests; a changed calendar setting is a new key anyway)."""
    with _cache_lock:
        _cache.clear()


class CalendarHostRefused(Exception):
    """The calendar's host is on loopback or a private network, which the settings refuse."""


def _client(url: str, credentials: str | None) -> caldav.DAVClient:
    if not calendar_host_allowed(url):
        raise CalendarHostRefused(url)
    username, password = decrypt_credentials(credentials)
    client = caldav.DAVClient(url=url, username=username, password=password, timeout=TIMEOUT,
                              enable_rfc6764=False)
    if not current_app.config["CALENDAR_PRIVATE_HOSTS"]:
        client.session.max_redirects = 0  # a redirect could lead past the check to a private host
    return client


def busy(person: Salesperson, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The periods between ``start`` and ``end`` in which the person's calendar has a
    meeting (not the site's own demos; free, tentative-free and cancelled events skipped),
    in UTC. Raises CalendarUnavailable when the server cannot be read; a reading, or a
    failure, is kept for CACHE_SECONDS."""
    if not person.calendar_url:
        return []
    key = (person.id, person.calendar_url, person.calendar_credentials, start, end)
    now = monotonic()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None or now - cached[0] >= CACHE_SECONDS:
        try:
            periods = _read(person, start, end)
        except Exception as exc:  # noqa: BLE001 - any failure of the server or the client
            current_app.logger.warning("calendar of staff #%s not read: %s", person.id, type(exc).__name__)
            periods = None
        cached = (now, periods)
        with _cache_lock:
            for stale in [k for k, (at, _) in _cache.items() if now - at >= CACHE_SECONDS]:
                del _cache[stale]  # old windows and settings: the cache holds the last minute only
            _cache[key] = cached
    if cached[1] is None:
        raise CalendarUnavailable(person.id)
    return cached[1]


def _moment(value, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    if isinstance(value, date):  # an all-day event: the whole day in the salesperson's zone
        return datetime.combine(value, clock_time(0), tzinfo=zone).astimezone(UTC)
    raise ValueError(f"not a date or time: {value!r}")


def _read(person: Salesperson, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(person.time_zone)
    calendar = _client(person.calendar_url, person.calendar_credentials).calendar(url=person.calendar_url)
    periods = []
    for found in calendar.search(start=start, end=end, event=True, expand=True):
        for event in found.icalendar_instance.walk("VEVENT"):
            if OWN_UID.fullmatch(str(event.get("UID", ""))):
                continue
            if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            begins = _moment(event.decoded("DTSTART"), zone)
            if "DTEND" in event:
                ends = _moment(event.decoded("DTEND"), zone)
            elif "DURATION" in event:
                ends = begins + event.decoded("DURATION")
            else:  # RFC 5545: a date lasts the day, a date-time is an instant
                ends = begins + (timedelta(days=1) if not isinstance(event.decoded("DTSTART"), datetime)
                                 else timedelta(0))
            periods.append((begins, ends))
    return sorted(periods)


# --- writing the site's demo events -------------------------------------------------------

def event_uid(booking_id: int) -> str:
    """The booking's UID, the same as the prospect's .ics file has (``demo.bookings.demo_calendar_file``)."""
    return f"demo-{booking_id}@iptor.com"


def event_url(calendar_url: str, booking_id: int) -> str:
    return f"{calendar_url.rstrip('/')}/iptor-demo-{booking_id}.ics"


def put_event(calendar_url: str, credentials: str | None, booking_id: int, body: bytes) -> str:
    """Create or replace the booking's event; returns its URL. Raises on any failure."""
    url = event_url(calendar_url, booking_id)
    response = _client(calendar_url, credentials).put(url, body, {"Content-Type": "text/calendar; charset=utf-8"})
    if response.status not in (200, 201, 204):
        raise CalendarWriteFailed(f"PUT answered {response.status}")
    return url


def delete_event(calendar_url: str, credentials: str | None, booking_id: int) -> str:
    """Remove the booking's event (already gone counts as removed); returns its URL."""
    url = event_url(calendar_url, booking_id)
    response = _client(calendar_url, credentials).delete(url)
    if response.status not in (200, 204, 404, 410):
        raise CalendarWriteFailed(f"DELETE answered {response.status}")
    return url


class CalendarWriteFailed(Exception):
    """The calendar server refused a write; the outbox tries again later."""
