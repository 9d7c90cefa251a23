"""The audit log: who did what to which record, kept for a year at least."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Identity, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from iptor_site.core.clock import now as clock
from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime


class AuditEntry(Base):
    """Append-only: the application never updates or deletes a row, and the
    database refuses it too (triggers in the migration)."""

    __tablename__ = "audit_log"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[str | None] = mapped_column(Text)


def audit(session: Session, actor: str, action: str, target: str | None = None,
          details: str | None = None, now: datetime | None = None) -> None:
    """Append to the audit log (the caller commits)."""

    session.add(AuditEntry(at=now or clock(), actor=actor, action=action, target=target, details=details))


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(mapper, connection, target):
    raise PermissionError("the audit log is append-only")
