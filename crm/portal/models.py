"""What a firm does for itself outside the demand loop: asking for a service (预约, 上门,
跑腿代办), proposing changes to its profile, and getting an account (a sign-up request
that staff approve, or an invitation from its commissioner)."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.firms.models import Firm
from crm.timeutil import utcnow

SERVICE_KINDS = ("appointment", "onsite", "errand")
SERVICE_STATES = ("requested", "scheduled", "done", "cancelled")
SERVICE_OPEN = ("requested", "scheduled")
SLOTS = ("morning", "afternoon")
REVIEW_STATES = ("pending", "approved", "rejected")


class ServiceRequest(db.Model):
    """A firm asking its commissioner for an appointment at the street service centre,
    an on-site visit or an errand handled on its behalf, tracked until done."""

    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_firm", "firm_id", "created_at"),
        Index("ix_service_requests_commissioner_state", "commissioner_id", "state"),
        Index("ix_service_requests_street_state", "street_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"))
    # The firm's street when asked: street staff see and handle it.
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="requested")
    details: Mapped[str] = mapped_column(Text)
    preferred_date: Mapped[Optional[date]]
    preferred_slot: Mapped[str] = mapped_column(String(16), default="")
    address: Mapped[str] = mapped_column(String(200), default="")  # on-site visits
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    # Who looks after it: the firm's primary commissioner when it was asked, if any.
    commissioner_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scheduled_for: Mapped[Optional[datetime]]  # local time (Asia/Shanghai), as agreed
    schedule_note: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    handled_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[Optional[datetime]]
    version: Mapped[int] = mapped_column(default=1)

    firm: Mapped[Firm] = relationship()
    commissioner: Mapped[Optional[User]] = relationship(foreign_keys=[commissioner_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    handled_by: Mapped[Optional[User]] = relationship(foreign_keys=[handled_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.state in SERVICE_OPEN


class ProfileChange(db.Model):
    """Changes to its profile a firm proposes; its commissioner or street approves them."""

    __tablename__ = "profile_changes"
    __table_args__ = (Index("ix_profile_changes_firm_state", "firm_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"))
    # {field: {"from": stored value, "to": proposed value}}, values as JSON-safe strings.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[Optional[datetime]]
    review_note: Mapped[str] = mapped_column(Text, default="")

    firm: Mapped[Firm] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    reviewed_by: Mapped[Optional[User]] = relationship(foreign_keys=[reviewed_by_id])


class SignupRequest(db.Model):
    """Someone asking for a firm account with the firm's USCC; staff approve or refuse.

    The password is chosen at sign-up and kept only as a hash until the account exists.
    """

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    person_name: Mapped[str] = mapped_column(String(64))
    job_title: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(120), default="")
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[Optional[datetime]]
    review_note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))  # once approved

    firm: Mapped[Firm] = relationship()
    reviewed_by: Mapped[Optional[User]] = relationship(foreign_keys=[reviewed_by_id])
    user: Mapped[Optional[User]] = relationship(foreign_keys=[user_id])


class Invitation(db.Model):
    """A one-time link a commissioner gives a firm's contact to open an account.

    Only the SHA-256 of the token is stored; the link is shown once to its creator.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[Optional[datetime]]
    revoked_at: Mapped[Optional[datetime]]
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    firm: Mapped[Firm] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    user: Mapped[Optional[User]] = relationship(foreign_keys=[user_id])
