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

from iptor_site.core.locales import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LOCALES, negotiate
from iptor_site.core.rendering import absolute_url, alternates_for
from iptor_site.legal.documents import PRIVACY_DOC, privacy_locales
from iptor_site.pages.cache import cached_page
from iptor_site.pages.pricing import check_users, estimate, talk_to_us, tax_note
from iptor_site.privacy_requests import retention

bp = Blueprint("pages", __name__, url_prefix="/<locale:lang>")
#: Unprefixed URLs: they only redirect to a language.
negotiation = Blueprint("negotiation", __name__)


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


def page_copy(page: str) -> dict:
    """The page's marketing copy in the page's language (content/<page>/<locale>.yaml)."""
    return current_app.extensions["content"].page(page, g.lang)


@bp.get("/")
@cached_page
def landing():
    """What the Base Module does for the buyer, what it costs, and the way to a demo."""
    return render_template("pages/landing.html", c=page_copy("landing"), price=estimate(1).formatted())


@bp.get("/pricing")
@cached_page
def pricing():
    """The Base Module's price and a seat estimator that works without JavaScript."""
    field = check_users(request.args.get("users"))
    return render_template(
        "pages/pricing.html",
        c=page_copy("pricing"),
        price=estimate(1).formatted(),
        field=field,
        estimate=estimate(field.users).texts() if field.users else None,
        talk=talk_to_us() if field.talk else None,
        tax_note=tax_note(),
        max_users=current_app.config["ESTIMATOR_MAX_USERS"],
        months=current_app.config["SUBSCRIPTION_MONTHS"],
    )


@bp.get("/pricing/estimate")
def pricing_estimate():
    """The estimator's answer as JSON, checked and worded as the page would: the figures,
    the problem with what was typed, or the offer to talk to us above the maximum."""
    field = check_users(request.args.get("users", ""))
    if field.talk:
        return jsonify(state="talk", message=talk_to_us(), demo_url=url_for("forms.demo"))
    if field.problem:
        return jsonify(state="invalid", problem=field.problem, message=field.message), 400
    return jsonify(
        state="ok",
        **estimate(field.users).texts(),
        demo_url=url_for("forms.demo", users=field.users),
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
        "legal/privacy.html", doc=doc, updated=format_skeleton("yMMMM", doc.updated, locale=get_locale()),
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
