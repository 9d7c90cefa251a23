"""Retention: delete what is older than its retention period, as unreadably as an erasure.

``PERIODS`` is the one list of periods: the purge enforces it and the privacy page
shows it (``table``), so what a person reads is what the site does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.units import format_unit
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from iptor_site.consent.models import CookieConsentEvent
from iptor_site.core.audit import AuditEntry
from iptor_site.demo import calendar_sync
from iptor_site.demo.models import DemoBooking
from iptor_site.leads.models import Lead, SpamSubmission
from iptor_site.mail.models import OutboxMessage
from iptor_site.privacy_requests import erasure, lifecycle
from iptor_site.privacy_requests.models import PrivacyInquiry


@dataclass(frozen=True)
class Period:
    setting: str
    unit: str  # "day", "month" or "year"
    what: object  # lazy label: the data kept
    starts: object  # lazy label: from when the period runs

    def length(self) -> int:
        return current_app.config[self.setting]

    def cutoff(self, now: datetime) -> datetime:
        days = {"day": 1, "month": 30.44, "year": 365.25}[self.unit]
        return now - timedelta(days=days * self.length())

    def duration(self) -> str:
        """The period in the current language, e.g. "24 Monate"."""
        return format_unit(self.length(), f"duration-{self.unit}", length="long", locale=get_locale())


PERIODS = {
    "demo": Period("RETENTION_DEMO_MONTHS", "month", _l("Demo bookings, with their consent record and e-mails"),
                   _l("the date of the demo, or of the booking if later")),
    "requests": Period("RETENTION_REQUEST_YEARS", "year",
                       _l("Completed or rejected privacy requests, with their history and e-mails"),
                       _l("the closing of the request")),
    "unverified": Period("RETENTION_UNVERIFIED_DAYS", "day", _l("Privacy requests never confirmed"),
                         _l("the receipt of the request")),
    "spam": Period("RETENTION_SPAM_DAYS", "day", _l("Submissions held as suspected spam"),
                   _l("the submission")),
    "cookies": Period("RETENTION_COOKIE_CONSENT_MONTHS", "month", _l("The log of cookie choices"),
                      _l("the choice")),
    "audit": Period("RETENTION_AUDIT_YEARS", "year",
                    _l("The log of what our staff did with personal data (audit log)"),
                    _l("the action")),
}


def table() -> list[tuple[str, str, str]]:
    """What we keep, for how long and from when, in the current language."""
    return [(str(p.what), p.duration(), str(p.starts)) for p in PERIODS.values()]


def _expire_unverified(session: Session, now: datetime) -> int:
    """Requests never confirmed within the link's lifetime are expired, not left open."""
    cutoff = now - timedelta(hours=current_app.config["REQUEST_LINK_HOURS"])
    stale = list(session.scalars(select(PrivacyInquiry).where(
        PrivacyInquiry.status == "awaiting_verification", PrivacyInquiry.received_at < cutoff)))
    for inquiry in stale:
        lifecycle.change_status(session, inquiry, "expired", actor=lifecycle.SYSTEM, now=now,
                          reason="not confirmed before the link expired")
    return len(stale)


def purge(session: Session, now: datetime) -> dict[str, int]:
    """Delete what is past its retention period (and the .eml files of the mail
    deleted with it); returns the counts. The caller commits, then calls
    ``scrubbing.make_unreadable(session, erasure.PERSONAL_TABLES + erasure.LOGS)``."""
    demo_cutoff = PERIODS["demo"].cutoff(now)
    request_cutoff = PERIODS["requests"].cutoff(now)
    unverified_cutoff = PERIODS["unverified"].cutoff(now)

    # Demo leads with no activity: created and held (or not) before the cut-off.
    demo_leads = select(Lead.id).join(DemoBooking).where(
        Lead.created_at < demo_cutoff, DemoBooking.slot_start < demo_cutoff)
    closed = select(Lead.id).join(PrivacyInquiry).where(
        PrivacyInquiry.status.in_(("completed", "rejected")), PrivacyInquiry.completed_at < request_cutoff)
    unverified = select(Lead.id).join(PrivacyInquiry).where(
        PrivacyInquiry.status.in_(("awaiting_verification", "expired")), PrivacyInquiry.received_at < unverified_cutoff)
    counts = {"requests marked expired": _expire_unverified(session, now)}
    for kind, query in (("demo leads", demo_leads), ("completed privacy requests", closed),
                        ("unverified privacy requests", unverified)):
        ids = list(session.scalars(query))
        mails = session.execute(select(OutboxMessage.id, OutboxMessage.message)
                                .where(OutboxMessage.lead_id.in_(ids))).all()
        erasure.remove_mail_files([tuple(row) for row in mails])
        calendar_sync.leads_erased(session, ids)  # their demo events leave the salespeople's calendars
        for lead in session.scalars(select(Lead).where(Lead.id.in_(ids))):
            session.delete(lead)  # cascades to the booking or request, consent and mail
        counts[kind] = len(ids)
    counts["spam"] = session.execute(
        delete(SpamSubmission).where(SpamSubmission.created_at < PERIODS["spam"].cutoff(now))).rowcount
    counts["cookie choices"] = session.execute(
        delete(CookieConsentEvent).where(CookieConsentEvent.created_at < PERIODS["cookies"].cutoff(now))).rowcount
    # The one deletion the audit log allows: the database refuses younger entries.
    counts["audit log entries"] = session.execute(
        delete(AuditEntry).where(AuditEntry.at < PERIODS["audit"].cutoff(now))).rowcount
    return counts
