"""The ledger (台账): every demand a user may see, narrowed by filters, as one SQL query.

The page and the Excel export both start from ``ledger_query``, so a file always holds
exactly the rows the page counted.

Two lateness filters, defined once here:

* overdue: still open, its resolution deadline (with approved extensions) is before today,
  and it is not paused (a paused demand's clock is stopped);
* resolved late: resolved on a day (Asia/Shanghai) after its deadline, whether or not it
  has closed since.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Date, Select, and_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.functions import FunctionElement

from crm.auth.models import User
from crm.auth.permissions import demand_scope
from crm.demands import states
from crm.demands.models import Demand, DemandTask
from crm.firms.models import Firm
from crm.workcal.services import SHANGHAI

OPEN_GROUP = "open"  # the state filter's "any open state"
OVERDUE = "overdue"
RESOLVED_LATE = "late"
LATENESS = (OVERDUE, RESOLVED_LATE)


@dataclass
class LedgerFilter:
    q: str = ""  # a demand number, a word of its title, or of its firm's name
    state: str | None = None  # a state, or OPEN_GROUP
    street_id: int | None = None
    department_id: int | None = None  # demands with a (not cancelled) task for it
    category_id: int | None = None
    level: int | None = None
    channel: str | None = None
    lateness: str | None = None  # OVERDUE or RESOLVED_LATE
    submitted_from: date | None = None  # days in Asia/Shanghai, both included
    submitted_to: date | None = None


class shanghai_date(FunctionElement):
    """The Asia/Shanghai calendar day of a naive UTC timestamp column.

    China has kept UTC+8 without daylight saving since 1991, so adding eight hours is exact.
    """

    type = Date()
    inherit_cache = True


@compiles(shanghai_date)
def _shanghai_date_default(element, compiler, **kw):
    (arg,) = element.clauses
    return f"CAST(({compiler.process(arg, **kw)} + INTERVAL '8 hours') AS DATE)"


@compiles(shanghai_date, "sqlite")
def _shanghai_date_sqlite(element, compiler, **kw):
    (arg,) = element.clauses
    return f"date({compiler.process(arg, **kw)}, '+8 hours')"


def start_of_day_utc(day: date) -> datetime:
    """Midnight at the start of ``day`` in Asia/Shanghai, as the naive UTC the database holds."""
    return datetime.combine(day, time(), tzinfo=SHANGHAI).astimezone(UTC).replace(tzinfo=None)


def is_overdue(today: date) -> ColumnElement[bool]:
    return and_(
        Demand.state.in_(states.OPEN_STATES),
        Demand.due_on < today,
        Demand.paused_at.is_(None),
    )


def is_resolved_late() -> ColumnElement[bool]:
    return and_(Demand.resolved_at.is_not(None), shanghai_date(Demand.resolved_at) > Demand.due_on)


def ledger_query(user: User, f: LedgerFilter, *, today: date) -> Select:
    """The demands ``user`` may see narrowed by ``f``, newest first. No loading options."""
    stmt = select(Demand).where(demand_scope(user))
    if q := f.q.strip():
        # autoescape: a "%" or "_" typed in the search box is a character, not a wildcard.
        stmt = stmt.where(
            or_(
                Demand.number.icontains(q, autoescape=True),
                Demand.title.icontains(q, autoescape=True),
                Demand.firm.has(Firm.name.icontains(q, autoescape=True)),
            )
        )
    if f.state == OPEN_GROUP:
        stmt = stmt.where(Demand.state.in_(states.OPEN_STATES))
    elif f.state:
        stmt = stmt.where(Demand.state == f.state)
    if f.street_id:
        stmt = stmt.where(Demand.street_id == f.street_id)
    if f.department_id:
        # Uncorrelated: the department's demands are found once, not looked up per row.
        stmt = stmt.where(
            Demand.id.in_(
                select(DemandTask.demand_id).where(
                    DemandTask.department_id == f.department_id,
                    DemandTask.state != "cancelled",
                )
            )
        )
    if f.category_id:
        stmt = stmt.where(Demand.category_id == f.category_id)
    if f.level:
        stmt = stmt.where(Demand.level == f.level)
    if f.channel:
        stmt = stmt.where(Demand.channel == f.channel)
    if f.lateness == OVERDUE:
        stmt = stmt.where(is_overdue(today))
    elif f.lateness == RESOLVED_LATE:
        stmt = stmt.where(is_resolved_late())
    if f.submitted_from:
        stmt = stmt.where(Demand.submitted_at >= start_of_day_utc(f.submitted_from))
    if f.submitted_to:
        stmt = stmt.where(
            Demand.submitted_at < start_of_day_utc(f.submitted_to + timedelta(days=1))
        )
    return stmt.order_by(Demand.submitted_at.desc(), Demand.id.desc())


def with_ledger_loading(stmt: Select) -> Select:
    """What a ledger page shows, in a fixed number of statements: the row with its firm,
    street and category joined, then every row's tasks with their units."""
    return stmt.options(
        joinedload(Demand.firm, innerjoin=True),
        joinedload(Demand.street, innerjoin=True),
        joinedload(Demand.category, innerjoin=True),
        selectinload(Demand.tasks).options(
            joinedload(DemandTask.department), joinedload(DemandTask.street)
        ),
    )


def overdue(demand: Demand, today: date) -> bool:
    """``is_overdue`` for one loaded demand, for marking rows on a page."""
    return (
        demand.state in states.OPEN_STATES
        and demand.due_on is not None
        and demand.due_on < today
        and demand.paused_at is None
    )


def resolved_late(demand: Demand) -> bool:
    if demand.resolved_at is None or demand.due_on is None:
        return False
    resolved_on = demand.resolved_at.replace(tzinfo=UTC).astimezone(SHANGHAI).date()
    return resolved_on > demand.due_on


def current_lead(demand: Demand) -> DemandTask | None:
    """The lead task of the latest dispatch: after a return or a reopening the demand was
    dispatched again, and the earlier lead task (returned or resolved) is history."""
    leads = [t for t in demand.tasks if t.role == "lead" and t.state != "cancelled"]
    return leads[-1] if leads else None
