"""Mail waiting to be sent, written in the same transaction as the lead it is about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime


class OutboxMessage(Base):
    __tablename__ = "outbox"
    # What the sender asks for: unsent and due. Without it every sent message is scanned.
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"), IDS_NEVER_REUSED)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    #: The complete RFC 5322 message: written with the row, or by the sender from ``recipe``.
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: JSON naming a registered builder and its parameters, for mail built when it is sent.
    recipe: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
