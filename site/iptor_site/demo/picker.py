"""The time picker without JavaScript: the free times of one week, grouped per day,
in the visitor's time zone and the language's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_interval, format_time
from flask_babel import get_locale, gettext

from iptor_site.core import clock
from iptor_site.core.locales import format_day
from iptor_site.demo import slots


@dataclass(frozen=True)
class Day:
    iso: str
    label: str
    times: list[tuple[str, str]]  # (slot value, localized start time)


@dataclass(frozen=True)
class Week:
    start: date
    label: str
    previous: date | None
    next: date | None
    days: list[Day]
    zone: str  # "Central European Time (UTC+01:00)"


def week_start(day: date, locale=None) -> date:
    """The first day of ``day``'s week, as the language counts weeks (Monday in Europe)."""
    first = Locale.parse(locale or get_locale()).first_week_day
    return day - timedelta(days=(day.weekday() - first) % 7)


def parse_week(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def week_of(free: list[datetime], zone_name: str, requested: date | None = None,
            chosen: datetime | None = None, at: datetime | None = None) -> Week:
    """One week of ``free`` times: ``requested`` (any day of it), else the week of the
    chosen time, else the first week with a free time; clamped to the weeks that have one."""
    zone = ZoneInfo(zone_name)
    locale = get_locale()
    by_week: dict[date, dict[date, list[datetime]]] = {}
    for slot in free:
        local = slot.astimezone(zone)
        by_week.setdefault(week_start(local.date(), locale), {}).setdefault(local.date(), []).append(slot)
    weeks = sorted(by_week)
    if requested is not None:
        start = week_start(requested, locale)
    elif chosen is not None:
        start = week_start(chosen.astimezone(zone).date(), locale)
    else:
        start = weeks[0] if weeks else week_start((at or clock.now()).astimezone(zone).date(), locale)
    if weeks and start not in by_week:
        later = [week for week in weeks if week > start]
        start = later[0] if later else weeks[-1]
    days = [
        Day(day.isoformat(), format_day(day, "full", locale=locale),
            [(slots.slot_value(slot), format_time(slot.astimezone(zone), "short", locale=locale))
             for slot in times])
        for day, times in sorted(by_week.get(start, {}).items())
    ]
    earlier = [week for week in weeks if week < start]
    later = [week for week in weeks if week > start]
    label = format_interval(start, start + timedelta(days=6), "yMMMd", locale=locale)
    reference = free[0] if free else (at or clock.now())
    return Week(start, label, earlier[-1] if earlier else None, later[0] if later else None, days,
                slots.zone_name_offset(zone_name, reference, locale))


def chosen_label(value: str | None, zone_name: str) -> str | None:
    """The chosen time as "Tuesday, 1 December 2026, 09:00", for a choice on another week."""
    slot = slots.parse_slot(value)
    if slot is None:
        return None
    local = slot.astimezone(ZoneInfo(zone_name))
    locale = get_locale()
    return gettext("%(date)s, %(time)s", date=format_day(local.date(), "full", locale=locale),
                   time=format_time(local, "short", locale=locale))


def kept_slot(values) -> str | None:
    """The time chosen on another week than the one shown (the picker's ``kept_slot``)."""
    value = values.get("kept_slot", "")
    return value if slots.parse_slot(value) else None
