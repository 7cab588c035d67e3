"""The figures of DESIGN §9 (统计口径), defined once: every page, bulletin and API answer
that shows them counts through here.

A report covers a window of Asia/Shanghai days (``start`` to ``end``, both included) and
is taken *as of* a moment. Everything about a demand at that moment is rebuilt from its
timeline (``demand_events``, which is never changed), not read from the demand's current
columns, so a report as of a past moment gives the same figures every time it is run,
whatever happened since.

For the demands received in the window and a slice (street, department, category, tier,
channel):

- collected: received in the window, not withdrawn or rejected as of the moment;
- resolved: of those, resolved or closed as of the moment (a demand reopened since its
  resolution is not resolved until it is resolved again);
- resolved on time: resolved on or before its deadline — the deadline of its latest
  dispatch, moved by approved extensions of the lead unit and by pauses;
- rated / satisfied: of those collected, the ones with a rating as of the moment, and those
  whose latest rating is satisfied or basically satisfied;
- accepted in time: of those collected, accepted on or before the acceptance deadline;
- overdue: of those collected, still open at the moment, not paused, with a deadline
  before the moment's day; supervised: of those overdue, the ones supervised (督办) by
  the moment. Over all time as of now, these are the demands late and supervised now;
- resolution rate = resolved / collected; on-time rate = resolved on time / resolved;
  satisfaction rate = satisfied / rated; response rate = accepted in time / collected.

Slices: a demand's street and channel are those it came in with; its category is its
category; its tier is the firm's tier now (tiers keep no history), and so are a leader's
firms; a department's demands are those with a task (lead or co-handling) dispatched to it
by the moment. Breakdowns by month count a demand in the month it was received.

Visits: the visits made on a day of the window and recorded by the moment; the distinct
firms visited; and for each tier, the share of its active firms visited at least once.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, String, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from crm.demands import states
from crm.demands.ledger import shanghai_date
from crm.demands.models import Demand, DemandEvent, DemandTask, Escalation
from crm.extensions import db
from crm.firms.models import TIERS, Firm
from crm.stats.sqlfuncs import iso_day, local_month
from crm.timeutil import SHANGHAI, local_time, utcnow
from crm.visits.models import Visit

NO_TIER = "none"
NOT_COLLECTED = (states.WITHDRAWN, states.REJECTED)
DONE = (states.RESOLVED, states.CLOSED)
CONTENT = ("satisfied", "basically_satisfied")
DEMAND_COUNTS = (
    "collected",
    "resolved",
    "resolved_on_time",
    "rated",
    "satisfied",
    "accepted_in_time",
    "overdue",
    "supervised",
)
# Each rate: (rate, the count it divides, the count it divides by).
RATES = (
    ("resolution_rate", "resolved", "collected"),
    ("on_time_rate", "resolved_on_time", "resolved"),
    ("satisfaction_rate", "satisfied", "rated"),
    ("response_rate", "accepted_in_time", "collected"),
)
# The first day of "all time": figures over all time as of now are the ledger's "now".
ALL_TIME_START = date(2000, 1, 1)
DIMENSIONS = ("month", "street", "department", "category", "tier", "channel")

# What each figure means, as the help page and the API's description say it.
DEFINITIONS = {
    "collected": _l("Demands received in the period, not counting withdrawn or rejected ones."),
    "resolved": _l(
        "Of the demands collected, those resolved or closed by the report's as-of time."
    ),
    "resolved_on_time": _l(
        "Of the demands resolved, those resolved by their deadline, counting approved "
        "extensions and pauses."
    ),
    "rated": _l("Of the demands collected, those the firm has rated."),
    "satisfied": _l("Of the demands rated, those rated satisfied or basically satisfied."),
    "accepted_in_time": _l(
        "Of the demands collected, those accepted within the acceptance time limit."
    ),
    "not_satisfied": _l("Of the demands rated, those rated not satisfied."),
    "overdue": _l(
        "Of the demands collected, those still open and not paused whose deadline has "
        "passed by the as-of time."
    ),
    "supervised": _l("Of the demands overdue, those supervised (督办) by the as-of time."),
    "resolution_rate": _l("Resolved ÷ collected."),
    "on_time_rate": _l("Resolved on time ÷ resolved."),
    "satisfaction_rate": _l("(Satisfied + basically satisfied) ÷ rated."),
    "response_rate": _l("Accepted within the time limit ÷ collected."),
    "visits": _l("Visits made on a day of the period."),
    "firms_visited": _l("Distinct firms visited in the period."),
    "coverage": _l("For each tier: the share of its active firms visited at least once."),
}


@dataclass(frozen=True)
class Window:
    """Days ``start`` to ``end`` (both included, Asia/Shanghai), as of ``as_of`` (UTC;
    None: now)."""

    start: date
    end: date
    as_of: datetime | None = None

    def moment(self) -> datetime:
        return self.as_of or utcnow()

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """The window as UTC instants: from the start of ``start`` to the start of the day
        after ``end``, Shanghai time."""
        begin = datetime.combine(self.start, time(), SHANGHAI)
        finish = datetime.combine(self.end + timedelta(days=1), time(), SHANGHAI)
        return _naive_utc(begin), _naive_utc(finish)


def _naive_utc(moment: datetime) -> datetime:
    return (moment - moment.utcoffset()).replace(tzinfo=None)


@dataclass(frozen=True)
class Slice:
    """Which demands or visits: any combination; None means all."""

    street_id: int | None = None
    department_id: int | None = None
    category_id: int | None = None
    tier: str | None = None  # district, sector, local, or "none"
    channel: str | None = None
    leader_id: int | None = None  # the firms linked to this leader


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class DemandFigures:
    collected: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    accepted_in_time: int = 0
    overdue: int = 0
    supervised: int = 0

    @property
    def not_satisfied(self) -> int:
        return self.rated - self.satisfied

    @property
    def resolution_rate(self) -> float | None:
        return _ratio(self.resolved, self.collected)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.resolved_on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> float | None:
        return _ratio(self.satisfied, self.rated)

    @property
    def response_rate(self) -> float | None:
        return _ratio(self.accepted_in_time, self.collected)

    def as_dict(self) -> dict:
        return {
            **{name: getattr(self, name) for name in DEMAND_COUNTS},
            "not_satisfied": self.not_satisfied,
            **{name: getattr(self, name) for name, _, _ in RATES},
        }

    def __add__(self, other: "DemandFigures") -> "DemandFigures":
        return DemandFigures(
            **{name: getattr(self, name) + getattr(other, name) for name in DEMAND_COUNTS}
        )


# -- demands ----------------------------------------------------------------------------------


def _latest(value, as_of: datetime, *, when) -> ColumnElement:
    """``value(event)`` of the demand's latest event (by time, then id) at or before
    ``as_of`` among those that meet ``when(event)``; NULL when there is none."""
    event = aliased(DemandEvent)
    return (
        select(value(event))
        .where(event.demand_id == Demand.id, event.at <= as_of, when(event))
        .order_by(event.at.desc(), event.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _timeline(window: Window, where: Slice, *columns, late_only: bool = False) -> Select:
    """One row per demand received in the window (and by the moment) within the slice,
    with what its timeline says as of the moment, and ``columns`` of the demand.

    ``late_only`` leaves out the demands closed by the moment, which cannot be late:
    closed is final, so a demand whose ``closed_at`` is at or before the moment was closed
    then on its timeline too. Over all time, most demands are closed, and rebuilding their
    timelines for nothing is most of the work."""
    as_of = window.moment()
    begin, finish = window.utc_bounds()
    state = _latest(lambda e: e.to_state, as_of, when=lambda e: e.to_state.is_not(None))
    resolved_at = _latest(lambda e: e.at, as_of, when=lambda e: e.to_state == states.RESOLVED)
    deadline = _latest(
        lambda e: case(
            (e.kind == "extension_approved", e.data["new_due_on"].as_string()),
            else_=e.data["due_on"].as_string(),
        ),
        as_of,
        when=lambda e: or_(
            and_(e.kind.in_(("dispatched", "resumed")), e.data["due_on"].as_string().is_not(None)),
            and_(
                e.kind == "extension_approved",
                e.data["new_due_on"].as_string().is_not(None),
                exists().where(DemandTask.id == e.task_id, DemandTask.role == "lead"),
            ),
        ),
    )
    pause = _latest(lambda e: e.kind, as_of, when=lambda e: e.kind.in_(("paused", "resumed")))
    rating = _latest(
        lambda e: e.data["rating"].as_string(), as_of, when=lambda e: e.kind == "rated"
    )
    accepted = aliased(DemandEvent)
    accepted_at = (
        select(func.min(accepted.at))
        .where(accepted.demand_id == Demand.id, accepted.kind == "accepted", accepted.at <= as_of)
        .scalar_subquery()
    )
    supervised = exists().where(
        Escalation.demand_id == Demand.id,
        Escalation.step == "supervision",
        Escalation.at <= as_of,
    )
    query = select(
        Demand.id.label("id"),
        func.coalesce(state, states.SUBMITTED).label("state"),
        resolved_at.label("resolved_at"),
        deadline.label("deadline"),
        pause.label("pause"),
        rating.label("rating"),
        accepted_at.label("accepted_at"),
        Demand.accept_due_on.label("accept_due_on"),
        supervised.label("supervised"),
        *columns,
    ).where(
        Demand.submitted_at >= begin,
        Demand.submitted_at < finish,
        Demand.submitted_at <= as_of,
    )
    if late_only:
        query = query.where(or_(Demand.closed_at.is_(None), Demand.closed_at > as_of))
    return _sliced(query, where, as_of)


def _rows(query: Select):
    """The timeline as a materialized CTE: both databases would otherwise inline it and
    run each demand's subqueries once per reference to them instead of once."""
    return query.cte("timeline").prefix_with("MATERIALIZED")


