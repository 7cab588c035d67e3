"""A commissioner's day (我的工作台): what the page shows, read in a fixed number of statements.

Whatever the number of firms a commissioner looks after, the page runs the same
statements: the cadences, one row per firm with its last visit found in SQL, a capped
list of open demands, of this week's demand deadlines, of open cases and of open service
requests, and one statement of counts. Lists are capped at ``LIMIT`` rows; the page links
to the full list for the rest.

Next due dates follow ``crm.visits.cadence``: the cadence of the firm's current tier,
counted from its last visit, or for a firm never visited from the start of its current
primary assignment (else the day it was recorded).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from crm.assistance.models import AssistanceCase
from crm.auth.models import User
from crm.demands import states
from crm.demands.ledger import overdue as demand_overdue
from crm.demands.models import Demand
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from crm.portal.models import SERVICE_OPEN, ServiceRequest
from crm.portal.queries import open_service_requests
from crm.visits.cadence import Cadence, cadence_key, days_overdue, due_on
from crm.visits.models import Visit, VisitCadence
from crm.workcal.services import SHANGHAI

LIMIT = 50
# A cadence row missing (the office deleted it): the most lenient default.
_FALLBACK = Cadence(longest_interval_days=180, courtesy_limit=1)


@dataclass
class MyFirm:
    id: int
    name: str
    tier: str | None
    role: str  # primary or backup
    last_visited_on: date | None
    due_on: date
    days_overdue: int

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


@dataclass
class WeekItem:
    """Something due within the current week: a visit, a demand deadline or a request."""

    day: date
    kind: str  # "visit", "demand" or "request"
    title: str
    subject: str  # the firm
    target_id: int  # the firm, demand or service request
    overdue: bool = False
    at: datetime | None = None  # a service request's agreed time (local)


@dataclass
class MyDay:
    today: date
    week_start: date
    week_end: date
    firms: list[MyFirm] = field(default_factory=list)
    firm_count: int = 0
    overdue_firms: int = 0
    demands: list[Demand] = field(default_factory=list)
    demand_count: int = 0
    overdue_demands: int = 0
    cases: list[AssistanceCase] = field(default_factory=list)
    case_count: int = 0
    requests: list[ServiceRequest] = field(default_factory=list)
    request_count: int = 0
    week: list[WeekItem] = field(default_factory=list)

    def demand_overdue(self, demand: Demand) -> bool:
        return demand_overdue(demand, self.today)

    def demand_this_week(self, demand: Demand) -> bool:
        return demand.due_on is not None and self.today <= demand.due_on <= self.week_end

    def days_open(self, case: AssistanceCase) -> int:
        return (self.today - case.opened_on).days


def _local_date(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI).date()


def my_firm_ids(user: User):
    """The firms ``user`` currently looks after, as primary or backup: a subquery."""
    return select(Assignment.firm_id).where(
        Assignment.commissioner_id == user.id, Assignment.ended_at.is_(None)
    )


def load_cadences() -> dict[str, Cadence]:
    return {
        row.tier: Cadence(row.longest_interval_days, row.courtesy_limit)
        for row in db.session.scalars(select(VisitCadence))
    }


def my_firms(user: User, today: date, cadences: dict[str, Cadence]) -> list[MyFirm]:
    """Every firm ``user`` looks after (not moved out), soonest due first, in one statement."""
    # Correlated per firm: each is one lookup in an index on (firm_id, ...), where grouping
    # over the commissioner's firms would make PostgreSQL scan every visit.
    primary = aliased(Assignment)
    last_on = (
        select(func.max(Visit.visited_on))
        .where(Visit.firm_id == Firm.id)
        .correlate(Firm)
        .scalar_subquery()
    )
    since = (
        select(func.min(primary.started_at))
        .where(primary.firm_id == Firm.id, primary.ended_at.is_(None), primary.role == "primary")
        .correlate(Firm)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            Firm.id,
            Firm.name,
            Firm.tier,
            Firm.created_at,
            Assignment.role,
            last_on,
            since,
        )
        .join(Assignment, Assignment.firm_id == Firm.id)
        .where(
            Assignment.commissioner_id == user.id,
            Assignment.ended_at.is_(None),
            Firm.status != "moved_out",
        )
    ).all()
    firms: dict[int, MyFirm] = {}
    for id_, name, tier, created_at, role, last_on, since in rows:
        if id_ in firms:  # primary and backup of the same firm: primary wins
            if role == "primary":
                firms[id_].role = role
            continue
        cadence = cadences.get(cadence_key(tier), _FALLBACK)
        start = _local_date(since) or _local_date(created_at) or today
        firms[id_] = MyFirm(
            id=id_,
            name=name,
            tier=tier,
            role=role,
            last_visited_on=last_on,
            due_on=due_on(last_on, cadence, since=start),
            days_overdue=days_overdue(last_on, cadence, since=start, on=today),
        )
    return sorted(firms.values(), key=lambda f: (f.due_on, f.name, f.id))


def _open_demands(user: User):
    return select(Demand).where(
        Demand.firm_id.in_(my_firm_ids(user).scalar_subquery()),
        Demand.state.in_(states.OPEN_STATES),
    )


def _demand_loading(stmt):
    return stmt.options(
        joinedload(Demand.firm, innerjoin=True), joinedload(Demand.category, innerjoin=True)
    )


def _open_cases(user: User):
    return select(AssistanceCase).where(
        AssistanceCase.state == "open",
        or_(
            AssistanceCase.owner_id == user.id,
            AssistanceCase.firm_id.in_(my_firm_ids(user).scalar_subquery()),
        ),
    )


def my_day(user: User, today: date) -> MyDay:
    """Everything the page shows for commissioner ``user`` on ``today`` (Asia/Shanghai)."""
    week_start = today - timedelta(days=today.weekday())
    week_end = week_start + timedelta(days=6)
    day = MyDay(today=today, week_start=week_start, week_end=week_end)

    firms = my_firms(user, today, load_cadences())
    day.firm_count = len(firms)
    day.overdue_firms = sum(f.overdue for f in firms)
    day.firms = firms[:LIMIT]

    # Deadlines first (none last), then the oldest.
    day.demands = list(
        db.session.scalars(
            _demand_loading(_open_demands(user))
            .order_by(Demand.due_on.is_(None), Demand.due_on, Demand.submitted_at, Demand.id)
            .limit(LIMIT)
        ).unique()
    )
    week_demands = list(
        db.session.scalars(
            _demand_loading(_open_demands(user))
            .where(Demand.due_on.between(week_start, week_end))
            .order_by(Demand.due_on, Demand.id)
            .limit(LIMIT)
        ).unique()
    )
    day.cases = list(
        db.session.scalars(
            _open_cases(user)
            .options(
                joinedload(AssistanceCase.case_type, innerjoin=True),
                joinedload(AssistanceCase.stage, innerjoin=True),
                joinedload(AssistanceCase.firm),
                joinedload(AssistanceCase.prospect),
            )
            .order_by(AssistanceCase.opened_on, AssistanceCase.id)
            .limit(LIMIT)
        ).unique()
    )
    day.requests = list(
        db.session.scalars(open_service_requests(commissioner_id=user.id).limit(LIMIT))
    )
    counts = db.session.execute(
        select(
            select(func.count()).select_from(_open_demands(user).subquery()).scalar_subquery(),
            select(func.count())
            .select_from(
                _open_demands(user)
                .where(
                    and_(Demand.due_on < today, Demand.paused_at.is_(None)),
                )
                .subquery()
            )
            .scalar_subquery(),
            select(func.count()).select_from(_open_cases(user).subquery()).scalar_subquery(),
            select(func.count(ServiceRequest.id))
            .where(
                ServiceRequest.commissioner_id == user.id,
                ServiceRequest.state.in_(SERVICE_OPEN),
            )
            .scalar_subquery(),
        )
    ).one()
    day.demand_count, day.overdue_demands, day.case_count, day.request_count = counts
    day.week = _this_week(day, firms, week_demands)
    return day


def _this_week(day: MyDay, firms: list[MyFirm], demands: list[Demand]) -> list[WeekItem]:
    """Visits falling due, demand deadlines and agreed or asked-for services, Monday to
    Sunday of the current week, in date order."""
    start, end = day.week_start, day.week_end
    items = [
        WeekItem(f.due_on, "visit", "", f.name, f.id, overdue=f.overdue)
        for f in firms
        if start <= f.due_on <= end
    ]
    items += [
        WeekItem(d.due_on, "demand", d.title, d.firm.name, d.id, overdue=day.demand_overdue(d))
        for d in demands
    ]
    for r in day.requests:
        when = r.scheduled_for.date() if r.scheduled_for else r.preferred_date
        if when is not None and start <= when <= end:
            items.append(WeekItem(when, "request", r.kind, r.firm.name, r.id, at=r.scheduled_for))
    order = {"request": 0, "demand": 1, "visit": 2}
    return sorted(items, key=lambda i: (i.day, order[i.kind], i.subject, i.target_id))
