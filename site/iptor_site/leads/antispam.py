"""Bot traps shared by the forms: a honeypot field and a time trap (a minimum fill time, a lifetime)."""

from __future__ import annotations

import hashlib
import json
import secrets

from flask import current_app, request, session
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session
from wtforms import HiddenField, StringField

from iptor_site.core import clock
from iptor_site.core.client_ip import client_ip
from iptor_site.leads.models import SpamSubmission

HONEYPOT_LABEL = _l("Leave this field empty")


class AntiSpamMixin:
    """``website`` must stay empty (people never see it); ``started`` proves when, and to which
    visitor, the form was shown."""

    website = StringField(HONEYPOT_LABEL)
    started = HiddenField()


VISITOR_KEY = "form_visitor"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="form-started")


def _visitor() -> str:
    """A digest of a random value kept in this visitor's session: the token names the
    session it was handed to without carrying anything the session holds."""
    nonce = session.setdefault(VISITOR_KEY, secrets.token_urlsafe(16))
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


def start_token(form_name: str) -> str:
    """A signed token for a freshly shown form: which form, for which session, shown when."""
    return _serializer().dumps([form_name, _visitor(), clock.now().timestamp()])


def verdict(form, form_name: str) -> str | None:
    """Why a submission cannot be taken as it is, or None.

    "honeypot" and "bad-token" (forged, or from another form) look automated; "too-fast"
    came sooner than a person types; "expired" was shown too long ago or to another
    session (a replayed form, or a tab left open): the person is asked to send it again.
    """
    if (form.website.data or "").strip():
        return "honeypot"
    try:
        name, visitor, shown_at = _serializer().loads(form.started.data or "")
    except (BadSignature, ValueError, TypeError):
        return "bad-token"
    if name != form_name:
        return "bad-token"
    age = clock.now().timestamp() - shown_at
    if visitor != _visitor() or age > current_app.config["FORM_MAX_AGE_HOURS"] * 3600:
        return "expired"
    if age < current_app.config["FORM_MIN_FILL_SECONDS"]:
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
            created_at=clock.now(),
            form_name=form_name,
            reason=reason,
            payload=json.dumps(payload, ensure_ascii=False)[:20000],
            ip_address=client_ip(),
            user_agent=(request.user_agent.string or "")[:512] or None,
        )
    )