LATE = ("overdue", "supervised")


def _firms_of(where: Slice) -> Select | None:
    """The firms the slice's tier and leader allow; None when they allow any."""
    if where.tier is None and where.leader_id is None:
        return None
    firms = select(Firm.id)
    if where.tier is not None:
        firms = firms.where(_tier_clause(where.tier))
    if where.leader_id is not None:
        firms = firms.where(Firm.leader_id == where.leader_id)
    return firms


def _sliced(query: Select, where: Slice, as_of: datetime) -> Select:
    if where.street_id is not None:
        query = query.where(Demand.street_id == where.street_id)
    if where.category_id is not None:
        query = query.where(Demand.category_id == where.category_id)
    if where.channel is not None:
        query = query.where(Demand.channel == where.channel)
    if (firms := _firms_of(where)) is not None:
        query = query.where(Demand.firm_id.in_(firms))
    if where.department_id is not None:
        query = query.where(
            Demand.id.in_(
                select(DemandTask.demand_id).where(
                    DemandTask.department_id == where.department_id,
                    DemandTask.dispatched_at <= as_of,
                )
            )
        )
    return query


def _conditions(row, as_of: datetime) -> dict[str, ColumnElement[bool]]:
    """Each count's condition over a row of ``_timeline``."""
    collected = row.state.not_in(NOT_COLLECTED)
    resolved = collected & row.state.in_(DONE)
    overdue = (
        collected
        & row.state.not_in(DONE)
        & (iso_day(row.deadline) < local_time(as_of).date())
        & or_(row.pause.is_(None), row.pause != "paused")
    )
    return {
        "collected": collected,
        "resolved": resolved,
        "resolved_on_time": resolved & (shanghai_date(row.resolved_at) <= iso_day(row.deadline)),
        "rated": collected & row.rating.is_not(None),
        "satisfied": collected & row.rating.in_(CONTENT),
        "accepted_in_time": collected & (shanghai_date(row.accepted_at) <= row.accept_due_on),
        "overdue": overdue,
        "supervised": overdue & row.supervised,
    }


