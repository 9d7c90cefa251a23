"""Localized error pages in the site's layout."""

from __future__ import annotations

from flask import Flask, g, render_template
from werkzeug.exceptions import HTTPException, InternalServerError


def _render(code: int):
    g.status_page = True
    return render_template(f"errors/{code}.html"), code


def init_app(app: Flask) -> None:
    """Register the 404, 405 and 500 pages."""

    @app.errorhandler(403)
    def forbidden(exc: HTTPException):
        return _render(403)

    @app.errorhandler(404)
    def not_found(exc: HTTPException):
        return _render(404)

    @app.errorhandler(405)
    def method_not_allowed(exc: HTTPException):
        response = exc.get_response()
        body, code = _render(405)
        response.set_data(body)
        response.mimetype = "text/html"
        return response

    @app.errorhandler(413)
    def too_large(exc: HTTPException):
        return _render(413)

    @app.errorhandler(429)
    def too_many(exc: HTTPException):
        body, code = _render(429)
        response = exc.get_response()
        response.set_data(body)
        response.mimetype = "text/html"
        return response

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):
        app.logger.error("unhandled error", exc_info=exc.original_exception)
        return _render(500)
