"""The site's locales, language negotiation and URL-prefix handling."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, negotiate_locale
from babel.dates import format_date as babel_format_date
from babel.lists import format_list as babel_format_list
from flask import Flask, current_app, g, has_app_context, request
from flask_babel import force_locale as _babel_force_locale
from flask_babel import get_locale, to_user_timezone
from pyuca import Collator
from werkzeug.routing import BaseConverter

#: Every locale the site speaks, in the order the language switcher shows them,
#: with its name in its own language (what a visitor looks for in a switcher).
LOCALES: dict[str, str] = {
    "en": "English",
    "nl": "Nederlands",
    "fr": "Français",
    "de": "Deutsch",
}
DEFAULT_LOCALE = "en"
#: Cookie that remembers a visitor's explicit language choice (``?lang=xx``).
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


class LocaleConverter(BaseConverter):
    """Matches only the locales the site has, so ``/xx/...`` never reaches a view."""

    regex = "|".join(LOCALES)


def negotiate(available=None) -> str:
    """Best locale for this request among ``available``.

    The saved choice (cookie) wins, then the Accept-Language header by Babel's
    rules: the visitor's languages in order of preference, each matched exactly
    or by its primary language (``fr-CH`` is French, even when ``en`` is listed
    later at a lower quality), then English or the first available.
    """
    available = list(available or LOCALES)
    saved = request.cookies.get(LANG_COOKIE)
    if saved in available:
        return saved
    # Werkzeug lists the languages best first; q=0 means "not this one".
    preferred = [lang for lang, quality in request.accept_languages if quality > 0 and lang != "*"]
    best = negotiate_locale(preferred, available, sep="-", aliases={})
    if best:
        return best
    return DEFAULT_LOCALE if DEFAULT_LOCALE in available else available[0]


def current_locale() -> str:
    """Locale of the page being rendered: the URL prefix, else negotiated.

    The prefix also counts on URLs that matched no route, so that
    ``/nl/no-such-page`` gets a Dutch "page not found".
    """
    lang = g.get("lang")
    if lang:
        return lang
    prefix = request.path.split("/", 2)[1]
    if prefix in LOCALES:
        return prefix
    return negotiate()


#: The formats English pages use unless ENGLISH_FORMAT_LOCALE says otherwise: a European
#: reader's (24-hour clock, day before month), not Babel's plain "en" (US formats).
ENGLISH_FORMAT_DEFAULT = "en_GB"


def format_locale(code) -> str:
    """The Babel locale that formats dates, times and numbers for the site locale ``code``.

    English pages stay under ``/en/`` with the English texts; only their formats come
    from ENGLISH_FORMAT_LOCALE (en_GB by default). Every other locale formats as itself.
    """
    code = str(code)
    if code != "en":
        return code
    if has_app_context():
        return current_app.config.get("ENGLISH_FORMAT_LOCALE") or ENGLISH_FORMAT_DEFAULT
    return ENGLISH_FORMAT_DEFAULT


def babel_locale() -> str:
    """Flask-Babel's locale selector: the page's locale, with English formatted as above."""
    return format_locale(current_locale())


def force_locale(code):
    """Flask-Babel's ``force_locale`` for a site locale (a mail, an export), with the
    formats ``format_locale`` gives it."""
    return _babel_force_locale(format_locale(code))


def init_app(app: Flask) -> None:
    """Install the ``lang`` URL converter and the URL processors."""
    app.url_map.converters["locale"] = LocaleConverter

    @app.url_value_preprocessor
    def pull_lang(endpoint, values):
        if values and "lang" in values:
            g.lang = values.pop("lang")

    @app.url_defaults
    def add_lang(endpoint, values):
        if "lang" in values or not g.get("lang"):
            return
        if current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = g.lang


#: An unquoted day-of-month field in a CLDR date pattern ("d", never "dd").
_DAY_FIELD = re.compile(r"(?<!d)d(?!d)")
#: Locales that write the first day of a month as an ordinal: French "1er décembre".
_FIRST_DAY_ORDINAL = {"fr": "d'er'"}


def _unquoted(pattern: str, replace) -> str:
    """Apply ``replace`` to the parts of a CLDR pattern outside quotes."""
    parts = pattern.split("'")
    return "'".join(replace(part) if i % 2 == 0 else part for i, part in enumerate(parts))


def format_day(value: date | datetime, width: str = "long", locale=None) -> str:
    """A date as the site writes it everywhere (pages, mails, subjects, calendar files).

    ``width`` is a CLDR width (short, medium, long, full) or a pattern. Babel
    follows CLDR, which has no ordinal day: French needs "1er décembre", not
    "1 décembre", so the day field of the first of a month gets its suffix here.
    """
    loc = Locale.parse(format_locale(locale or get_locale() or DEFAULT_LOCALE))
    if isinstance(value, datetime):
        value = to_user_timezone(value) if value.tzinfo else value
    pattern = loc.date_formats[width].pattern if width in loc.date_formats else width
    ordinal = _FIRST_DAY_ORDINAL.get(loc.language)
    if ordinal and value.day == 1:
        pattern = _unquoted(pattern, lambda part: _DAY_FIELD.sub(ordinal, part))
    return babel_format_date(value, pattern, locale=loc)


def format_list(items) -> str:
    """Items joined as the page's language lists them ("a, b and c"; "a, b et c")."""
    return babel_format_list([str(item) for item in items], locale=get_locale() or format_locale(DEFAULT_LOCALE))


@cache
def _collator() -> Collator:
    return Collator()


def collation_key(locale: str) -> Callable[[str], tuple]:
    """Sort key for names shown in ``locale``: the Unicode Collation Algorithm.

    Code-point order puts "Suisse" before "Suède" and "Österreich" after "Zypern".
    The UCA's default table (DUCET) is the correct order for every locale the site
    speaks: none of English, Dutch, French (France) or German (dictionary order)
    tailors it. A locale that needs a tailoring (Swedish, say) must add one here.
    """
    return _collator().sort_key


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_time_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA time zone this machine knows, else None."""
    if not name or len(name) > 64 or name not in _time_zones():
        return None
    try:
        return name if ZoneInfo(name) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None
