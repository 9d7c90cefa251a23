"""Fast pages: content-hashed assets, a page cache, ETags and compression.

The page cache keeps pages that are the same for everyone, per process: a page
is stored under its path, locale and the few states of the cookie banner, never
with anything of one visitor's (form pages with CSRF tokens and personal pages
are not cached). Keys carry the content version, so a deploy or a content
change never serves a stale page.

In front of Flask, ``FastPages`` replays such a page byte for byte to the next
request that is the same in everything the app reads (path, host, scheme,
cookies, Sec-GPC, Accept-Encoding, conditional headers), with only its own request ID
and log line, so a cached page costs no routing, hooks or templates.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
import time
from collections import OrderedDict
from functools import wraps
from pathlib import Path

import brotli
from flask import Flask, Response, abort, current_app, g, request
from werkzeug.http import parse_cookie

from . import cookieconsent, i18n, requestlog
from .consent import stored_ip

COMPRESSIBLE = {"text/html", "text/css", "text/plain", "text/calendar", "application/javascript",
                "text/javascript", "application/json", "application/xml", "image/svg+xml"}
MIN_COMPRESS = 512
ASSET_TYPES = {".css", ".js", ".svg", ".png", ".ico", ".webp"}
IMMUTABLE = "public, max-age=31536000, immutable"
SHARED_PAGE = "public, max-age=60"


class Assets:
    """Static files under content-hashed names: a changed file gets a new URL."""

    def __init__(self, folder: Path):
        self.by_logical: dict[str, str] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in ASSET_TYPES):
            data = path.read_bytes()
            logical = path.relative_to(folder).as_posix()
            short = hashlib.sha256(data).hexdigest()[:12]
            hashed = f"{logical[: -len(path.suffix)]}.{short}{path.suffix}"
            mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self.by_logical[logical] = hashed
            self.files[hashed] = (data, mimetype)
            digest.update(hashed.encode())
        self.version = digest.hexdigest()[:12]

    def url(self, logical: str) -> str:
        return f"/assets/{self.by_logical[logical]}"


def content_version(app: Flask) -> str:
    """Changes whenever what a page shows can change: legal texts, catalogs, assets, settings."""
    digest = hashlib.sha256()
    for folder in (Path(app.config["LEGAL_DIR"]), Path(app.config["BABEL_TRANSLATION_DIRECTORIES"]),
                   Path(app.config["CONTENT_DIR"])):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in {".md", ".mo", ".yaml"}:
                digest.update(path.name.encode() + path.read_bytes())
    digest.update(app.extensions["assets"].version.encode())
    for key in ("PRICE_PER_USER_MONTH", "PRICE_CURRENCY", "SUBSCRIPTION_MONTHS", "PRICE_TAX_BASIS", "EMAIL_PRIVACY",
                "EMAIL_CONTACT", "EMAIL_MARKETING_OPTOUT", "EMAIL_SUPERVISORY_AUTHORITY", "GA_MEASUREMENT_ID",
                "HUBSPOT_PORTAL_ID", "SITE_URL", "DEMO_SLOT_MINUTES"):
        digest.update(f"{key}={app.config[key]}".encode())
    return digest.hexdigest()[:16]


class PageCache:
    """A bounded, thread-safe LRU of rendered pages."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return entry

    def put(self, key, value) -> None:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def _visitor_class() -> tuple:
    """The only ways a public page differs between visitors: the banner's state."""
    choice = cookieconsent.current_choice()
    return (choice is None, tuple(sorted(cookieconsent.granted())), cookieconsent.gpc())


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
        g.shared_page = True
        request.environ[SHARED] = request.endpoint
        return response

    return wrapper


_compressed = PageCache(256)