def _sums(rows, as_of: datetime) -> list:
    conditions = _conditions(rows.c, as_of)
    return [
        func.coalesce(func.sum(case((conditions[name], 1), else_=0)), 0).label(name)
        for name in DEMAND_COUNTS
    ]


def _figures(row) -> DemandFigures:
    return DemandFigures(**{name: int(getattr(row, name)) for name in DEMAND_COUNTS})


def demand_figures(window: Window, where: Slice = Slice()) -> DemandFigures:
    """The demand figures of the window and slice, as of the window's moment: one
    statement, whatever the number of demands."""
    rows = _rows(_timeline(window, where))
    return _figures(db.session.execute(select(*_sums(rows, window.moment()))).one())


def late_figures(window: Window, where: Slice = Slice()) -> DemandFigures:
    """Only the overdue and supervised counts (the others are 0), faster than
    ``demand_figures``: for "late now", over all time as of now. One statement."""
    rows = _rows(_timeline(window, where, late_only=True))
    counts = _figures(db.session.execute(select(*_sums(rows, window.moment()))).one())
    return DemandFigures(overdue=counts.overdue, supervised=counts.supervised)


def demand_rows(window: Window, where: Slice, figure: str, *columns) -> Select:
    """The rows behind one count as its timeline has them at the moment — id, state,
    deadline, supervised … — with ``columns`` of the demand: for lists that show why."""
    if figure not in DEMAND_COUNTS:
        raise ValueError(f"no such figure: {figure}")
    rows = _rows(_timeline(window, where, *columns, late_only=figure in LATE))
    return select(rows).where(_conditions(rows.c, window.moment())[figure])


