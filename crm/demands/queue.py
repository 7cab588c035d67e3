"""The handling queue (DESIGN §8): the tasks dispatched to a user's unit, as SQL.

A department handler sees its department's tasks; a street's service centre its street's;
a commissioner its street's tasks of level-1 demands (小事网格办). That is
``permissions.is_task_member`` written as a WHERE clause, so a page never loads a task to
find out it may not show it.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from crm.auth.models import User
from crm.auth.permissions import COMMISSIONER, DEPARTMENT, STREET
from crm.demands.models import Demand, DemandCategory, DemandTask, ExtensionRequest
from crm.extensions import db
from crm.firms.models import Firm
from crm.workcal.calendar import WorkCalendar

OPEN = ("pending", "accepted")
TASK_STATES = ("pending", "accepted", "returned", "resolved", "cancelled")
# The due filter: overdue, due this week, or due within that many working days.
DUE_WITHIN = (1, 3, 5, 10)
DUE_FILTERS = ("overdue", "week", *(str(n) for n in DUE_WITHIN))


def task_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``DemandTask`` (joined to its ``Demand``) keeping ``user``'s unit's.

    A user whose unit is missing sees nothing: ``department_id == None`` would read as
    IS NULL and match every street's task.
    """
    if user.role == DEPARTMENT and user.department_id is not None:
        return DemandTask.department_id == user.department_id
    if user.role in (STREET, COMMISSIONER) and user.street_id is not None:
        mine = and_(DemandTask.department_id.is_(None), DemandTask.street_id == user.street_id)
        return mine if user.role == STREET else and_(mine, Demand.level == 1)
    return false()


@dataclass
class TaskFilter:
    state: str = "open"
    due: str = ""  # one of DUE_FILTERS, or "" for any
    role: str = ""  # lead or co, or "" for both
    category_id: int | None = None
    q: str = ""


def _is_overdue(today: date) -> ColumnElement[bool]:
    # A paused demand's clock is stopped: its deadlines move when it resumes.
    return and_(DemandTask.state.in_(OPEN), DemandTask.due_on < today, Demand.paused_at.is_(None))


def due_by(due: str, *, today: date, calendar: WorkCalendar) -> date:
    """The last deadline the due filter ``due`` ("week" or a number of working days) keeps:
    the Sunday ending this week, or the n-th working day after today."""
    if due == "week":
        return today + timedelta(days=6 - today.weekday())
    return calendar.add_working_days(today, int(due)).day


def task_query(user: User, f: TaskFilter, *, today: date, calendar: WorkCalendar) -> Select:
    """``user``'s unit's tasks narrowed by ``f``, soonest deadline first, loaded for a list.

    The rows carry their demand, firm, category and any pending extension request, in a
    fixed number of statements whatever the page size.
    """
    stmt = (
        select(DemandTask)
        .join(DemandTask.demand)
        .join(Demand.firm)
        .where(task_scope(user))
        .options(
            contains_eager(DemandTask.demand).contains_eager(Demand.firm),
            contains_eager(DemandTask.demand).selectinload(Demand.category),
            selectinload(DemandTask.extensions.and_(ExtensionRequest.state == "pending")),
        )
    )
    if f.state == "open":
        stmt = stmt.where(DemandTask.state.in_(OPEN))
    elif f.state in TASK_STATES:
        stmt = stmt.where(DemandTask.state == f.state)
    if f.due == "overdue":
        stmt = stmt.where(_is_overdue(today))
    elif f.due in DUE_FILTERS:
        last = due_by(f.due, today=today, calendar=calendar)
        stmt = stmt.where(DemandTask.state.in_(OPEN), DemandTask.due_on.between(today, last))
    if f.role in ("lead", "co"):
        stmt = stmt.where(DemandTask.role == f.role)
    if f.category_id:
        stmt = stmt.where(Demand.category_id == f.category_id)
    if q := f.q.strip():
        # autoescape: a "%" or "_" typed in the search box is a character, not a wildcard.
        stmt = stmt.where(
            or_(
                Demand.number.icontains(q, autoescape=True),
                Demand.title.icontains(q, autoescape=True),
                Firm.name.icontains(q, autoescape=True),
            )
        )
    return stmt.order_by(DemandTask.due_on, DemandTask.id)


@dataclass(frozen=True)
class QueueSummary:
    pending: int
    accepted: int
    overdue: int


def queue_summary(user: User, *, today: date) -> QueueSummary:
    """What is waiting for ``user``'s unit, counted in one statement."""

    def count(condition: ColumnElement[bool]):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    stmt = (
        select(
            count(DemandTask.state == "pending"),
            count(DemandTask.state == "accepted"),
            count(_is_overdue(today)),
        )
        .select_from(DemandTask)
        .join(DemandTask.demand)
        .where(task_scope(user), DemandTask.state.in_(OPEN))
    )
    pending, accepted, overdue = db.session.execute(stmt).one()
    return QueueSummary(int(pending), int(accepted), int(overdue))


def categories() -> list[DemandCategory]:
    """Every category, for the filter (a task keeps its category after it is retired); in
    use first, as on the ledger."""
    return list(
        db.session.scalars(
            select(DemandCategory).order_by(DemandCategory.active.desc(), DemandCategory.code)
        )
    )


@dataclass(frozen=True)
class DueStatus:
    """How a task stands against its deadline, for one row of the queue."""

    overdue: bool
    days: int  # working days overdue, or left (0: due today), for an open task
    paused: bool
    open: bool


def due_status(task: DemandTask, *, today: date, calendar: WorkCalendar) -> DueStatus:
    is_open = task.state in OPEN
    paused = is_open and task.demand.paused_at is not None
    overdue = is_open and not paused and task.due_on < today
    if not is_open:
        days = 0
    elif overdue:
        days = calendar.working_days_between(task.due_on, today)
    else:
        days = max(calendar.working_days_between(today, task.due_on), 0)
    return DueStatus(overdue=overdue, days=days, paused=paused, open=is_open)
