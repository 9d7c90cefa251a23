"""Cookie consent: nothing that tracks runs before the visitor agrees, and every choice is logged.

One configuration (``categories()``) drives the banner, the per-response CSP,
the tags the script loads and the cookie list on the cookies page, so they
cannot disagree.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import lazy_gettext as _l
from publicsuffixlist import PublicSuffixList

from iptor_site.consent.models import CookieConsentEvent
from iptor_site.core import clock
from iptor_site.core.client_ip import client_ip
from iptor_site.legal.documents import privacy_version

COOKIE = "iptor_consent"
COOKIE_MAX_AGE = 180 * 24 * 3600  # ask again after six months
ANALYTICS = "analytics"
MARKETING = "marketing"
OPTIONAL = (ANALYTICS, MARKETING)
# v1.<consent id>.<granted categories, "-"-separated>.<policy version>.<unix time>
VALUE = re.compile(r"^v1\.([0-9a-f]{32})\.([a-z-]*)\.([0-9]{4}-[0-9]{2})\.([0-9]{10})$")


@dataclass(frozen=True)
class CookieInfo:
    name: str
    provider: str
    purpose: object  # a lazy string
    duration: object


@dataclass(frozen=True)
class Category:
    key: str
    title: object
    description: object
    cookies: tuple[CookieInfo, ...]
    #: Extra CSP sources once the visitor has agreed to this category.
    csp: dict = field(default_factory=dict)
    required: bool = False
    #: Name prefixes the tag's documentation gives for cookies it names per site or per
    #: feature; withdrawal deletes these as well as the listed names.
    prefixes: tuple[str, ...] = ()


def categories() -> list[Category]:
    """The categories in use: necessary always, the others only when their tag is configured."""
    return list(_categories(current_app.config["GA_MEASUREMENT_ID"], current_app.config["HUBSPOT_PORTAL_ID"]))


@lru_cache(maxsize=8)
def _categories(ga_id: str, hubspot_id: str) -> tuple[Category, ...]:
    # Built once per configuration; the texts are lazy, so each request still gets its language.
    result = [Category(
        "necessary", _l("Necessary"),
        _l("Needed for the site to work: your language, your cookie choice and the security of forms. "
           "Always on."),
        (
            CookieInfo("session", "Iptor", _l("Keeps forms secure and shows you your own confirmation."),
                       _l("Until you close the browser")),
            CookieInfo("lang", "Iptor", _l("Remembers the language you chose."), _l("1 year")),
            CookieInfo(COOKIE, "Iptor", _l("Remembers your cookie choice."), _l("6 months")),
        ),
        required=True,
    )]
    if ga_id:
        suffix = ga_id.removeprefix("G-")
        result.append(Category(
            ANALYTICS, _l("Analytics"),
            _l("Google Analytics tells us how visitors use the site, so that we can improve it."),
            (
                CookieInfo("_ga", "Google", _l("Distinguishes visitors."), _l("2 years")),
                CookieInfo(f"_ga_{suffix}", "Google", _l("Keeps the state of a visit."), _l("2 years")),
            ),
            prefixes=("_ga_",),
            csp={
                "script-src": ["https://www.googletagmanager.com"],
                "connect-src": ["https://*.google-analytics.com", "https://*.analytics.google.com",
                                "https://www.googletagmanager.com"],
                "img-src": ["https://*.google-analytics.com", "https://www.googletagmanager.com"],
            },
        ))
    if hubspot_id:
        result.append(Category(
            MARKETING, _l("Marketing"),
            _l("HubSpot records visits and e-mail interactions, so that our sales team can follow up "
               "on your interests."),
            (
                CookieInfo("hubspotutk", "HubSpot", _l("Recognises a returning visitor."), _l("6 months")),
                CookieInfo("__hstc", "HubSpot", _l("Tracks visits over time."), _l("6 months")),
                CookieInfo("__hssrc", "HubSpot", _l("Detects a new session."), _l("Until you close the browser")),
                CookieInfo("__hssc", "HubSpot", _l("Counts pages in a session."), _l("30 minutes")),
                CookieInfo("messagesUtk", "HubSpot", _l("Recognises a visitor in the chat."), _l("6 months")),
                CookieInfo("hs-messages-is-open", "HubSpot", _l("Remembers whether the chat is open."),
                           _l("30 minutes")),
                CookieInfo("hs-messages-hide-welcome-message", "HubSpot",
                           _l("Hides the chat's welcome message once dismissed."), _l("1 day")),
                CookieInfo("__hs_opt_out", "HubSpot", _l("Remembers that the visitor declined HubSpot's cookies."),
                           _l("6 months")),
                CookieInfo("__hs_do_not_track", "HubSpot",
                           _l("Stops the tracking code from sending information to HubSpot."), _l("6 months")),
                CookieInfo("__hs_initial_opt_in", "HubSpot",
                           _l("Keeps HubSpot's banner from showing on every page in strict mode."), _l("7 days")),
                CookieInfo("__hs_cookie_cat_pref", "HubSpot",
                           _l("Records the cookie categories the visitor agreed to."), _l("6 months")),
                CookieInfo("__hs_gpc_banner_dismiss", "HubSpot",
                           _l("Remembers that the Global Privacy Control notice was dismissed."), _l("180 days")),
                CookieInfo("__hs_notify_banner_dismiss", "HubSpot",
                           _l("Remembers that HubSpot's notice was dismissed."), _l("180 days")),
            ),
            prefixes=("__hs", "hs-messages-"),
            csp={
                "script-src": ["https://js.hs-scripts.com", "https://js.hs-analytics.net",
                               "https://js.hs-banner.com", "https://js.hscollectedforms.net"],
                "connect-src": ["https://*.hubspot.com", "https://*.hs-analytics.net",
                                "https://*.hscollectedforms.net", "https://*.hs-banner.com"],
                "img-src": ["https://track.hubspot.com"],
            },
        ))
    return tuple(result)


def optional_keys() -> list[str]:
    return [c.key for c in categories() if not c.required]


@dataclass(frozen=True)
class Choice:
    consent_id: str
    granted: frozenset[str]
    policy_version: str
    decided_at: datetime


def current_choice() -> Choice | None:
    """The visitor's stored choice, if it is well-formed and for the current policy version."""
    if "cookie_choice" in g:
        return g.cookie_choice

    choice = None
    match = VALUE.match(request.cookies.get(COOKIE, ""))
    if match and match.group(3) == privacy_version():
        granted = frozenset(k for k in match.group(2).split("-") if k in OPTIONAL)
        choice = Choice(match.group(1), granted, match.group(3),
                        datetime.fromtimestamp(int(match.group(4)), UTC))
    g.cookie_choice = choice
    return choice


