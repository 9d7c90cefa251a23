"""One JSON line per request, with a request ID, and nothing personal in it."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request
from flask.logging import default_handler

from iptor_site.core.client_ip import client_ip

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
logger = logging.getLogger("iptor_site.access")


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object: the fields given in ``extra={"fields": …}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def _current_request_id() -> str | None:
    try:
        return g.get("request_id")
    except RuntimeError:  # outside a request
        return None


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request it was logged in, when it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _current_request_id()
        return True


def request_id(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is well-formed, else a new one."""
    return incoming if incoming and REQUEST_ID.match(incoming) else uuid.uuid4().hex


#: A rule's variable with its converter, ``<locale:lang>``: logged as ``<lang>``.
_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


def route_of(rule: str | None) -> str | None:
    """The route a request matched, ``/<lang>/privacy/requests/verify/<token>``: never the
    path, which for a mailed link carries its token. None when no route matched."""
    return None if rule is None else _VARIABLE.sub(r"<\1>", rule)


def log_request(request_id: str, method: str, route: str | None, endpoint: str | None, status: int,
                started: float, length: int | None, client: str | None) -> None:
    """Write a request's line: the route and the status, never the path (a link's token),
    the query string or the body (what people typed)."""
    logger.info(
        "request",
        extra={"request_id": request_id, "fields": {
            "method": method,
            "route": route,
            "endpoint": endpoint,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "bytes": length,
            "client": client,
        }},
    )


def _start() -> None:
    g.request_id = request_id(request.headers.get("X-Request-ID"))
    g.request_started = time.perf_counter()


def _finish(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    route = route_of(request.url_rule.rule if request.url_rule else None)
    log_request(g.get("request_id", ""), request.method, route, request.endpoint, response.status_code,
                g.get("request_started", time.perf_counter()),
                0 if response.status_code == 304 else response.calculate_content_length(), client_ip())
    return response


def init_app(app: Flask) -> None:
    """Log every request as JSON; the app's own log lines use the same format."""

    app.logger.removeHandler(default_handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    # One handler on the package's logger ("iptor_site" is app.logger); the access
    # logger below it propagates there, so each line is written once.
    if not any(isinstance(h.formatter, JsonFormatter) for h in app.logger.handlers):
        app.logger.addHandler(handler)
    app.logger.setLevel(logging.INFO)
    for log in (logger, app.logger):
        if not any(isinstance(f, RequestIdFilter) for f in log.filters):
            log.addFilter(RequestIdFilter())
    app.before_request(_start)
    app.after_request(_finish)