#: Set in the WSGI environ by ``cached_page`` to the endpoint of a page anyone may be sent.
SHARED = "iptor_site.shared_page"
#: Cookies a shared page may be asked for with: the app reads them, and they are part of the key.
REPLAYABLE_COOKIES = frozenset({cookieconsent.COOKIE, i18n.LANG_COOKIE})
#: Request headers a shared page's bytes can depend on.
KEY_HEADERS = ("PATH_INFO", "SCRIPT_NAME", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme",
               "HTTP_COOKIE", "HTTP_SEC_GPC", "HTTP_ACCEPT_ENCODING", "HTTP_IF_NONE_MATCH",
               "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


class FastPages:
    """WSGI middleware that replays shared pages the app has already answered.

    A GET without a query string is looked up by everything the app's answer
    can depend on; on a miss the app answers and, if it marked the page as
    shared and set no cookie, the exact status, headers and body are kept for
    the next identical request. A replay gets its own X-Request-ID and log line.
    """

    def __init__(self, wsgi_app, size: int, ip_storage: str):
        self.wsgi_app = wsgi_app
        self.entries = PageCache(size)
        self.ip_storage = ip_storage

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != "GET" or environ.get("QUERY_STRING") or "HTTP_RANGE" in environ:
            return self.wsgi_app(environ, start_response)
        key = tuple(environ.get(name) for name in KEY_HEADERS)
        hit = self.entries.get(key)
        if hit is not None:
            return self._replay(hit, environ, start_response)
        return self._record(key, environ, start_response)

    def _replay(self, hit, environ, start_response):
        started = time.perf_counter()
        status, headers, body, endpoint, route = hit
        request_id = requestlog.request_id(environ.get("HTTP_X_REQUEST_ID"))
        start_response(status, [*headers, ("X-Request-ID", request_id)])
        requestlog.log_request(request_id, "GET", route, endpoint, int(status[:3]), started, len(body),
                               stored_ip(environ.get("REMOTE_ADDR"), self.ip_storage))
        return [body]

    def _record(self, key, environ, start_response):
        seen = {}

        def capture(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        shared = environ.get(SHARED)
        if (shared is None or seen.get("status", "")[:3] not in {"200", "304"}
                or any(name.lower() == "set-cookie" for name, _ in seen["headers"])
                or not set(parse_cookie(environ.get("HTTP_COOKIE", ""))) <= REPLAYABLE_COOKIES):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        headers = [(name, value) for name, value in seen["headers"] if name.lower() != "x-request-id"]
        # Logged as the app logged it: the route, never the path.
        self.entries.put(key, (seen["status"], headers, body, shared, environ.get(requestlog.ROUTE)))
        return [body]


def _encoding() -> str | None:
    accepted = request.accept_encodings
    if accepted["br"]:
        return "br"
    if accepted["gzip"]:
        return "gzip"
    return None


def finish(response: Response) -> Response:
    """Cache headers, ETag and 304, then compression: the last thing done to a response."""
    if g.get("shared_page"):
        response.headers["Cache-Control"] = SHARED_PAGE
        response.vary.update(("Cookie", "Sec-GPC"))
    elif "Cache-Control" not in response.headers and response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store" if g.get("status_page") else "private, no-cache"
    if (request.method not in {"GET", "HEAD"} or response.status_code != 200 or response.direct_passthrough
            or response.is_streamed or response.mimetype not in COMPRESSIBLE):
        return response
    if not response.get_etag()[0]:
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32], weak=True)
    response.make_conditional(request)
    if response.status_code != 200:
        return response
    response.vary.add("Accept-Encoding")
    encoding = _encoding()
    body = response.get_data()
    if encoding is None or len(body) < MIN_COMPRESS or "Content-Encoding" in response.headers:
        return response
    key = (response.get_etag()[0], encoding)
    packed = _compressed.get(key)
    if packed is None:
        packed = brotli.compress(body, quality=5) if encoding == "br" else gzip.compress(body, 6, mtime=0)
        _compressed.put(key, packed)
    response.set_data(packed)
    response.headers["Content-Encoding"] = encoding
    return response


def init_app(app: Flask) -> None:
    """Hash the assets, serve them as immutable, and compress what goes out."""
    assets = Assets(Path(app.static_folder))
    app.extensions["assets"] = assets
    app.extensions["page_cache"] = PageCache(app.config.get("PAGE_CACHE_SIZE", 512))
    app.extensions["content_version"] = content_version(app)
    app.jinja_env.globals["asset_url"] = assets.url

    @app.get("/assets/<path:name>")
    def asset(name: str):
        found = assets.files.get(name)
        if found is None:
            abort(404)
        data, mimetype = found
        response = Response(data, mimetype=mimetype)
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    app.after_request(finish)
    if app.config.get("PAGE_CACHE_SIZE", 512) > 0:
        app.wsgi_app = FastPages(app.wsgi_app, app.config.get("PAGE_CACHE_SIZE", 512), app.config["IP_STORAGE"])
