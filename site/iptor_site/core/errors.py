"""Localized error pages in the site's layout; bodies no form of the site sends are refused."""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from iptor_site.core.database import is_unavailable
from iptor_site.core.extensions import db

#: Each status page's heading and explanation.
PAGES = {
    400: (_l("We could not read this submission"),
          _l("What reached us is not what the form on this page sends. Please go back, reload the page and send "
             "the form again.")),
    403: (_l("Access denied"), _l("You do not have permission to open this page.")),
    404: (_l("Page not found"),
          _l("We could not find the page you asked for. It may have moved, or the address may be mistyped.")),
    405: (_l("This action is not available"), _l("This page cannot be used that way. Please go back and try again.")),
    413: (_l("Too much text"), _l("What you sent is larger than this form accepts. Please go back, shorten the "
                                  "longest fields and send it again.")),
    429: (_l("Too many requests"), _l("We have received many submissions from you in a short time. Please wait a "
                                      "while and try again, or write to us by e-mail.")),
    500: (_l("Something went wrong"), _l("An error on our side stopped this page from loading. We have been "
                                         "notified; please try again in a few minutes.")),
    503: (_l("Temporarily unavailable"), _l("We cannot save anything just now because of a problem on our side. "
                                            "Nothing was changed; please try again in a few minutes.")),
}

#: Bodies the site's forms send (a browser's, the banner's script, RFC 8058 one-click).
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class UnreadableBody(BadRequest):
    """A POST body that no form of this site sends: a file part, another content type
    (JSON, XML, text), or a field given more than once where forms send one value."""


def refuse_unreadable_bodies() -> None:
    """Before any view: every form field is one piece of text, or the request is refused (400)."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    if request.mimetype and request.mimetype not in FORM_TYPES:
        raise UnreadableBody()
    if not request.mimetype and request.content_length:
        raise UnreadableBody()
    if request.files or any(len(values) > 1 for values in request.form.listvalues()):
        raise UnreadableBody()


def _page(code: int) -> str:
    g.status_page = True
    title, text = PAGES[code]
    return render_template("errors/status.html", title=title, text=text)


def init_app(app: Flask) -> None:
    """Register the status pages."""

    def handle(exc: HTTPException):
        # Keep what Werkzeug sets for the status (Allow on 405, Retry-After on 429).
        response = exc.get_response()
        response.set_data(_page(exc.code))
        response.mimetype = "text/html"
        return response

    for code in (403, 404, 405, 413, 429):
        app.register_error_handler(code, handle)

    app.before_request(refuse_unreadable_bodies)

    @app.errorhandler(UnreadableBody)
    @app.errorhandler(CSRFError)  # a POST without its token: crafted, or a page kept open too long
    def unreadable(exc: BadRequest):
        return _page(400), 400

    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(exc: SQLAlchemyError):
        """A locked, read-only or unreachable database is a 503 (the forms answer it
        themselves and keep what was typed); any other database error stays a 500."""
        if not is_unavailable(exc):
            raise exc
        db.session.rollback()
        app.logger.error("database unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
        return _page(503), 503, {"Retry-After": "60"}

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):
        app.logger.error("unhandled error", exc_info=exc.original_exception)
        return _page(500), 500
