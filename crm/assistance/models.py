"""Assistance cases (帮办事项), the office's case types with stage templates and
checklists, and prospects (待落户企业) that become firms when they register."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow

# The kinds of one-stop assistance (DESIGN §6); each case type is one of them, so the
# pages know which extra parts a case has (financing referrals, the talent route).
KINDS = ("registration", "site", "hiring", "financing", "talent", "housing", "other")
CASE_STATES = ("open", "landed", "dropped")
PROSPECT_STATES = ("open", "registered", "dropped")
# Talent settlement (人才落户): a high-tech firm settles its people without a quota;
# other firms go by points.
TALENT_ROUTES = ("high_tech", "points")
REFERRAL_OUTCOMES = ("pending", "granted", "declined")


class CaseType(db.Model):
    """A kind of assistance with its stage template and checklist (the office edits them).

    A case copies the checklist when it opens, so later edits to the template change new
    cases only; stages are referred to, and a stage in use cannot be deleted.
    """

    __tablename__ = "case_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="other")
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)

    stages: Mapped[list["CaseStage"]] = relationship(
        back_populates="case_type", cascade="all, delete-orphan", order_by="CaseStage.position"
    )
    checklist: Mapped[list["ChecklistTemplateItem"]] = relationship(
        back_populates="case_type",
        cascade="all, delete-orphan",
        order_by="ChecklistTemplateItem.position",
    )

    def __str__(self) -> str:
        return self.name


class CaseStage(db.Model):
    __tablename__ = "case_stages"
    __table_args__ = (Index("ix_case_stages_type_position", "case_type_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type_id: Mapped[int] = mapped_column(ForeignKey("case_types.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))

    case_type: Mapped[CaseType] = relationship(back_populates="stages")

    def __str__(self) -> str:
        return self.name


class ChecklistTemplateItem(db.Model):
    __tablename__ = "checklist_template_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type_id: Mapped[int] = mapped_column(
        ForeignKey("case_types.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(120))
    # The stage the item belongs to (it must be ticked before the case leaves that stage);
    # none: anytime before the case lands.
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("case_stages.id", ondelete="SET NULL"))
    # Talent settlement materials differ by route; none: every route.
    route: Mapped[str | None] = mapped_column(String(16))

    case_type: Mapped[CaseType] = relationship(back_populates="checklist")
    stage: Mapped[CaseStage | None] = relationship()


class Prospect(db.Model):
    """A firm that is coming to the district but is not registered yet (待落户)."""

    __tablename__ = "prospects"
    __table_args__ = (Index("ix_prospects_street_state", "street_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    industry_code: Mapped[str] = mapped_column(String(5), default="")
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(120), default="")  # how it came to the office
    notes: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), default="open")
    # Set when it registers: the firm it became, which keeps its cases.
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), unique=True)
    registered_at: Mapped[datetime | None]
    drop_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    street: Mapped[Street] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    firm: Mapped[Firm | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return self.name


case_departments = Table(
    "case_departments",
    db.metadata,
    Column("case_id", ForeignKey("assistance_cases.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id"), primary_key=True, index=True),
)


class AssistanceCase(db.Model):
    __tablename__ = "assistance_cases"
    __table_args__ = (
        Index("ix_cases_street_state", "street_id", "state"),
        Index("ix_cases_owner_state", "owner_id", "state"),
        Index("ix_cases_type_stage", "case_type_id", "stage_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # BB202611290001
    case_type_id: Mapped[int] = mapped_column(ForeignKey("case_types.id"))
    # A case belongs to a firm, or to a prospect until it registers; then to both.
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    title: Mapped[str] = mapped_column(String(120))
    stage_id: Mapped[int] = mapped_column(ForeignKey("case_stages.id"))
    state: Mapped[str] = mapped_column(String(16), default="open")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Expected value: investment and registered capital in 万元, jobs in people.
    expected_investment: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    registered_capital: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    expected_jobs: Mapped[int | None]
    talent_route: Mapped[str | None] = mapped_column(String(16))
    opened_on: Mapped[date]
    landed_on: Mapped[date | None]
    dropped_on: Mapped[date | None]
    drop_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    case_type: Mapped[CaseType] = relationship()
    firm: Mapped[Firm | None] = relationship()
    prospect: Mapped[Prospect | None] = relationship()
    street: Mapped[Street] = relationship()
    stage: Mapped[CaseStage] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    departments: Mapped[list[Department]] = relationship(
        secondary=case_departments, order_by=Department.name
    )
    checklist: Mapped[list["CaseChecklistItem"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseChecklistItem.position"
    )
    notes: Mapped[list["CaseNote"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseNote.created_at"
    )
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )
    referrals: Mapped[list["FinancingReferral"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="FinancingReferral.id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def client_name(self) -> str:
        """Whom the case serves: the firm, or the prospect not yet registered."""
        if self.firm is not None:
            return self.firm.name
        return self.prospect.name if self.prospect else ""


class CaseChecklistItem(db.Model):
    __tablename__ = "case_checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("assistance_cases.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(120))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("case_stages.id", ondelete="SET NULL"))
    route: Mapped[str | None] = mapped_column(String(16))
    done: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[AssistanceCase] = relationship(back_populates="checklist")
    done_by: Mapped[User | None] = relationship()


class CaseNote(db.Model):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("assistance_cases.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[AssistanceCase] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()


class CaseEvent(db.Model):
    """One transition of a case (opened, advanced, moved back, landed, dropped, reopened,
    registered): its timeline, and what the pipeline figures count."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("assistance_cases.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_stages.id", ondelete="SET NULL")
    )
    to_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_stages.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[AssistanceCase] = relationship(back_populates="events")
    actor: Mapped[User] = relationship()
    from_stage: Mapped[CaseStage | None] = relationship(foreign_keys=[from_stage_id])
    to_stage: Mapped[CaseStage | None] = relationship(foreign_keys=[to_stage_id])


class FinancingReferral(db.Model):
    """A bank the firm was referred to (融资对接), the amount asked and what came of it."""

    __tablename__ = "financing_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("assistance_cases.id", ondelete="CASCADE"), index=True
    )
    bank: Mapped[str] = mapped_column(String(64))
    referred_on: Mapped[date]
    amount_requested: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # 万元
    amount_granted: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[AssistanceCase] = relationship(back_populates="referrals")
