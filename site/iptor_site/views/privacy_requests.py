"""Privacy inquiries from data subjects."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("privacy_requests", __name__, url_prefix="/<locale:lang>")


@bp.get("/privacy/inquiry")
def inquiry():
    """Where the policy's "inquiry form" links lead (the form itself is issue #3)."""
    return render_template("privacy/inquiry_placeholder.html")
