"""Bulletins (通报) filed for later download: each holds what it reported, as figures and as
the two documents made from them."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.timeutil import utcnow

WEEKLY, MONTHLY = "weekly", "monthly"
KINDS = (WEEKLY, MONTHLY)


class Bulletin(db.Model):
    """One bulletin of one period: filed by the scheduled job or by the office on demand.

    ``content`` is what the documents were made from (figures, rankings, items), so a filed
    bulletin is downloaded as it was issued, whatever changed since.
    """

    __tablename__ = "bulletins"
    __table_args__ = (UniqueConstraint("kind", "period_start", name="uq_bulletins_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # weekly or monthly
    period_start: Mapped[date]
    period_end: Mapped[date]
    as_of: Mapped[datetime]  # UTC: the moment its figures were taken at
    year: Mapped[int]
    issue: Mapped[int]  # its number within the year and kind: 2026年第47期
    title: Mapped[str] = mapped_column(String(120))
    content: Mapped[dict] = mapped_column(JSON)
    pdf: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[Optional[User]] = relationship()
