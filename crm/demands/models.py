"""Demands (诉求) and everything that happens to them: tasks, extensions, the timeline,
attachments, escalations and notifications."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow

CHANNELS = ("visit", "hotline", "walk_in", "portal", "api")
STAFF_CHANNELS = ("visit", "hotline", "walk_in")
URGENCIES = ("normal", "urgent")
LEVELS = (1, 2, 3)
CATEGORY_KINDS = ("consultation", "general", "complex")
RATINGS = ("satisfied", "basically_satisfied", "not_satisfied")
TASK_ROLES = ("lead", "co")


class DemandCategory(db.Model):
    """A kind of demand and its time limits in working days (the office edits them)."""

    __tablename__ = "demand_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="general")
    accept_days: Mapped[int] = mapped_column(default=1)
    resolve_days: Mapped[int] = mapped_column(default=5)  # levels 1 and 2
    level3_days: Mapped[int] = mapped_column(default=15)
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name


class Demand(db.Model):
    __tablename__ = "demands"
    __table_args__ = (
        Index("ix_demands_state_due", "state", "due_on"),
        Index("ix_demands_street_state", "street_id", "state"),
        Index("ix_demands_submitted_at", "submitted_at"),
        UniqueConstraint("submitted_by_id", "submission_key", name="uq_demands_submission"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # SQ202611230001
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id"), index=True)
    # The firm's street when the demand came in: the street's scope, and a report slice.
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("demand_categories.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    channel: Mapped[str] = mapped_column(String(8), index=True)
    # The visit that raised it (channel "visit", recorded in the same step as the visit).
    visit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("visits.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    level: Mapped[Optional[int]]
    # 首问负责: the first staff member who received it owns it until it is closed.
    owner_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # A client-made key: a double-clicked or retried submission creates one demand.
    submission_key: Mapped[Optional[str]] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    accept_due_on: Mapped[date]
    accepted_at: Mapped[Optional[datetime]]
    dispatched_at: Mapped[Optional[datetime]]
    # The resolution deadline (end of that working day, Asia/Shanghai), and whether the
    # calendar knew every day up to it.
    due_on: Mapped[Optional[date]]
    due_verified: Mapped[bool] = mapped_column(default=True)
    paused_at: Mapped[Optional[datetime]]
    pause_reason: Mapped[str] = mapped_column(String(200), default="")
    resolved_at: Mapped[Optional[datetime]]
    reply: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[Optional[str]] = mapped_column(String(24))
    rated_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]]
    closed_without_rating: Mapped[bool] = mapped_column(default=False)
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    merged_into_id: Mapped[Optional[int]] = mapped_column(ForeignKey("demands.id"))
    withdrawn_at: Mapped[Optional[datetime]]
    reopen_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    firm: Mapped[Firm] = relationship()
    street: Mapped[Street] = relationship()
    category: Mapped[DemandCategory] = relationship()
    owner: Mapped[Optional[User]] = relationship(foreign_keys=[owner_id])
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    merged_into: Mapped[Optional["Demand"]] = relationship(remote_side=[id])
    tasks: Mapped[list["DemandTask"]] = relationship(
        back_populates="demand", order_by="DemandTask.id", cascade="all, delete-orphan"
    )
    events: Mapped[list["DemandEvent"]] = relationship(
        back_populates="demand", order_by="DemandEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="demand", order_by="Attachment.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def open_tasks(self) -> list["DemandTask"]:
        return [t for t in self.tasks if t.state in ("pending", "accepted")]

    @property
    def lead_task(self) -> Optional["DemandTask"]:
        """The lead task of the latest dispatch (earlier ones were returned or cancelled)."""
        return next((t for t in reversed(self.tasks) if t.role == "lead"), None)


class DemandTask(db.Model):
    """One unit's share of a dispatched demand: the lead unit's, or a co-handling unit's."""

    __tablename__ = "demand_tasks"
    __table_args__ = (
        Index("ix_demand_tasks_department_state", "department_id", "state"),
        Index("ix_demand_tasks_street_state", "street_id", "state"),
        Index("ix_demand_tasks_state_due", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(4))  # lead or co
    # Exactly one of the two: the unit that must act.
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("departments.id"))
    street_id: Mapped[Optional[int]] = mapped_column(ForeignKey("streets.id"))
    # pending -> accepted -> resolved; pending/accepted -> returned; any open -> cancelled
    state: Mapped[str] = mapped_column(String(12), default="pending")
    dispatched_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date]
    due_verified: Mapped[bool] = mapped_column(default=True)
    accepted_at: Mapped[Optional[datetime]]
    accepted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    handler_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[Optional[datetime]]
    return_reason: Mapped[str] = mapped_column(String(200), default="")
    resolved_at: Mapped[Optional[datetime]]
    resolution: Mapped[str] = mapped_column(Text, default="")

    demand: Mapped[Demand] = relationship(back_populates="tasks")
    department: Mapped[Optional[Department]] = relationship()
    street: Mapped[Optional[Street]] = relationship()
    handler: Mapped[Optional[User]] = relationship(foreign_keys=[handler_id])
    extensions: Mapped[list["ExtensionRequest"]] = relationship(
        back_populates="task", order_by="ExtensionRequest.id"
    )

    @property
    def unit_name(self) -> str:
        unit = self.department or self.street
        return unit.name if unit else ""


class ExtensionRequest(db.Model):
    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("demand_tasks.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10), default="pending")  # approved, declined
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[Optional[datetime]]
    decision_note: Mapped[str] = mapped_column(String(200), default="")
    old_due_on: Mapped[date]
    new_due_on: Mapped[Optional[date]]

    task: Mapped[DemandTask] = relationship(back_populates="extensions")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])


class DemandEvent(db.Model):
    """One line of a demand's timeline: who, when, what, why. Never changed afterwards."""

    __tablename__ = "demand_events"
    __table_args__ = (
        Index("ix_demand_events_demand", "demand_id", "id"),
        # A demand's latest event of a kind up to a moment: the figures (crm/stats).
        Index("ix_demand_events_demand_at", "demand_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("demand_tasks.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))  # None: the system
    kind: Mapped[str] = mapped_column(String(24))
    # The state the demand moved from and to, when it moved: reports are rebuilt from these.
    from_state: Mapped[Optional[str]] = mapped_column(String(16))
    to_state: Mapped[Optional[str]] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    internal: Mapped[bool] = mapped_column(default=False)  # never shown to the firm
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    demand: Mapped[Demand] = relationship(back_populates="events")
    actor: Mapped[Optional[User]] = relationship()


class Attachment(db.Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("demand_events.id"))
    filename: Mapped[str] = mapped_column(String(200))  # as the uploader named it
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # generated
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    internal: Mapped[bool] = mapped_column(default=False)

    demand: Mapped[Demand] = relationship(back_populates="attachments")


class Escalation(db.Model):
    """A step of the escalation ladder taken once for one deadline (the sweep's memory)."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("demand_id", "task_id", "step", "due_on", name="uq_escalations_step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    # 0 for the demand's own deadlines (acceptance), else the task whose deadline it is.
    task_id: Mapped[int] = mapped_column(default=0)
    step: Mapped[str] = mapped_column(String(16))  # due_soon, reminder, supervision, bulletin
    due_on: Mapped[date]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    demand_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("demands.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(String(300))
    # Where opening it leads when it is not about a demand (a service request, a sign-up).
    link: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[Optional[datetime]]
    emailed_at: Mapped[Optional[datetime]]
