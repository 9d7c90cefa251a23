"""Bot traps shared by the forms: a honeypot field and a minimum fill time."""

from __future__ import annotations

import json
import time

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from wtforms import HiddenField, StringField

from . import slots
from .consent import client_ip
from .models import SpamSubmission

HONEYPOT_LABEL = _l("Leave this field empty")


class AntiSpamMixin:
    """``website`` must stay empty (people never see it); ``started`` proves when the form was shown."""

    website = StringField(HONEYPOT_LABEL)
    started = HiddenField()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="form-started")


def start_token(form_name: str) -> str:
    """A signed timestamp for a freshly shown form."""
    return _serializer().dumps(form_name)


def verdict(form, form_name: str) -> str | None:
    """Why a submission looks automated, or None: "honeypot", "bad-token" or "too-fast"."""
    if (form.website.data or "").strip():
        return "honeypot"
    try:
        name, signed_at = _serializer().loads(form.started.data or "", return_timestamp=True)
    except BadSignature:
        return "bad-token"
    if name != form_name:
        return "bad-token"
    if time.time() - signed_at.timestamp() < current_app.config["FORM_MIN_FILL_SECONDS"]:
        return "too-fast"
    return None


def store(session: Session, form, form_name: str, reason: str) -> None:
    """Keep a caught submission for review instead of dropping it."""
    payload = {
        name: field.data if isinstance(field.data, (str, int, bool, type(None))) else str(field.data)
        for name, field in form._fields.items()
        if name not in {"csrf_token", "started"}
    }
    session.add(
        SpamSubmission(
            created_at=slots.now(),
            form_name=form_name,
            reason=reason,
            payload=json.dumps(payload, ensure_ascii=False)[:20000],
            ip_address=client_ip(),
            user_agent=(request.user_agent.string or "")[:512] or None,
        )
    )
    session.commit()
