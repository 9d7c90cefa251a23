"""Content-hashed static assets, ETags and 304s, and compression of what goes out.

Every asset gets a URL with a hash of its content (``asset_url``), served as
immutable: a changed file gets a new URL. ``finish`` is the last thing done to
each response: cache headers, an ETag and a 304 when it matches, then Brotli or
gzip. Public pages themselves are cached by ``pages.cache``.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from collections import OrderedDict
from pathlib import Path

import brotli
from flask import Flask, Response, abort, g, request

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


_compressed = PageCache(256)

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
