"""Days and times never offered for a demo: public holidays, closed dates, short notice."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

#: Besides the public holidays, the days a country treats as holidays in practice
#: (Sweden's Christmas Eve, Midsummer Eve and New Year's Eve), where the package knows them.
CATEGORIES = ("public", "de_facto")


@lru_cache(maxsize=32)
def _categories(country: str) -> tuple[str, ...]:
    supported = holidays.country_holidays(country).supported_categories
    return tuple(category for category in CATEGORIES if category in supported)


@lru_cache(maxsize=32)
def holiday_dates(country: str, year: int) -> frozenset[date]:
    """The holidays of ``country`` (ISO 3166 code) in ``year``; none for an empty code."""
    if not country:
        return frozenset()
    return frozenset(holidays.country_holidays(country, years=year, categories=_categories(country)))


@lru_cache(maxsize=8)
def parse_closed_dates(value: str) -> frozenset[date]:
    """DEMO_CLOSED_DATES: comma-separated ISO dates; raises ValueError on anything else."""
    return frozenset(date.fromisoformat(part.strip()) for part in value.split(",") if part.strip())


def is_closed(day: date, config) -> bool:
    """Whether no demo is given on ``day`` (a date in the demo time zone)."""
    return (day in holiday_dates(config["DEMO_HOLIDAY_COUNTRY"], day.year)
            or day in parse_closed_dates(config["DEMO_CLOSED_DATES"]))


def earliest(at: datetime, config) -> datetime:
    """The earliest start that may be booked at ``at``: DEMO_MIN_NOTICE_HOURS later."""
    return at + timedelta(hours=config["DEMO_MIN_NOTICE_HOURS"])