def demand_ids(window: Window, where: Slice, figure: str) -> Select:
    """The ledger rows behind one count (its demand ids): the drill-down of a figure."""
    return select(demand_rows(window, where, figure).subquery().c.id)


@dataclass(frozen=True)
class Breakdowns:
    """The figures of a window and slice, and of each group of each dimension."""

    total: DemandFigures
    groups: dict[str, dict]

    def by(self, dimension: str) -> dict:
        """Key → figures, ordered by key. Keys: "YYYY-MM" months, street, department and
        category ids, tiers (with "none") and channels."""
        return self.groups[dimension]


_CUBE = ("month", "street", "category", "tier", "channel")


def demand_breakdowns(window: Window, where: Slice = Slice()) -> Breakdowns:
    """The figures by month, street, department, category, tier and channel, and their
    total: two statements whatever the number of demands. The first counts each
    combination of month, street, category, tier and channel (tens of thousands of rows
    at city scale), which add up to every dimension but departments; the second counts
    by department, where a demand with tasks for two departments counts for both."""
    as_of = window.moment()
    tier = select(func.coalesce(Firm.tier, NO_TIER)).where(Firm.id == Demand.firm_id)
    rows = _rows(
        _timeline(
            window,
            where,
            local_month(Demand.submitted_at).label("month"),
            Demand.street_id.label("street"),
            Demand.category_id.label("category"),
            tier.scalar_subquery().label("tier"),
            Demand.channel.label("channel"),
        )
    )
    keys = [rows.c[name] for name in _CUBE]
    cube = db.session.execute(select(*keys, *_sums(rows, as_of)).group_by(*keys)).all()
    groups: dict[str, dict] = {name: {} for name in DIMENSIONS}
    total = DemandFigures()
    for row in cube:
        figures = _figures(row)
        total += figures
        for name in _CUBE:
            key = getattr(row, name)
            groups[name][key] = groups[name].get(key, DemandFigures()) + figures

    timeline = _rows(_timeline(window, where))
    units = select(DemandTask.demand_id, DemandTask.department_id).where(
        DemandTask.department_id.is_not(None), DemandTask.dispatched_at <= as_of
    )
    if where.department_id is not None:  # a department's slice: its own group only
        units = units.where(DemandTask.department_id == where.department_id)
    units = units.distinct().subquery()
    by_department = db.session.execute(
        select(units.c.department_id, *_sums(timeline, as_of))
        .select_from(timeline.join(units, units.c.demand_id == timeline.c.id))
        .group_by(units.c.department_id)
    ).all()
    groups["department"] = {row.department_id: _figures(row) for row in by_department}
    ordered = {name: dict(sorted(groups[name].items())) for name in DIMENSIONS}
    return Breakdowns(total, ordered)


