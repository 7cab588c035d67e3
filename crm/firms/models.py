"""Firms (一企一档), their contacts and their commissioner assignments (包保)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.org.models import Street
from crm.timeutil import utcnow

SIZES = ("large", "medium", "small", "micro")
TIERS = ("district", "sector", "local")
STATUSES = ("prospect", "active", "moved_out")
REVENUE_BANDS = ("<100", "100-500", "500-2000", "2000-10000", "10000-50000", ">=50000")
ASSIGNMENT_ROLES = ("primary", "backup")


class Firm(db.Model):
    __tablename__ = "firms"
    __table_args__ = (
        Index("ix_firms_street_status", "street_id", "status"),
        Index("ix_firms_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    legal_representative: Mapped[str] = mapped_column(String(64), default="")
    # GB/T 4754 code: a section letter and up to four digits, e.g. "I6513".
    industry_code: Mapped[str] = mapped_column(String(5), default="", index=True)
    size: Mapped[str | None] = mapped_column(String(8), index=True)
    registered_capital: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # 万元
    employees: Mapped[int | None]
    revenue_band: Mapped[str | None] = mapped_column(String(16))  # 万元
    established_on: Mapped[date | None]
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    address: Mapped[str] = mapped_column(String(200), default="")
    high_tech: Mapped[bool] = mapped_column(default=False)
    foreign_invested: Mapped[bool] = mapped_column(default=False)
    tier: Mapped[str | None] = mapped_column(String(16), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    # The district leader (区领导) linked to a district-tier firm.
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True),
        index=True,  # users and firms refer to each other
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Optimistic locking: a save based on a stale form is refused, not silently merged.
    version: Mapped[int] = mapped_column(default=1)

    street: Mapped[Street] = relationship()
    leader: Mapped[User | None] = relationship(foreign_keys=[leader_id])
    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="firm", cascade="all, delete-orphan", order_by="Contact.id"
    )
    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="firm", cascade="all, delete-orphan", order_by="Assignment.started_at"
    )

    __mapper_args__ = {"version_id_col": version}

    def current_assignment(self, role: str) -> Optional["Assignment"]:
        return next((a for a in self.assignments if a.role == role and a.ended_at is None), None)

    @property
    def primary_commissioner(self) -> User | None:
        a = self.current_assignment("primary")
        return a.commissioner if a else None

    @property
    def backup_commissioner(self) -> User | None:
        a = self.current_assignment("backup")
        return a.commissioner if a else None

    def __str__(self) -> str:
        return self.name


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)

    firm: Mapped[Firm] = relationship(back_populates="contacts")


class Assignment(db.Model):
    """A commissioner looking after a firm from ``started_at`` until ``ended_at``."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_commissioner_open", "commissioner_id", "ended_at"),
        Index("ix_assignments_firm_open", "firm_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"))
    commissioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(8))  # primary or backup
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(200), default="")
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    firm: Mapped[Firm] = relationship(back_populates="assignments")
    commissioner: Mapped[User] = relationship(foreign_keys=[commissioner_id])
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])
