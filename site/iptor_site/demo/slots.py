"""The demo calendar: which 45-minute slots are offered, and which are still free."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import get_global
from babel.dates import format_time, get_timezone, get_timezone_gmt, get_timezone_location, get_timezone_name
from flask import current_app
from flask_babel import get_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from iptor_site.core import clock
from iptor_site.core.locales import collation_key, format_day
from iptor_site.demo import availability, closures
from iptor_site.demo.models import DemoBooking

#: Time zones offered in the select; a valid zone the browser reports is added to it.
TIME_ZONES = (
    "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Amsterdam", "Europe/Brussels",
    "Europe/Luxembourg", "Europe/Paris", "Europe/Berlin", "Europe/Zurich", "Europe/Vienna",
    "Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Helsinki", "Europe/Madrid",
    "Europe/Rome", "Europe/Warsaw", "Europe/Prague", "Europe/Athens", "Europe/Istanbul",
    "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai",
    "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Toronto", "America/Mexico_City",
    "America/Sao_Paulo", "UTC",
)
DEFAULT_TIME_ZONE = {
    "en": "Europe/London",
    "nl": "Europe/Amsterdam",
    "fr": "Europe/Paris",
    "de": "Europe/Berlin",
}


def utc_offset(zone_name: str, at: datetime) -> str:
    """The zone's offset from UTC at ``at``: "UTC", "UTC+1", "UTC−3", "UTC+5:30"."""
    offset = at.astimezone(ZoneInfo(zone_name)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes > 0 else "\u2212"
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_place(zone_name: str, locale=None) -> str:
    """Where a zone is, in ``locale``: "Deutschland (Berlin)" where the country has
    several zones, "France (heure locale)" where it has one, never CLDR's nested
    "Deutschland (Berlin) (Ortszeit)" or "heure : France"."""
    locale = Locale.parse(locale or get_locale())
    if zone_name == "UTC":
        return "UTC"
    # Browsers report ICU's names, some of them old aliases ("Asia/Katmandu").
    canonical = get_global("zone_aliases").get(zone_name, zone_name)
    territory = get_global("zone_territories").get(canonical)
    country = locale.territories.get(territory) if territory and territory != "001" else None
    city = get_timezone_location(canonical, locale=locale, return_city=True)
    if not country:
        return city
    if len(get_global("territory_zones").get(territory, ())) > 1:
        return gettext("%(country)s (%(city)s)", country=country, city=city)
    return gettext("%(country)s (local time)", country=country)


def zone_label(zone_name: str, at: datetime | None = None, locale=None) -> str:
    """One clean label per zone with its offset at ``at``: "Deutschland (Berlin) – UTC+1"."""
    if zone_name == "UTC":
        return "UTC"
    return gettext("%(place)s – %(offset)s", place=zone_place(zone_name, locale),
                   offset=utc_offset(zone_name, at or clock.now()))


def time_zone_choices(selected: str) -> list[tuple[str, str]]:
    """(zone, localized label) pairs, in the language's collation order, including ``selected``."""
    zones = set(TIME_ZONES) | {selected}
    locale = get_locale()
    at = clock.now()
    key = collation_key(str(locale))
    places = {zone: zone_place(zone, locale) for zone in zones}
    ordered = sorted(zones, key=lambda zone: (key(places[zone]), zone))
    return [(zone, zone_label(zone, at, locale)) for zone in ordered]


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _days(at: datetime | None) -> list[date]:
    """The next DEMO_DAYS_AHEAD working days, from tomorrow in the demo time zone,
    without public holidays (DEMO_HOLIDAY_COUNTRY) and DEMO_CLOSED_DATES."""
    config = current_app.config
    workdays = {int(d) for d in config["DEMO_WORKDAYS"].split(",")}
    day = (at or clock.now()).astimezone(ZoneInfo(config["DEMO_TIMEZONE"])).date()
    days = []
    while len(days) < config["DEMO_DAYS_AHEAD"]:
        day += timedelta(days=1)
        if day.isoweekday() in workdays and not closures.is_closed(day, config):
            days.append(day)
    return days


def is_offered(slot: datetime, at: datetime | None = None) -> bool:
    """Whether ``slot`` is one of ``offered()``, without building the whole calendar."""
    config = current_app.config
    zone = ZoneInfo(config["DEMO_TIMEZONE"])
    local = slot.astimezone(zone)
    if local.date() not in _days(at) or slot < closures.earliest(at or clock.now(), config):
        return False
    start = datetime.combine(local.date(), _clock(config["DEMO_DAY_START"]), tzinfo=zone)
    closing = datetime.combine(local.date(), _clock(config["DEMO_DAY_END"]), tzinfo=zone)
    length = timedelta(minutes=config["DEMO_SLOT_MINUTES"])
    offset = slot - start
    return start <= slot and slot + length <= closing and offset % length == timedelta(0)


def offered(at: datetime | None = None) -> list[datetime]:
    """Every slot of the next DEMO_DAYS_AHEAD working days, from tomorrow, in UTC, none
    sooner than DEMO_MIN_NOTICE_HOURS."""
    config = current_app.config
    soonest = closures.earliest(at or clock.now(), config)
    zone = ZoneInfo(config["DEMO_TIMEZONE"])
    length = timedelta(minutes=config["DEMO_SLOT_MINUTES"])
    start, end = _clock(config["DEMO_DAY_START"]), _clock(config["DEMO_DAY_END"])
    slots = []
    for day in _days(at):
        slot = datetime.combine(day, start, tzinfo=zone)
        closing = datetime.combine(day, end, tzinfo=zone)
        while slot + length <= closing:
            if slot >= soonest:
                slots.append(slot.astimezone(UTC))
            slot = (slot.astimezone(UTC) + length).astimezone(zone)
    return slots


def free(session: Session, at: datetime | None = None) -> list[datetime]:
    """Offered slots that still have a seat, or a free salesperson when any gives demos."""
    slots = offered(at)
    if not slots:
        return []
    by_salespeople = availability.free(session, slots)
    if by_salespeople is not None:
        return by_salespeople
    taken = Counter(
        session.scalars(
            select(DemoBooking.slot_start).where(
                DemoBooking.slot_start >= slots[0],
                DemoBooking.slot_start <= slots[-1],
                DemoBooking.seat.is_not(None),
            )
        )
    )
    seats = current_app.config["DEMO_SEATS"]
    return [slot for slot in slots if taken[slot] < seats]


def slot_value(slot: datetime) -> str:
    return slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def parse_slot(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def grouped(slots: list[datetime], zone_name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Slots grouped by local day for a select's optgroups: [(day label, [(value, time label)])]."""
    zone = ZoneInfo(zone_name)
    locale = get_locale()
    groups: dict[date, list[tuple[str, str]]] = {}
    for slot in slots:
        local = slot.astimezone(zone)
        groups.setdefault(local.date(), []).append(
            (slot_value(slot), format_time(local, "short", locale=locale))
        )
    return [(format_day(day, "full", locale=locale), options) for day, options in groups.items()]


def describe(slot: datetime, zone_name: str, minutes: int) -> dict[str, str]:
    """A booked slot as the confirmation shows it, in the person's zone and language."""
    zone = ZoneInfo(zone_name)
    locale = get_locale()
    start = slot.astimezone(zone)
    finish = (slot + timedelta(minutes=minutes)).astimezone(zone)
    return {
        "date": format_day(start.date(), "full", locale=locale),
        "start": format_time(start, "short", locale=locale),
        "end": format_time(finish, "short", locale=locale),
        "zone": zone_name_offset(zone_name, slot, locale),
    }


def zone_name_offset(zone_name: str, at: datetime, locale=None) -> str:
    """The zone's name and its offset at ``at``, in ``locale``: "Central European Time
    (UTC+01:00)", "Mitteleuropäische Zeit (UTC+01:00)"; CLDR's names through Babel."""
    locale = Locale.parse(locale or get_locale())
    offset = get_timezone_gmt(at.astimezone(ZoneInfo(zone_name)), "iso8601", locale=locale)
    if zone_name == "UTC":
        return gettext("Coordinated Universal Time (UTC%(offset)s)", offset=offset)
    name = get_timezone_name(get_timezone(zone_name), "long", "generic", locale=locale)
    return gettext("%(zone)s (UTC%(offset)s)", zone=name, offset=offset)