def narrowed(window: Window, where: Slice, dimension: str, key) -> tuple[Window, Slice]:
    """The window and slice of one group of a breakdown, for its drill-down."""
    if dimension == "month":
        year, month = (int(part) for part in str(key).split("-"))
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        start = max(window.start, first)
        end = min(window.end, after - timedelta(days=1))
        return Window(start, end, window.as_of), where
    field_name = {"street": "street_id", "department": "department_id", "category": "category_id"}
    if dimension in field_name:
        return window, replace(where, **{field_name[dimension]: int(key)})
    if dimension in ("tier", "channel"):
        return window, replace(where, **{dimension: key})
    raise ValueError(f"no such dimension: {dimension}")


# -- visits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    visited: int
    firms: int

    @property
    def rate(self) -> float | None:
        return _ratio(self.visited, self.firms)


@dataclass(frozen=True)
class VisitFigures:
    visits: int = 0
    firms_visited: int = 0
    coverage: dict[str, Coverage] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "visits": self.visits,
            "firms_visited": self.firms_visited,
            "coverage": {
                tier: {"visited": c.visited, "firms": c.firms, "rate": c.rate}
                for tier, c in self.coverage.items()
            },
        }


def _tier_clause(tier: str) -> ColumnElement[bool]:
    return Firm.tier.is_(None) if tier == NO_TIER else Firm.tier == tier


def _visits(window: Window, where: Slice, *columns) -> Select:
    query = select(Visit.id, Visit.firm_id, *columns).where(
        Visit.visited_on >= window.start,
        Visit.visited_on <= window.end,
        Visit.created_at <= window.moment(),
    )
    if where.street_id is not None:
        query = query.where(Visit.street_id == where.street_id)
    if (firms := _firms_of(where)) is not None:
        query = query.where(Visit.firm_id.in_(firms))
    return query


def visit_ids(window: Window, where: Slice = Slice()) -> Select:
    """The visits behind the visit count: its drill-down."""
    return select(_visits(window, where).subquery().c.id)


def visit_breakdowns(window: Window, where: Slice = Slice()) -> dict[str, dict]:
    """Visits by month ("YYYY-MM") and by street id: one statement."""
    visits = _visits(
        window,
        where,
        func.substr(func.cast(Visit.visited_on, String), 1, 7).label("month"),
        Visit.street_id.label("street"),
    ).subquery()
    groups: dict[str, dict] = {"month": {}, "street": {}}
    for month, street, count in db.session.execute(
        select(visits.c.month, visits.c.street, func.count()).group_by(
            visits.c.month, visits.c.street
        )
    ):
        groups["month"][month] = groups["month"].get(month, 0) + count
        groups["street"][street] = groups["street"].get(street, 0) + count
    return {name: dict(sorted(counts.items())) for name, counts in groups.items()}


def _active_firms(where: Slice) -> Select:
    query = select(Firm.id, Firm.tier).where(Firm.status == "active")
    if where.street_id is not None:
        query = query.where(Firm.street_id == where.street_id)
    if where.tier is not None:
        query = query.where(_tier_clause(where.tier))
    if where.leader_id is not None:
        query = query.where(Firm.leader_id == where.leader_id)
    return query


def visit_figures(window: Window, where: Slice = Slice()) -> VisitFigures:
    """Visits, firms visited (any status), and each tier's coverage of its active firms
    (two statements). Department, category and channel do not apply to visits and are
    ignored."""
    visits = _visits(window, where).subquery()
    firms = _active_firms(where).subquery()
    visited = select(visits.c.firm_id).distinct().subquery()
    count, distinct = db.session.execute(
        select(func.count(visits.c.id), func.count(func.distinct(visits.c.firm_id)))
    ).one()
    tier = func.coalesce(firms.c.tier, NO_TIER)
    coverage = {
        row.tier: Coverage(int(row.visited or 0), int(row.firms))
        for row in db.session.execute(
            select(
                tier.label("tier"),
                func.count(firms.c.id).label("firms"),
                func.sum(case((firms.c.id.in_(select(visited.c.firm_id)), 1), else_=0)).label(
                    "visited"
                ),
            ).group_by(tier)
        )
    }
    ordered = {t: coverage.get(t, Coverage(0, 0)) for t in (*TIERS, NO_TIER)}
    return VisitFigures(int(count), int(distinct), ordered)
