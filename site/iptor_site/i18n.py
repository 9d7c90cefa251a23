"""The site's locales, language negotiation and URL-prefix handling."""

from __future__ import annotations

from flask import Flask, current_app, g, request
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

    The saved choice (cookie) wins, then the Accept-Language header
    (``de-AT`` falls back to ``de``), then English or the first available.
    """
    available = list(available or LOCALES)
    saved = request.cookies.get(LANG_COOKIE)
    if saved in available:
        return saved
    best = request.accept_languages.best_match(available)
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
