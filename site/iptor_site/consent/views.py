"""Cookie consent: the settings page and the endpoint the banner posts to."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from iptor_site.consent import cookie_consent
from iptor_site.core.extensions import csrf, db
from iptor_site.core.security import safe_next

bp = Blueprint("cookies", __name__, url_prefix="/<locale:lang>")


def _same_origin() -> bool:
    """The banner's POST carries no token (pages stay cacheable); the browser's
    Origin (or Referer) header must name this site instead."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.host


def _page_of_the_form() -> str:
    """The page the form was sent from (its origin is checked), else the landing page."""
    referrer = urlsplit(request.headers.get("Referer", ""))
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("pages.landing")


@bp.get("/cookies")
def settings():
    """Which cookies the site uses, per category, and the visitor's choice (works without JavaScript)."""
    return render_template("consent/cookies.html", saved=request.args.get("saved") == "1")


@bp.post("/cookies/consent")
@csrf.exempt  # checked by origin instead, see _same_origin
def consent():
    """Store a choice from the banner or the settings page, and log it."""
    if not _same_origin():
        abort(403)
    action = request.form.get("action")
    if action not in {"accept", "reject", "choose"}:
        abort(400)
    before = cookie_consent.granted()
    wanted = {key for key in cookie_consent.OPTIONAL if request.form.get(key) == "on"}
    choice, value = cookie_consent.decide(action, wanted, db.session, g.lang)
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        # The page reloads when the tags it may run change (its CSP changes with them).
        response = jsonify(granted=sorted(choice.granted), reload=choice.granted != before)
    else:
        response = redirect(safe_next(request.form.get("next"), _page_of_the_form()), 303)
    response.set_cookie(
        cookie_consent.COOKIE, value, max_age=cookie_consent.COOKIE_MAX_AGE,
        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax",
    )
    # Withdrawn: remove what those tags left behind.
    cookie_consent.delete_tracking_cookies(response, before - choice.granted)
    return response
