"""The salespeople who give demos: their working hours, time off and calendar."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Identity, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


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
