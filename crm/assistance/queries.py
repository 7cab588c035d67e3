"""Reading cases for lists: the board, a firm's cases, an owner's open cases.

Each runs a fixed number of SQL statements however many cases there are: the rows a page
shows come in one statement and what the cards name (firm, prospect, owner, type, stage)
in one ``selectinload`` statement each.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from crm.assistance import states
from crm.assistance.models import AssistanceCase, CaseStage, CaseType, Prospect
from crm.auth.models import User
from crm.auth.permissions import case_scope
from crm.extensions import db
from crm.firms.models import Firm

# Cards shown in one board column; the rest are one "more" link away (the list view).
CARDS_PER_COLUMN = 30

_CARD_LOADS = (
    selectinload(AssistanceCase.firm),
    selectinload(AssistanceCase.prospect),
    selectinload(AssistanceCase.owner),
)


@dataclass
class BoardFilters:
    """What the board or the list is narrowed to; empty values filter nothing."""

    case_type_id: int | None = None
    state: str = states.OPEN
    stage_id: int | None = None
    street_id: int | None = None
    owner_id: int | None = None
    q: str = ""


@dataclass
class Column:
    stage: CaseStage
    cases: list[AssistanceCase] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return self.total - len(self.cases)


def case_types(*, active_only: bool = True) -> list[CaseType]:
    """The types for the board's tabs, with their stages, in one pair of statements."""
    stmt = select(CaseType).order_by(CaseType.id).options(selectinload(CaseType.stages))
    if active_only:
        stmt = stmt.where(CaseType.active.is_(True))
    return list(db.session.scalars(stmt))


def conditions(user: User, filters: BoardFilters) -> list:
    """The WHERE clauses of ``filters`` within what ``user`` may see."""
    where = [case_scope(user)]
    if filters.case_type_id:
        where.append(AssistanceCase.case_type_id == filters.case_type_id)
    if filters.state in states.STATES:
        where.append(AssistanceCase.state == filters.state)
    if filters.stage_id:
        where.append(AssistanceCase.stage_id == filters.stage_id)
    if filters.street_id:
        where.append(AssistanceCase.street_id == filters.street_id)
    if filters.owner_id:
        where.append(AssistanceCase.owner_id == filters.owner_id)
    if q := filters.q.strip():
        where.append(
            or_(
                AssistanceCase.number.icontains(q, autoescape=True),
                AssistanceCase.title.icontains(q, autoescape=True),
                AssistanceCase.firm_id.in_(
                    select(Firm.id).where(Firm.name.icontains(q, autoescape=True))
                ),
                AssistanceCase.prospect_id.in_(
                    select(Prospect.id).where(Prospect.name.icontains(q, autoescape=True))
                ),
            )
        )
    return where


def board(
    user: User, case_type: CaseType, filters: BoardFilters, *, per_column: int | None = None
) -> list[Column]:
    """The open cases of ``case_type`` by stage, oldest first, at most ``per_column``
    (``CARDS_PER_COLUMN``) each.

    Two statements for the cases (the count by stage, the cards) and one per relation.
    """
    per_column = per_column or CARDS_PER_COLUMN
    where = conditions(user, filters)
    columns = {s.id: Column(stage=s) for s in case_type.stages}
    totals = db.session.execute(
        select(AssistanceCase.stage_id, func.count())
        .where(*where)
        .group_by(AssistanceCase.stage_id)
    )
    for stage_id, total in totals:
        if stage_id in columns:
            columns[stage_id].total = total
    order = (AssistanceCase.opened_on, AssistanceCase.id)
    ranked = (
        select(
            AssistanceCase.id,
            func.row_number()
            .over(partition_by=AssistanceCase.stage_id, order_by=order)
            .label("rank"),
        )
        .where(*where)
        .subquery()
    )
    cards = db.session.scalars(
        select(AssistanceCase)
        .join(ranked, ranked.c.id == AssistanceCase.id)
        .where(ranked.c.rank <= per_column)
        .order_by(*order)
        .options(*_CARD_LOADS)
    )
    for case in cards:
        if case.stage_id in columns:
            columns[case.stage_id].cases.append(case)
    return list(columns.values())


def case_list(user: User, filters: BoardFilters, *, per_page: int = 25):
    """The cases matching ``filters`` as a page (the list view: landed, dropped, "more")."""
    stmt = (
        select(AssistanceCase)
        .where(*conditions(user, filters))
        .order_by(AssistanceCase.opened_on.desc(), AssistanceCase.id.desc())
        .options(*_CARD_LOADS, selectinload(AssistanceCase.stage))
    )
    return db.paginate(stmt, per_page=per_page, max_per_page=200, error_out=False)


def cases_for_firm(firm_id: int, user: User) -> list[AssistanceCase]:
    """A firm's cases that ``user`` may see, open ones first (the firm page's panel)."""
    stmt = (
        select(AssistanceCase)
        .where(AssistanceCase.firm_id == firm_id, case_scope(user))
        .order_by(
            (AssistanceCase.state != states.OPEN),
            AssistanceCase.opened_on.desc(),
            AssistanceCase.id,
        )
        .options(
            selectinload(AssistanceCase.case_type),
            selectinload(AssistanceCase.stage),
            selectinload(AssistanceCase.owner),
        )
    )
    return list(db.session.scalars(stmt))


def open_cases_for_owner(user_id: int, *, limit: int = 50) -> list[AssistanceCase]:
    """The open cases ``user_id`` owns, longest open first, with what a line needs to name
    them (client, type, stage): "my day" lists them."""
    stmt = (
        select(AssistanceCase)
        .where(AssistanceCase.owner_id == user_id, AssistanceCase.state == states.OPEN)
        .order_by(AssistanceCase.opened_on, AssistanceCase.id)
        .limit(limit)
        .options(
            selectinload(AssistanceCase.firm),
            selectinload(AssistanceCase.prospect),
            selectinload(AssistanceCase.case_type),
            selectinload(AssistanceCase.stage),
        )
    )
    return list(db.session.scalars(stmt))


def owner_choices(user: User, street_id: int | None = None) -> list[User]:
    """Who may own a case: the active commissioners and service centres of ``street_id``,
    or of the user's street, or (the office, no street given) of every street."""
    street_id = street_id or (user.street_id if user.role != "office" else None)
    stmt = (
        select(User)
        .where(User.active.is_(True), User.role.in_(("street", "commissioner")))
        .order_by(User.street_id, User.display_name)
        .options(selectinload(User.street))
    )
    if street_id:
        stmt = stmt.where(User.street_id == street_id)
    return list(db.session.scalars(stmt))
