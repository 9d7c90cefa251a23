"""The demo bookings, and the salespeople who give demos: their hours, time off and calendar."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Identity, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime
from iptor_site.leads.models import Lead


class DemoBooking(Base):
    """A booked demo slot. The unique (slot, seat) pair makes double booking impossible."""

    __tablename__ = "demo_bookings"
    __table_args__ = (
        UniqueConstraint("slot_start", "seat"),
        # One salesperson is never booked twice at overlapping times. Every start lies on
        # the slot grid (DEMO_DAY_START + n × DEMO_SLOT_MINUTES, ``slots.is_offered``), so
        # two of one salesperson's demos overlap exactly when they start together: a
        # unique index on the pair, for live bookings only (a cancelled one has no seat),
        # decides a race on SQLite and PostgreSQL alike. A PostgreSQL exclusion
        # constraint on time ranges would need the btree_gist extension (which the site's
        # role may not be allowed to create) and triggers to match it on SQLite.
        Index("uq_demo_bookings_salesperson_slot", "salesperson_id", "slot_start", unique=True,
              sqlite_where=text("seat IS NOT NULL"), postgresql_where=text("seat IS NOT NULL")),
        IDS_NEVER_REUSED,
    )
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # NULL once cancelled: the seat is free again, the booking stays on record.
    seat: Mapped[int | None] = mapped_column(Integer)
    duration_minutes: Mapped[int]
    time_zone: Mapped[str] = mapped_column(String(64))
    company: Mapped[str] = mapped_column(String(160))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(40))
    users: Mapped[int]
    message: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    # The invitation's SEQUENCE, raised by every change (demo/manage.py), and when.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who gives the demo (``demo.assignment``); none when no salesperson is set up.
    salesperson_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))

    lead: Mapped[Lead] = relationship(back_populates="booking")


class SalesProfile(Base):
    """A ``sales`` staff member who gives demos: their weekly hours in their own time
    zone, an optional meeting link and an optional CalDAV calendar. The calendar's
    user name and password are stored together, encrypted (``demo.salespeople``)."""

    __tablename__ = "sales_profiles"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    #: Weekly hours as written and checked by ``demo.salespeople.parse_hours``: "mon-fri 09:00-17:00".
    hours: Mapped[str] = mapped_column(String(500))
    time_zone: Mapped[str] = mapped_column(String(64))
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    calendar_url: Mapped[str | None] = mapped_column(String(500))
    #: A Fernet token of {"username", "password"}; never the plain values.
    calendar_credentials: Mapped[str | None] = mapped_column(Text)


class SalesTimeOff(Base):
    """Days a salesperson gives no demos, ``first_day`` to ``last_day`` inclusive, in their zone."""

    __tablename__ = "sales_time_off"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
