"""Policies (政策) with their criteria, and the service packages (服务包) issued to firms.

A policy's machine criteria are rows (attribute, operator, value) that
``crm.policies.matching`` checks against a firm; its reviewed conditions are text a
person must judge. A service package is a dated snapshot: once issued, its ``snapshot``
never changes, so what a firm received can always be reproduced (DESIGN §7).
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Street
from crm.timeutil import utcnow

LEVELS = ("city", "district")
KINDS = ("universal", "individual")  # 普惠, 个性
TOPICS = (
    "talent",  # 人才落户与引进
    "housing",  # 租房购房补贴
    "project",  # 项目扶持
    "financing",  # 融资担保与贴息
    "technology",  # 高新技术与科技创新
    "tax",  # 税费减免
    "employment",  # 稳岗与招聘
    "other",
)
# How a package reached the firm.
CHANNELS = ("in_person", "meeting", "mail", "email", "portal")
BULK_STATES = ("queued", "running", "done", "failed")


class Policy(db.Model):
    __tablename__ = "policies"
    __table_args__ = (Index("ix_policies_in_force", "retired_at", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(100), default="")
    level: Mapped[str] = mapped_column(String(16), default="district")
    doc_number: Mapped[str] = mapped_column(String(64), default="", index=True)  # 文号
    topic: Mapped[str] = mapped_column(String(16), default="other")
    kind: Mapped[str] = mapped_column(String(16), default="universal")
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    benefits: Mapped[str] = mapped_column(Text, default="")
    how_to_apply: Mapped[str] = mapped_column(Text, default="")
    # 免申即享: the benefit is granted to every firm that qualifies, without applying.
    no_application: Mapped[bool] = mapped_column(default=False)
    # Conditions a person must judge (one per entry); any of them makes an otherwise
    # eligible firm "eligible pending review".
    review_conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    retired_at: Mapped[datetime | None]
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retire_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    criteria: Mapped[list["PolicyCriterion"]] = relationship(
        back_populates="policy",
        cascade="all, delete-orphan",
        order_by="PolicyCriterion.position",
    )
    attachments: Mapped[list["PolicyAttachment"]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="PolicyAttachment.id"
    )
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    retired_by: Mapped[User | None] = relationship(foreign_keys=[retired_by_id])

    __mapper_args__ = {"version_id_col": version}

    def in_force(self, on: date) -> bool:
        """Whether the policy applies on ``on``: not retired, started, not yet ended."""
        return (
            self.retired_at is None
            and self.effective_from <= on
            and (self.effective_to is None or on <= self.effective_to)
        )

    def __str__(self) -> str:
        return self.title


class PolicyCriterion(db.Model):
    """One machine criterion: ``attribute operator value`` (see ``crm.policies.attributes``).

    ``value`` is JSON: a scalar for eq/ne/gte/lte/has, a list for in/not_in/prefix/
    not_prefix/has_any/has_none, and ``[low, high]`` for between.
    """

    __tablename__ = "policy_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("policies.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    attribute: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(16))
    value: Mapped[Any] = mapped_column(JSON)

    policy: Mapped[Policy] = relationship(back_populates="criteria")


class PolicyAttachment(db.Model):
    """A file of the policy (the document itself, an application form), stored like a
    demand's attachments: outside the web root, under a generated name."""

    __tablename__ = "policy_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("policies.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    policy: Mapped[Policy] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()


class BulkIssuance(db.Model):
    """Packages issued to every active firm of a tier or a street, by a background job.

    The job may stop halfway (a worker killed, a deploy); run again, it issues only to
    the firms that have no package of this issuance yet (one per firm, by constraint).
    """

    __tablename__ = "bulk_issuances"

    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[str | None] = mapped_column(String(16))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"))
    as_of: Mapped[date]
    channel: Mapped[str] = mapped_column(String(16), default="in_person")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(default=0)
    issued: Mapped[int] = mapped_column(default=0)
    rendered: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    # Set whenever the job makes progress: a "running" issuance whose progress stopped
    # long ago was interrupted, and may be resumed.
    progress_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    street: Mapped[Street | None] = relationship()
    created_by: Mapped[User | None] = relationship()


class ServicePackage(db.Model):
    """One issued package: ``number`` counts a firm's versions from 1."""

    __tablename__ = "service_packages"
    __table_args__ = (
        UniqueConstraint("firm_id", "number", name="uq_service_packages_firm_number"),
        UniqueConstraint("bulk_id", "firm_id", name="uq_service_packages_bulk_firm"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(default=1)
    as_of: Mapped[date]  # the day the policies were matched
    channel: Mapped[str] = mapped_column(String(16), default="in_person")
    note: Mapped[str] = mapped_column(String(500), default="")
    # Everything the firm received, as issued: see crm.policies.packages.snapshot_of.
    snapshot: Mapped[dict] = mapped_column(JSON)
    bulk_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulk_issuances.id", ondelete="SET NULL"), index=True
    )
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The firm's acknowledgement of receipt (签收): through the portal, or recorded by staff.
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement: Mapped[str] = mapped_column(String(200), default="")

    firm: Mapped[Firm] = relationship()
    bulk: Mapped[BulkIssuance | None] = relationship()
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])


class PackageDocument(db.Model):
    """A package's PDF, rendered once from its snapshot and kept with it."""

    __tablename__ = "package_documents"

    package_id: Mapped[int] = mapped_column(
        ForeignKey("service_packages.id", ondelete="CASCADE"), primary_key=True
    )
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    rendered_at: Mapped[datetime] = mapped_column(default=utcnow)
    render_ms: Mapped[int] = mapped_column(default=0)

    package: Mapped[ServicePackage] = relationship()
