"""Rate limits for form submissions, per client address and per submitted e-mail."""

from __future__ import annotations

from flask import current_app, request


def per_ip() -> str:
    return current_app.config["RATELIMIT_FORM_PER_IP"]


class _PerEmail:
    """Limit value and key for "the same e-mail address, from anywhere"."""

    def __call__(self) -> str:
        return current_app.config["RATELIMIT_FORM_PER_EMAIL"]

    @staticmethod
    def key() -> str:
        return "email:" + (request.form.get("email") or "").strip().casefold()[:254]


per_email = _PerEmail()


def reads_are_free() -> bool:
    """Only form submissions are limited: skip the limiter's work for page views."""
    return request.method in {"GET", "HEAD", "OPTIONS"}
