"""User accounts and their server-side login sessions."""

from datetime import datetime
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.org.models import Department, Street
from crm.timeutil import utcnow

ROLES = ("admin", "office", "street", "commissioner", "department", "leader", "firm")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    # Set only for firm users; the firms table is defined in crm.firms.models.
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    # A talent commissioner (人才专员) is a commissioner with this specialty.
    specialty: Mapped[str] = mapped_column(String(32), default="")
    # The head of a street's centre or a department: supervision (督办) goes to them.
    is_unit_head: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    street: Mapped[Street | None] = relationship()
    department: Mapped[Department | None] = relationship()
    firm: Mapped[Optional["Firm"]] = relationship(foreign_keys=[firm_id])  # noqa: F821

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def __str__(self) -> str:
        return self.display_name or self.username


class UserSession(db.Model):
    """One login. Its cookie only carries ``token``; revoking the row ends the session."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_open", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")

    user: Mapped[User] = relationship()
