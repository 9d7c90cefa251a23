"""Retention: delete what is older than its retention period, as unreadably as an erasure."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from . import dsr
from .models import DemoBooking, Lead, PrivacyInquiry, SpamSubmission


def _expire_unverified(session: Session, now: datetime) -> int:
    """Requests never confirmed within the link's lifetime are expired, not left open."""
    cutoff = now - timedelta(hours=current_app.config["REQUEST_LINK_HOURS"])
    stale = list(session.scalars(select(PrivacyInquiry).where(
        PrivacyInquiry.status == "awaiting_verification", PrivacyInquiry.received_at < cutoff)))
    for inquiry in stale:
        dsr.change_status(session, inquiry, "expired", actor=dsr.SYSTEM, now=now,
                          reason="not confirmed before the link expired")
    return len(stale)


def purge(session: Session, now: datetime) -> dict[str, int]:
    """Delete expired leads by kind; returns the counts."""
    config = current_app.config
    demo_cutoff = now - timedelta(days=30.44 * config["RETENTION_DEMO_MONTHS"])
    request_cutoff = now - timedelta(days=365.25 * config["RETENTION_REQUEST_YEARS"])
    unverified_cutoff = now - timedelta(days=config["RETENTION_UNVERIFIED_DAYS"])
    spam_cutoff = now - timedelta(days=config["RETENTION_SPAM_DAYS"])

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
        for lead in session.scalars(select(Lead).where(Lead.id.in_(ids))):
            session.delete(lead)  # cascades to the booking or request, consent and mail
        counts[kind] = len(ids)
    counts["spam"] = session.execute(delete(SpamSubmission).where(SpamSubmission.created_at < spam_cutoff)).rowcount
    session.commit()
    dsr.make_unreadable(session)
    return counts
