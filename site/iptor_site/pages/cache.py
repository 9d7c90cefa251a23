"""The page cache: a public page rendered once per choice of cookie categories, served from memory."""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import Response, current_app, g, request

from iptor_site.consent import cookie_consent
from iptor_site.core.assets import PageCache


def _visitor_class() -> tuple:
    """The only ways a public page differs between visitors: whether the banner is
    open, the cookie categories agreed to and Global Privacy Control. Never the
    consent cookie's anonymous ID: everyone who made the same choice shares a page."""
    choice = cookie_consent.current_choice()
    return (choice is None, tuple(sorted(cookie_consent.granted())), cookie_consent.gpc())


def cached_page(view):
    """Serve a visitor-independent page from memory once rendered."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.args or current_app.config.get("PAGE_CACHE_SIZE", 0) <= 0:
            return view(*args, **kwargs)
        cache: PageCache = current_app.extensions["page_cache"]
        # Without SITE_URL, links on the page (canonical, hreflang) carry the request's host.
        origin = current_app.config["SITE_URL"] or request.host_url
        key = (current_app.extensions["content_version"], origin, request.path, g.get("lang"), _visitor_class())
        hit = cache.get(key)
        if hit is None:
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code != 200 or response.direct_passthrough:
                return response
            body = response.get_data()
            hit = (body, response.mimetype, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
            cache.put(key, hit)
        body, mimetype, etag = hit
        response = Response(body, mimetype=mimetype)
        response.headers["ETag"] = "W/" + etag
        g.shared_page = True  # assets.finish: Cache-Control public, Vary
        return response

    return wrapper
