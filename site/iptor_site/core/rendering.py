"""What every page's template needs: locale, canonical URL, alternates, switcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, g, has_request_context, request, url_for
from markupsafe import Markup

from iptor_site.core.locales import LOCALES, current_locale, format_day, format_list
from iptor_site.core.settings import DEVELOPMENT_SITE_URL

#: hreflang for the unprefixed URL, which negotiates the language itself.
X_DEFAULT = "x-default"


@dataclass(frozen=True)
class Alternate:
    locale: str
    name: str
    href: str


def public_url(endpoint: str, **values) -> str:
    """Absolute URL of a route on the public site: the one way links in mail (and the
    marketing export's unsubscribe links) are built.

    The base is SITE_URL (mandatory in production), in development without it
    ``core.settings.DEVELOPMENT_SITE_URL``; never the request's Host header, which the sender
    of a request chooses. Works the same in a request, a command or the mail worker.
    """
    base = urlsplit(current_app.config["SITE_URL"] or DEVELOPMENT_SITE_URL)
    current_app.inject_url_defaults(endpoint, values)
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def absolute_url(endpoint: str, **values) -> str:
    """Absolute URL of a route for a page's own links (canonical, hreflang, sitemap): on
    SITE_URL when it is set, else, in development only, on the request's host.
    Links that leave the site in mail use ``public_url``."""
    base = current_app.config["SITE_URL"]
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def page_locales() -> list[str]:
    """Locales the current page exists in, in switcher order (a view may narrow it)."""
    return g.get("page_locales") or list(LOCALES)


def unprefixed_path(path: str) -> str:
    """``/de/pricing`` → ``/pricing``; the unprefixed URL negotiates the language."""
    parts = path.split("/", 2)
    return "/" + (parts[2] if len(parts) > 2 else "")


def alternates_for(endpoint: str, view_args: dict, locales) -> list[Alternate]:
    """The page in each locale it exists in, plus the language-negotiating x-default."""
    args = {k: v for k, v in view_args.items() if k != "lang"}
    result = [
        Alternate(loc, LOCALES[loc], absolute_url(endpoint, lang=loc, **args)) for loc in locales
    ]
    default_path = unprefixed_path(url_for(endpoint, lang=locales[0], **args))
    base = current_app.config["SITE_URL"] or request.host_url.rstrip("/")
    result.append(Alternate(X_DEFAULT, "", base + default_path))
    return result


def _page_context() -> dict:
    if not has_request_context():  # mail rendered by a command
        return {}
    locale = current_locale()
    ctx = {"locale": locale, "locales": LOCALES}
    endpoint = request.endpoint
    is_page = (
        endpoint is not None
        and g.get("lang")
        and request.routing_exception is None
        and current_app.url_map.is_endpoint_expecting(endpoint, "lang")
    )
    if not is_page or g.get("status_page"):
        ctx.update(canonical=None, alternates=[], switcher=[])
        return ctx
    view_args = {**(request.view_args or {}), "lang": locale}
    alternates = alternates_for(endpoint, view_args, page_locales())
    query = {k: v for k, v in request.args.items() if k != "lang"}
    args = {k: v for k, v in view_args.items() if k != "lang"}
    ctx.update(
        canonical=absolute_url(endpoint, **view_args),
        alternates=alternates,
        # Each link carries ?lang= so that following it also saves the choice.
        switcher=[
            Alternate(
                a.locale,
                a.name,
                url_for(endpoint, lang=a.locale, **args) + "?" + urlencode({**query, "lang": a.locale}),
            )
            for a in alternates
            if a.locale != X_DEFAULT
        ],
    )
    return ctx


def init_app(app: Flask) -> None:
    """Register the page context and the helpers every template may use."""
    app.context_processor(_page_context)
    app.jinja_env.filters["todate"] = date.fromisoformat
    # The site's one date format (French "1er"), in place of Flask-Babel's filter.
    app.jinja_env.filters["dateformat"] = format_day
    app.jinja_env.filters["listformat"] = format_list
    app.jinja_env.filters["bold"] = lambda text: Markup("<strong>{}</strong>").format(text)
