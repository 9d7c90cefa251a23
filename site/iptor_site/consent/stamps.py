"""The one consent component every form uses.

It adds the consent boxes to a form, renders their statements in the
visitor's language with a link to the current privacy policy, and stamps a
saved submission with proof of exactly what was shown and ticked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from wtforms import BooleanField
from wtforms.validators import DataRequired

from iptor_site.consent import cookie_consent
from iptor_site.consent.models import GENESIS, ConsentStamp, ConsentStampItem, ConsentText, link_hash, stamp_digest
from iptor_site.core.client_ip import client_ip

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


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _consent_text_id(session: Session, key: str, locale: str, text: str, now: datetime) -> int:
    digest = _text_sha256(text)
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
    browser_choice = cookie_consent.current_choice()
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


#: The stamp's fields its digest covers, besides the lead, the salt and the statements.
CONTENT = ("locale", "policy_version", "form_name", "form_version", "page_url", "ip_address", "user_agent",
           "cookie_consent_id")

#: The pg_advisory_xact_lock key that lines up appends to the chain ("consent" in ASCII).
CHAIN_LOCK = 0x636F6E73656E74


def _chain_head(session: Session) -> str:
    """The newest stamp's hash, read once this transaction is the chain's only writer.

    PostgreSQL: an advisory lock held until the transaction ends, so the next writer
    reads the head only after this one's stamp is committed. SQLite: every write
    transaction holds the database's write lock from its BEGIN (see ``db``). Either
    way the unique ``prev_hash`` refuses a fork that got past the lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK)))
    return session.scalar(select(ConsentStamp.hash).order_by(ConsentStamp.id.desc()).limit(1)) or GENESIS


def write_stamp(session: Session, lead_id: int, stamp: Stamp) -> None:
    """Record ``stamp`` for the lead ``lead_id`` as the chain's next link, in the
    caller's transaction (which holds the chain until it ends)."""
    values = stamp.values
    statements = [(position, key, text, _text_sha256(text), ticked)
                  for position, (key, text, ticked) in enumerate(stamp.statements)]
    items = [ConsentStampItem(consent_text_id=_consent_text_id(session, key, values["locale"], text,
                                                               values["created_at"]),
                              position=position, ticked=ticked)
             for position, key, text, _, ticked in statements]
    content = {**{name: values[name] for name in CONTENT}, "lead_id": lead_id, "salt": secrets.token_hex(16)}
    digest = stamp_digest(**content, statements=[(position, key, sha256, ticked)
                                                 for position, key, _, sha256, ticked in statements])
    prev_hash = _chain_head(session)
    session.add(ConsentStamp(
        **content, created_at=values["created_at"], digest=digest, prev_hash=prev_hash,
        hash=link_hash(prev_hash=prev_hash, created_at=values["created_at"], digest=digest), items=items,
    ))
    session.flush()


# --- verifying the chain -----------------------------------------------------------------

@dataclass(frozen=True)
class Break:
    """The first stamp whose link does not hold, and why."""

    stamp_id: int
    created_at: datetime
    reason: str


@dataclass(frozen=True)
class ChainReport:
    stamps: int
    erased: int
    head: str
    broken: Break | None = None
    #: Wordings whose text no longer matches their SHA-256.
    altered_texts: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.altered_texts


def verify_chain(session: Session, batch: int = 1000) -> ChainReport:
    """Walk the stamps in id order and check each link: it follows the stamp before,
    its content (unless erased) still gives its digest, and its hash is right."""
    altered = [text_id for text_id, sha256, text in session.execute(
        select(ConsentText.id, ConsentText.sha256, ConsentText.text).order_by(ConsentText.id))
        if _text_sha256(text) != sha256]
    columns = [getattr(ConsentStamp, name) for name in
               ("id", "created_at", "lead_id", *CONTENT, "salt", "digest", "prev_hash", "hash", "erased")]
    prev, count, erased, last_id = GENESIS, 0, 0, 0
    while True:
        rows = session.execute(select(*columns).where(ConsentStamp.id > last_id)
                               .order_by(ConsentStamp.id).limit(batch)).all()
        if not rows:
            return ChainReport(count, erased, prev, None, altered)
        statements: dict[int, list] = {}
        for stamp_id, position, key, sha256, ticked in session.execute(
                select(ConsentStampItem.stamp_id, ConsentStampItem.position, ConsentText.key, ConsentText.sha256,
                       ConsentStampItem.ticked)
                .join(ConsentText, ConsentText.id == ConsentStampItem.consent_text_id)
                .where(ConsentStampItem.stamp_id.in_([row.id for row in rows]))
                .order_by(ConsentStampItem.stamp_id, ConsentStampItem.position)):
            statements.setdefault(stamp_id, []).append((position, key, sha256, ticked))
        for row in rows:
            reason = None
            if row.prev_hash != prev:
                reason = "it does not follow the stamp before it: a stamp was removed, added or reordered"
            elif not row.erased and stamp_digest(
                    lead_id=row.lead_id, salt=row.salt, statements=statements.get(row.id, []),
                    **{name: getattr(row, name) for name in CONTENT}) != row.digest:
                reason = "its content was changed after it was written"
            elif link_hash(prev_hash=row.prev_hash, created_at=row.created_at, digest=row.digest) != row.hash:
                reason = "its hash does not match its time, digest and the hash before it"
            if reason:
                return ChainReport(count, erased, prev, Break(row.id, row.created_at, reason), altered)
            prev, count, erased = row.hash, count + 1, erased + row.erased
        last_id = rows[-1].id


def init_app(app: Flask) -> None:
    """The consent boxes' helpers, for every form's template."""
    app.jinja_env.globals.update(consent_keys=statement_keys, consent_label=statement_label,
                                 policy_link=policy_link)
