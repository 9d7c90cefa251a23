"""The one consent component every form uses.

It adds the consent boxes to a form, renders their statements in the
visitor's language with a link to the current privacy policy, and stamps a
saved submission with proof of exactly what was shown and ticked.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from flask import current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from wtforms import BooleanField
from wtforms.validators import DataRequired

from . import cookieconsent
from .models import ConsentStamp, ConsentStampItem, ConsentText

PRIVACY_NOTICE = "privacy_notice"
MARKETING = "marketing"

#: The statements, each with a %(policy)s placeholder for the policy's link text where it names it.
STATEMENTS = {
    PRIVACY_NOTICE: _l("I have read the %(policy)s and understand that Iptor uses the details "
                       "I give here to handle this request."),
    MARKETING: _l("Yes, Iptor may send me e-mails about its products, events and offers. "
                  "I can unsubscribe at any time."),
}
POLICY_LINK_TEXT = _l("privacy policy")


class PrivacyNoticeMixin:
    """The required acknowledgement of the privacy policy (never pre-ticked)."""

    privacy_notice = BooleanField(
        _l("Privacy policy"),
        validators=[DataRequired(message=_l("Please confirm that you have read the privacy policy."))],
        default=False,
    )


class MarketingMixin:
    """The optional, separate opt-in for marketing e-mails (never pre-ticked)."""

    marketing = BooleanField(_l("Marketing e-mails"), default=False)


def statement_keys(form) -> list[str]:
    """The consent statements a form shows, in display order."""
    return [key for key in STATEMENTS if key in form._fields]


def statement_text(key: str) -> str:
    """The statement as plain text in the current locale: the wording that is stored."""
    template = str(STATEMENTS[key])
    if "%(policy)s" not in template:
        return template
    return template % {"policy": str(POLICY_LINK_TEXT)}


def policy_link() -> Markup:
    """A link to the current privacy policy in the page's language."""
    return Markup('<a href="{}">{}</a>').format(url_for("pages.privacy"), POLICY_LINK_TEXT)


def statement_label(key: str) -> Markup:
    """The statement as the form's label, with the policy named as a link."""
    template = str(STATEMENTS[key])
    if "%(policy)s" not in template:
        return escape(template)
    return escape(template) % {"policy": policy_link()}


def client_ip() -> str | None:
    """The visitor's address, truncated to /24 or /48 unless the setting says full."""
    return stored_ip(request.remote_addr, current_app.config["IP_STORAGE"])


@lru_cache(maxsize=4096)  # visitors come back: parsing the address is a third of a cached page's cost
def stored_ip(raw: str | None, storage: str) -> str | None:
    """``raw`` as the site keeps it: whole when ``storage`` is "full", else its /24 or /48."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if storage == "full":
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def _consent_text_id(session: Session, key: str, locale: str, text: str, now: datetime) -> int:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # Wordings are stored once and never changed or deleted, so an id read from a
    # committed row stays right for the life of the app; one this session wrote is
    # not remembered, as its transaction may still roll back.
    known = current_app.extensions.setdefault("consent_text_ids", {})
    if digest in known:
        return known[digest]
    written = session.info.setdefault("consent_texts_written", set())
    existing = session.scalar(select(ConsentText.id).where(ConsentText.sha256 == digest))
    if existing is not None:
        if digest not in written:
            known[digest] = existing
        return existing
    written.add(digest)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(ConsentText)
        .values(sha256=digest, key=key, locale=locale, text=text, first_seen_at=now)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return session.scalar(select(ConsentText.id).where(ConsentText.sha256 == digest))


@dataclass(frozen=True)
class Stamp:
    """A submission's consent stamp, gathered from its request before the transaction
    that writes it: the circumstances, and each statement shown with whether it was ticked."""

    values: dict
    statements: tuple[tuple[str, str, bool], ...]  # (key, wording, ticked), in display order


def prepare_stamp(form, *, form_name: str, form_version: str, policy_version: str, now: datetime) -> Stamp:
    """What ``form``'s person was shown and ticked, and where and when (see ``write_stamp``)."""
    browser_choice = cookieconsent.current_choice()
    values = {
        "created_at": now,
        "locale": g.lang,
        "policy_version": policy_version,
        "form_name": form_name,
        "form_version": form_version,
        "page_url": request.url[:2048],
        "ip_address": client_ip(),
        "user_agent": (request.user_agent.string or "")[:512] or None,
        "cookie_consent_id": browser_choice.consent_id if browser_choice else None,
    }
    statements = tuple((key, statement_text(key), bool(form[key].data)) for key in statement_keys(form))
    return Stamp(values, statements)


def write_stamp(session: Session, lead_id: int, stamp: Stamp) -> None:
    """Record ``stamp`` for the lead ``lead_id``, in the caller's transaction."""
    values = stamp.values
    items = [
        {"consent_text_id": _consent_text_id(session, key, values["locale"], text, values["created_at"]),
         "position": position, "ticked": ticked}
        for position, (key, text, ticked) in enumerate(stamp.statements)
    ]
    row = ConsentStamp(**values, lead_id=lead_id)
    session.add(row)
    session.flush()
    session.add_all([ConsentStampItem(**item, stamp_id=row.id) for item in items])