def gpc() -> bool:
    """Global Privacy Control: the browser objects to sale/sharing, so marketing is off by default."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def granted() -> frozenset[str]:
    """Optional categories the visitor agreed to that are also configured."""
    choice = current_choice()
    return (choice.granted if choice else frozenset()) & set(optional_keys())


def decide(action: str, wanted: set[str], session, locale: str) -> tuple[Choice, str]:
    """Record a choice: return it and the cookie value that stores it."""

    available = set(optional_keys())
    if action == "accept":
        chosen = available - ({MARKETING} if gpc() else set())
    elif action == "reject":
        chosen = set()
    else:
        chosen = wanted & available
    previous = current_choice()
    now = clock.now()
    choice = Choice(previous.consent_id if previous else uuid.uuid4().hex, frozenset(chosen),
                    privacy_version(), now)
    session.add(CookieConsentEvent(
        consent_id=choice.consent_id,
        created_at=now,
        action=action,
        categories=",".join(sorted(chosen)),
        policy_version=choice.policy_version,
        locale=locale,
        gpc=gpc(),
        ip_address=client_ip(),
    ))
    value = f"v1.{choice.consent_id}.{'-'.join(sorted(chosen))}.{choice.policy_version}.{int(now.timestamp())}"
    return choice, value


def cookie_patterns(keys) -> dict[str, list[str]]:
    """Per optional category in ``keys``: the names its tag's cookies match, a trailing
    ``*`` marking a documented prefix (``_ga_*``). Withdrawal deletes what matches."""
    return {cat.key: [c.name for c in cat.cookies] + [f"{prefix}*" for prefix in cat.prefixes]
            for cat in categories() if not cat.required and cat.key in keys}


def _matches(name: str, patterns) -> bool:
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


_PUBLIC_SUFFIXES = PublicSuffixList()  # the list the package ships; nothing is fetched


@lru_cache(maxsize=8)
def _registrable_domain(site_url: str) -> str | None:
    host = urlsplit(site_url).hostname
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _PUBLIC_SUFFIXES.privatesuffix(host)
    return None  # an address has no parent domain


def cookie_domain() -> str | None:
    """The domain the tags set their cookies on: COOKIE_DOMAIN, else the registrable domain
    of SITE_URL (``www.iptor.com`` → ``iptor.com``), else none (host-only cookies)."""
    return current_app.config.get("COOKIE_DOMAIN") or _registrable_domain(current_app.config["SITE_URL"])


def delete_tracking_cookies(response: Response, keys) -> None:
    """Expire every cookie the browser sent of the tags of the categories ``keys``, on this
    host and on the cookie domain (a tag may have set it on either)."""
    domain = cookie_domain()
    patterns = [p for names in cookie_patterns(keys).values() for p in names]
    for name in request.cookies:
        if _matches(name, patterns):
            response.delete_cookie(name, path="/")
            if domain:
                response.delete_cookie(name, path="/", domain=domain)


def _csp_for_granted() -> None:
    extra: dict[str, list[str]] = {}
    for category in categories():
        if category.key in granted():
            for directive, sources in category.csp.items():
                extra.setdefault(directive, []).extend(sources)
    if extra:
        g.csp_extra = extra


def _template_context() -> dict:
    if not has_request_context():  # mail rendered by a command
        return {}
    cats = categories()
    choice = current_choice()
    return {
        "cookie_categories": cats,
        "cookie_granted": granted(),
        "cookie_banner_open": len(cats) > 1 and choice is None,
        "cookie_gpc": gpc(),
        "cookie_domain": cookie_domain(),
        "cookie_patterns": cookie_patterns(OPTIONAL),
    }


def init_app(app: Flask) -> None:
    """Widen the CSP per response, by exactly the hosts of the categories agreed to."""
    app.before_request(_csp_for_granted)
    app.context_processor(_template_context)
