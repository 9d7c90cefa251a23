"""The readable page of the access export: every value labelled and formatted in the
person's language (the JSON beside it keeps stable keys and ISO 8601 dates)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_time, format_timedelta, get_datetime_format, get_timezone_location
from babel.numbers import format_decimal
from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from iptor_site.core.locales import format_day, format_locale
from iptor_site.privacy_requests.forms import REQUEST_TYPES

#: Statuses of requests, bookings and links, and the other codes the export holds.
CODES = {
    "awaiting_verification": _l("Awaiting your confirmation"),
    "verified": _l("Confirmed"),
    "in_progress": _l("In progress"),
    "extended": _l("Deadline extended"),
    "completed": _l("Completed"),
    "rejected": _l("Rejected"),
    "expired": _l("Expired"),
    "booked": _l("Booked"),
    "held": _l("Held"),
    "no-show": _l("Not attended"),
    "cancelled": _l("Cancelled"),
    "verify": _l("Confirmation link"),
    "download": _l("Download link"),
    "demo": _l("Demo booking"),
    "privacy-inquiry": _l("Privacy request"),
    "inquiry": _l("Privacy request"),
    "marketing": _l("Marketing e-mails"),
    "privacy-request": _l("Your privacy request"),
    "unsubscribe": _l("Unsubscribe link"),
    "honeypot": _l("A field meant to stay empty was filled in"),
    "bad-token": _l("The form had expired or was not the site's"),
    "too-fast": _l("The form was sent too quickly after it was opened"),
}
#: States of a link.
LINK_STATES = {"valid": _l("Still valid"), "used": _l("Used"), "expired": _l("Link expired")}
#: Reasons the site itself writes into a request's history.
REASONS = {
    "received": _l("Request received"),
    "address confirmed": _l("E-mail address confirmed"),
    "marketing switched off": _l("Marketing e-mails switched off"),
    "data downloaded": _l("Data downloaded"),
    "not confirmed before the link expired": _l("Not confirmed before the link expired"),
    "the same request was submitted again and joined to this one":
        _l("The same request was submitted again and joined to this one"),
}
#: The form fields a caught submission can hold.
FIELDS = {
    "name": _l("Full name"),
    "email": _l("E-mail address"),
    "company": _l("Company"),
    "country": _l("Country"),
    "phone": _l("Phone"),
    "users": _l("Number of users"),
    "message": _l("Message"),
    "slot": _l("Date and time"),
    "time_zone": _l("Time zone"),
    "request_type": _l("Request type"),
    "details": _l("Details"),
    "community": _l("Online community profile"),
    "california_resident": _l("California resident"),
    "privacy_notice": _l("Privacy notice acknowledged"),
    "marketing": _l("Marketing e-mails"),
    "website": _l("Field meant to stay empty"),
    "raw": _l("Content"),
}


class Formatter:
    """Values as the person reads them, in ``locale``."""

    def __init__(self, locale: str):
        self.locale = format_locale(locale)
        self.babel = Locale.parse(locale)

    def when(self, value: datetime | None, zone: str | None = None) -> str:
        if value is None:
            return "–"
        try:
            tzinfo = ZoneInfo(zone) if zone else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            tzinfo = ZoneInfo("UTC")
        local = value.astimezone(tzinfo)
        # Babel's long date and time, joined by the locale's own pattern ("{1} 'à' {0}"),
        # with the date written by the site's helper (French "1er décembre").
        glue = get_datetime_format("long", locale=self.locale).replace("'", "")
        return (glue.replace("{0}", format_time(local, "long", tzinfo=tzinfo, locale=self.locale))
                .replace("{1}", format_day(local.date(), "long", locale=self.locale)))

    def day(self, value: date | None) -> str:
        return "–" if value is None else format_day(value, "long", locale=self.locale)

    def yesno(self, value) -> str:
        return _("Yes") if value else _("No")

    def code(self, value: str | None) -> str:
        if value is None:
            return "–"
        label = CODES.get(value) or REQUEST_TYPES.get(value)
        return str(label) if label is not None else value

    def link_state(self, value: str) -> str:
        return str(LINK_STATES.get(value, value))

    def reason(self, value: str | None) -> str:
        return "–" if not value else str(REASONS.get(value, value))

    def country(self, code: str | None) -> str:
        return "–" if not code else self.babel.territories.get(code.upper(), code)

    def language(self, code: str | None) -> str:
        if not code:
            return "–"
        try:
            return Locale.parse(code).get_display_name(self.locale) or code
        except (ValueError, TypeError):
            return code

    def zone(self, name: str | None) -> str:
        try:
            return get_timezone_location(ZoneInfo(name), locale=self.locale) if name else "–"
        except (ZoneInfoNotFoundError, ValueError, LookupError):
            return name

    def minutes(self, value: int | None) -> str:
        return "–" if value is None else format_timedelta(timedelta(minutes=value), locale=self.locale)

    def number(self, value) -> str:
        return "–" if value is None else format_decimal(value, locale=self.locale)

    def text(self, value) -> str:
        if value is None or value == "":
            return "–"
        if isinstance(value, bool):
            return self.yesno(value)
        if isinstance(value, (int, float)):
            return self.number(value)
        return str(value)

    def field(self, name: str) -> str:
        return str(FIELDS.get(name, name))

    def field_value(self, name: str, value) -> str:
        if name == "country" and isinstance(value, str):
            return self.country(value)
        if name == "request_type" and isinstance(value, str):
            return self.code(value)
        if name in {"community", "california_resident", "privacy_notice", "marketing"}:
            return self.yesno(value not in (None, False, "", "n", "false"))
        return self.text(value)


def render(data: dict, locale: str, json_name: str) -> str:
    """The page, in ``locale`` (call inside ``force_locale(locale)``); ``json_name``
    is the name of the JSON file beside it."""
    return render_template("privacy_requests/export.html", data=data, fmt=Formatter(locale), export_locale=locale,
                           json_name=json_name)
