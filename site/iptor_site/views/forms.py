"""Demo booking."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..pricing import parse_users

bp = Blueprint("forms", __name__, url_prefix="/<locale:lang>")


@bp.get("/demo")
def demo():
    """Where the pricing page's call to action leads (the booking form is issue #3)."""
    users, _ = parse_users(request.args.get("users"))
    return render_template("forms/demo_placeholder.html", users=users)
