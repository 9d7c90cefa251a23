"""Localized error pages in the site's layout."""

from __future__ import annotations

from flask import Flask, g, render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

#: Each status page's heading and explanation.
PAGES = {
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
}


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

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):
        app.logger.error("unhandled error", exc_info=exc.original_exception)
        return _page(500), 500
