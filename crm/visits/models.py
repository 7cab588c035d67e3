"""Visits (走访) with their participants, and each tier's visit cadence."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow

METHODS = ("on_site", "phone", "online", "meeting")
# Who else came on a joint visit (组团式联合走访): people of other levels and departments.
PARTICIPANT_LEVELS = ("district", "street", "department", "other")
# The cadence row for firms without a tier.
NO_TIER = "none"
CADENCE_TIERS = ("district", "sector", "local", NO_TIER)
COURTESY_WINDOW_DAYS = 30


class VisitCadence(db.Model):
    """How often a tier's firms are visited (the office edits it).

    A firm not visited within ``longest_interval_days`` is overdue; more than
    ``courtesy_limit`` visits within 30 days breaks 有呼必应、无事不扰 unless the firm asked.
    """

    __tablename__ = "visit_cadences"

    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    longest_interval_days: Mapped[int]
    courtesy_limit: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_firm_date", "firm_id", "visited_on"),
        Index("ix_visits_street_date", "street_id", "visited_on"),
        Index("ix_visits_commissioner_date", "commissioner_id", "visited_on"),
        UniqueConstraint("created_by_id", "submission_key", name="uq_visits_submission"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id"))
    # The firm's street on the day of the visit: the street's scope and a report slice.
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    # The commissioner who made (and recorded) the visit.
    commissioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visited_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    joint: Mapped[bool] = mapped_column(default=False)
    # The firm asked for this visit (a portal service request counts): it is exempt from
    # the courtesy limit.
    requested_by_firm: Mapped[bool] = mapped_column(default=False)
    service_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_requests.id", ondelete="SET NULL")
    )
    # Recorded although it broke the courtesy limit: the reason the commissioner gave.
    courtesy_override: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The form's one-time key: a form sent twice (a double tap, a retry on a bad network)
    # records one visit and one set of demands.
    submission_key: Mapped[str | None] = mapped_column(String(64))

    firm: Mapped[Firm] = relationship()
    street: Mapped[Street] = relationship()
    commissioner: Mapped[User] = relationship(foreign_keys=[commissioner_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    participants: Mapped[list["VisitParticipant"]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VisitParticipant.id"
    )
    demands: Mapped[list["Demand"]] = relationship(order_by="Demand.id")  # noqa: F821


class VisitParticipant(db.Model):
    """Someone else on the visit: a user of the system, or a named person of a unit."""

    __tablename__ = "visit_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    name: Mapped[str] = mapped_column(String(64))
    # The participant's unit as written (区发改委, 某街道), for people outside the system.
    unit: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[str] = mapped_column(String(16), default="other")

    visit: Mapped[Visit] = relationship(back_populates="participants")
    user: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()
