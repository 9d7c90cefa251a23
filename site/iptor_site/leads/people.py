"""A lead's person: finding their rows by a keyed hash of the address, storing a new lead, mail to them."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask import current_app, g, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from iptor_site.consent.models import Suppression
from iptor_site.core.locales import force_locale
from iptor_site.leads.models import Lead
from iptor_site.mail import messages


def email_hash(address: str) -> str:
    """Keyed hash of an address: finds a person's rows without storing the address."""
    key = current_app.config["SUPPRESSION_KEY"].encode()
    return hmac.new(key, address.strip().casefold().encode(), hashlib.sha256).hexdigest()


def leads_of(session: Session, address: str) -> list[Lead]:
    """The person's leads: matched by the keyed hash of the case-folded address."""
    return list(session.scalars(select(Lead).where(Lead.email_hash == email_hash(address)).order_by(Lead.id)))


TEAM_LOCALE = "en"


def _lead_values(form, kind: str, now: datetime) -> dict:
    """The lead's row, from the form, before the transaction that writes it."""
    return {
        "kind": kind,
        "created_at": now,
        "locale": g.lang,
        "name": form.name.data,
        "email": form.email.data,
        "email_hash": email_hash(form.email.data),
        "marketing_opt_in": bool(getattr(form, "marketing", None) and form.marketing.data),
    }


def _add(session: Session, row) -> int:
    """Add ``row`` in the session's transaction and return its new id."""
    session.add(row)
    session.flush()
    return row.id


def _insert_lead(session: Session, lead: dict) -> int:
    if lead["marketing_opt_in"]:
        # Ticking the box again is a new consent: it lifts an earlier opt-out.
        session.execute(delete(Suppression).where(Suppression.email_hash == lead["email_hash"]))
    return _add(session, Lead(**lead))


def person_message(lead: Lead, template: str, subject_key: str, *, reply_to: str | None = None, **context):
    """A mail to the person, in their language (the lead's locale); replies go to the
    privacy team unless ``reply_to`` says otherwise."""
    with force_locale(lead.locale):
        return messages.build_message(
            to_name=lead.name,
            to_address=lead.email,
            subject=str(SUBJECTS[subject_key]),
            body=render_template(template, lead=lead, **context),
            locale=lead.locale,
            reply_to=reply_to or current_app.config["MAIL_PRIVACY_TEAM"],
        )


SUBJECTS = {
    "request_started": _l("We have started on your privacy request"),
    "request_completed": _l("Your privacy request has been completed"),
    "request_rejected": _l("About your privacy request"),
    "inquiry_received": _l("Please confirm your privacy request"),
    "inquiry_extended": _l("We need more time for your privacy request"),
    "download_ready": _l("Your personal data is ready to download"),
    "erasure_certificate": _l("Your personal data has been erased"),
}


def _row_and_lead(model, key: str):
    """A recipe's loader: the ``model`` row whose id is ``params[key]``, with its lead
    loaded into ``row.lead``, so that building the mail needs no query after the read
    ends (a lazy load there would begin a writing transaction)."""

    def load(session: Session, params: dict):
        return session.get(model, params[key], options=[joinedload(model.lead)])

    return load
