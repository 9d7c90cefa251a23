"""Content pages (landing, pricing, privacy policy), language negotiation and the sitemap."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from babel.dates import format_skeleton
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from .. import retention
from ..i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LOCALES, negotiate
from ..performance import cached_page
from ..pricing import estimate, parse_users
from ..rendering import absolute_url, alternates_for

bp = Blueprint("pages", __name__, url_prefix="/<locale:lang>")
#: Unprefixed URLs: they only redirect to a language.
negotiation = Blueprint("negotiation", __name__)

PRIVACY_DOC = "privacy"


def privacy_version() -> str:
    """The current version of the privacy policy, recorded with every consent."""
    return current_app.extensions["legal"].current_version(PRIVACY_DOC)


def privacy_locales() -> list[str]:
    """Locales that have the current version of the privacy policy."""
    have = current_app.extensions["legal"].locales(PRIVACY_DOC)
    return [loc for loc in LOCALES if loc in have]


#: Pages listed in the sitemap, with the locales each exists in.
SITEMAP_PAGES = {
    "pages.landing": lambda: list(LOCALES),
    "pages.pricing": lambda: list(LOCALES),
    "pages.privacy": privacy_locales,
    "company.details_page": lambda: list(LOCALES),
}


def _remember(response: Response, lang: str) -> Response:
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=LANG_COOKIE_MAX_AGE,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def _negotiated_redirect(location: str) -> Response:
    response = redirect(location, 302)
    response.vary.update(("Accept-Language", "Cookie"))
    return response


@bp.before_app_request
def switch_language():
    """``?lang=xx`` on any localized page, whichever blueprint serves it (the demo and
    privacy-request forms too): remember the choice and show the page in that language."""
    wanted = request.args.get("lang")
    if wanted is None or request.method != "GET" or not g.get("lang"):
        return None
    query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "lang"])
    if wanted not in LOCALES:
        return redirect(request.path + ("?" + query if query else ""), 302)
    target = "/" + wanted + request.path[len(g.lang) + 1 :]
    return _remember(redirect(target + ("?" + query if query else ""), 302), wanted)


@negotiation.get("/", defaults={"path": ""})
@negotiation.get("/<path:path>")
def negotiate_language(path: str):
    """Send an unprefixed URL to the same page in the visitor's language."""
    wanted = request.args.get("lang")
    lang = wanted if wanted in LOCALES else negotiate()
    target = f"/{lang}/{path}"
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, _ = adapter.match(target, method="GET")
    except RequestRedirect as exc:  # e.g. a missing trailing slash
        target = urlsplit(exc.new_url).path
    except (NotFound, MethodNotAllowed):
        raise NotFound() from None
    else:
        # Only a localized page counts; "/en/<anything>" also matches this catch-all.
        if not current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
            raise NotFound()
    query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "lang"])
    response = _negotiated_redirect(target + ("?" + query if query else ""))
    if wanted in LOCALES:
        _remember(response, wanted)
    return response


@bp.get("/")
@cached_page
def landing():
    """Short landing page leading to pricing, demo booking and the privacy policy."""
    return render_template("pages/landing.html", price=estimate(1).formatted())


@bp.get("/pricing")
@cached_page
def pricing():
    """The Base Module's price and a seat estimator that works without JavaScript."""
    raw = request.args.get("users")
    users, valid = parse_users(raw)
    return render_template(
        "pages/pricing.html",
        price=estimate(1).formatted(),
        estimate=estimate(users).texts() if users else None,
        users=users,
        users_raw=raw if raw is not None else "",
        users_invalid=not valid,
        max_users=current_app.config["ESTIMATOR_MAX_USERS"],
        months=current_app.config["SUBSCRIPTION_MONTHS"],
    )


@bp.get("/pricing/estimate")
def pricing_estimate():
    """The estimator's figures as JSON, formatted by Babel so they match the server page."""
    users, valid = parse_users(request.args.get("users"))
    if not valid or users is None:
        return jsonify(error="invalid"), 400
    return jsonify(
        **estimate(users).texts(),
        demo_url=url_for("forms.demo", users=users),
    )


@bp.get("/privacy")
@cached_page
def privacy():
    """The current privacy policy in the page's language, or a redirect to one that has it."""
    available = privacy_locales()
    if g.lang not in available:
        return _negotiated_redirect(url_for(".privacy", lang=negotiate(available)))
    g.page_locales = available
    config = current_app.config
    doc = current_app.extensions["legal"].render(
        PRIVACY_DOC,
        g.lang,
        emails={
            "marketing": config["EMAIL_MARKETING_OPTOUT"],
            "privacy": config["EMAIL_PRIVACY"],
            "contact": config["EMAIL_CONTACT"],
            "authority": config["EMAIL_SUPERVISORY_AUTHORITY"],
        },
        inquiry_url=url_for("privacy_requests.inquiry"),
    )
    return render_template(
        "pages/privacy.html", doc=doc, updated=format_skeleton("yMMMM", doc.updated, locale=get_locale()),
        retention=retention.table(),
    )


@negotiation.get("/sitemap.xml")
def sitemap():
    """Every page in every locale it exists in, each with its alternates."""
    entries = []
    for endpoint, locales_of in SITEMAP_PAGES.items():
        locales = locales_of()
        alternates = alternates_for(endpoint, {}, locales)
        for loc in locales:
            entries.append((absolute_url(endpoint, lang=loc), alternates))
    xml = render_template("sitemap.xml", entries=entries)
    return Response(xml, mimetype="application/xml")


@negotiation.get("/robots.txt")
def robots():
    """Allow everything public and point crawlers at the sitemap."""
    body = f"User-agent: *\nAllow: /\n\nSitemap: {absolute_url('negotiation.sitemap')}\n"
    return Response(body, mimetype="text/plain")
