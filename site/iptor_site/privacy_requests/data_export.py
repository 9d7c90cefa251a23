"""The access/portability export: everything the site holds about an address, as JSON and a readable page."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from email import message_from_bytes, policy

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from iptor_site.consent.models import ConsentRevocation, ConsentStamp
from iptor_site.core.clock import now as clock
from iptor_site.core.locales import force_locale
from iptor_site.leads.people import leads_of
from iptor_site.mail.models import OutboxMessage
from iptor_site.privacy_requests import export_page
from iptor_site.privacy_requests.erasure import _mail_rows, _spam_rows
from iptor_site.privacy_requests.models import (
    RequestToken,
)

#: Version of the export's JSON layout (its keys are described in README.md).
EXPORT_FORMAT = "iptor-personal-data/2"


def _collect(session: Session, address: str, now: datetime) -> dict:
    """Everything erasure would delete for the address, as Python values."""
    leads = leads_of(session, address)
    lead_ids = [lead.id for lead in leads]
    inquiry_ids = [lead.inquiry.id for lead in leads if lead.inquiry is not None]
    tokens = session.scalars(select(RequestToken).where(RequestToken.inquiry_id.in_(inquiry_ids))
                             .order_by(RequestToken.id)).all()
    revocations = session.scalars(select(ConsentRevocation).where(ConsentRevocation.lead_id.in_(lead_ids))
                                  .order_by(ConsentRevocation.id)).all()

    def stamp(record: ConsentStamp | None):
        if record is None:
            return None
        return {
            "time": record.created_at, "locale": record.locale, "policy_version": record.policy_version,
            "form": record.form_name, "form_version": record.form_version, "page_url": record.page_url,
            "ip_address": record.ip_address, "user_agent": record.user_agent,
            "browser_consent_id": record.cookie_consent_id,
            "statements": [{"text": item.text.text, "sha256": item.text.sha256, "language": item.text.locale,
                            "ticked": item.ticked} for item in record.items],
        }

    def link_state(token: RequestToken) -> str:
        if token.used_at is not None:
            return "used"
        return "expired" if token.expires_at <= now else "valid"

    def mail(row: OutboxMessage) -> dict:
        # A message the sender has not built yet has no subject or text to show.
        msg = None if row.message is None else message_from_bytes(row.message, policy=policy.default)
        body = None
        if msg is not None:
            part = msg.get_body(("plain",))
            body = part.get_content() if part is not None else None
        return {"to": row.recipient, "subject": None if msg is None else str(msg["Subject"]),
                "written_at": row.created_at, "sent_at": row.sent_at, "body": body}

    def fields(payload: str) -> dict:
        try:
            value = json.loads(payload)
        except ValueError:
            return {"raw": payload}
        return value if isinstance(value, dict) else {"raw": payload}

    return {
        "format": EXPORT_FORMAT,
        "email": address,
        "exported_at": now,
        "leads": [{
            "id": lead.id, "kind": lead.kind, "created_at": lead.created_at, "language": lead.locale,
            "name": lead.name, "email": lead.email, "marketing_opt_in": lead.marketing_opt_in,
            "restricted": lead.restricted, "objected": lead.objected,
            "consent": stamp(lead.consent),
            "consent_revocations": [{"consent": r.consent_key, "at": r.at, "source": r.source}
                                    for r in revocations if r.lead_id == lead.id],
            "demo_booking": None if lead.booking is None else {
                "slot_start": lead.booking.slot_start, "minutes": lead.booking.duration_minutes,
                "time_zone": lead.booking.time_zone, "company": lead.booking.company,
                "country": lead.booking.country, "phone": lead.booking.phone, "users": lead.booking.users,
                "message": lead.booking.message, "status": lead.booking.status},
            "privacy_request": None if lead.inquiry is None else {
                "reference": lead.inquiry.reference, "type": lead.inquiry.request_type, "details": lead.inquiry.details,
                "received_at": lead.inquiry.received_at, "due_on": lead.inquiry.due_on,
                "status": lead.inquiry.status,
                "history": [{"at": h.at, "from": h.from_status, "to": h.to_status, "reason": h.reason}
                            for h in lead.inquiry.history],
                "links": [{"purpose": t.purpose, "created_at": t.created_at, "expires_at": t.expires_at,
                           "used_at": t.used_at, "state": link_state(t)}
                          for t in tokens if t.inquiry_id == lead.inquiry.id]},
        } for lead in leads],
        "mails": [mail(row) for row in _mail_rows(session, address, lead_ids)],
        "caught_as_spam": [{"received_at": row.created_at, "form": row.form_name, "reason": row.reason,
                            "fields": fields(row.payload), "ip_address": row.ip_address,
                            "user_agent": row.user_agent} for row in _spam_rows(session, address)],
    }


def _plain(value):
    """``value`` with dates as ISO 8601 text, for JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def export_locale(session: Session, address: str) -> str:
    """The language of the person's latest privacy request (else of their latest lead)."""
    leads = leads_of(session, address)
    asked = [lead for lead in leads if lead.inquiry is not None] or leads
    return asked[-1].locale if asked else "en"


#: The files in the ZIP, named in the person's language.
EXPORT_FILES = {"json": _l("my-data"), "html": _l("overview")}


def export_archive(session: Session, address: str, *, locale: str | None = None,
                   now: datetime | None = None) -> bytes:
    """The export as a ZIP: machine-readable JSON and a readable HTML page, both
    named, and the page written, in the person's language."""

    data = _collect(session, address, now or clock())
    locale = locale or export_locale(session, address)
    buffer = io.BytesIO()
    with force_locale(locale), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        json_name, html_name = f"{EXPORT_FILES['json']}.json", f"{EXPORT_FILES['html']}.html"
        archive.writestr(json_name, json.dumps(_plain(data), ensure_ascii=False, indent=2))
        archive.writestr(html_name, export_page.render(data, locale, json_name))
    return buffer.getvalue()
