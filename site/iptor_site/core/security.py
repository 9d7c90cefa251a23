"""Response headers, trusted hosts and proxies: what an auditor checks on every response."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g
from werkzeug.middleware.proxy_fix import ProxyFix

#: Scripts, styles, images and requests from this site only; no inline code anywhere.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}
# What a browser strips from either end of a URL, and removes inside it, before reading it
# (the WHATWG URL standard): C0 controls and spaces at the ends, tabs and newlines anywhere.
_URL_ENDS = "".join(chr(code) for code in range(0x21))
_URL_REMOVED = str.maketrans("", "", "\t\n\r")


def safe_next(value: str | None, fallback: str, *, within: str = "/") -> str:
    """``value`` if the browser would read it as a path on this site under ``within``, else ``fallback``.

    The check reads the value as the browser will: ``/\t/evil.example`` and ``/\\evil.example``
    are both ``//evil.example`` to a browser, a link to another site.
    """
    if not value:
        return fallback
    path = value.strip(_URL_ENDS).translate(_URL_REMOVED).replace("\\", "/")
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return fallback
    if within != "/" and parts.path != within and not parts.path.startswith(within.rstrip("/") + "/"):
        return fallback
    return path


PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


@lru_cache(maxsize=16)
def _csp(extra: tuple) -> str:
    return csp_header(dict(extra))


def csp_header(extra: dict[str, list[str]] | None = None) -> str:
    """The policy as a header value, with ``extra`` sources added per directive."""
    policy = {key: list(values) for key, values in CONTENT_SECURITY_POLICY.items()}
    for key, sources in (extra or {}).items():
        policy.setdefault(key, ["'self'"]).extend(s for s in sources if s not in policy.get(key, []))
    return "; ".join(f"{key} {' '.join(values)}" for key, values in policy.items())


def _set_headers(response: Response) -> Response:
    headers = response.headers
    extra = g.get("csp_extra")
    headers.setdefault("Content-Security-Policy",
                       _csp(tuple((k, tuple(v)) for k, v in sorted(extra.items())) if extra else ()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config["HSTS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    headers.pop("Server", None)
    return response


def init_app(app: Flask) -> None:
    """Honour X-Forwarded-* from the configured number of proxies only, and set the headers."""
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_port=proxies, x_prefix=0)
    app.after_request(_set_headers)
