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
- resolution rate = resolved / collected; on-time rate = resolved on time / resolved;
  satisfaction rate = satisfied / rated; response rate = accepted in time / collected.

Slices: a demand's street and channel are those it came in with; its category is its
category; its tier is the firm's tier now (tiers keep no history); a department's demands
are those with a task (lead or co-handling) dispatched to it by the moment.

Visits: the visits made on a day of the window and recorded by the moment; the distinct
firms visited; and for each tier, the share of its active firms visited at least once.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from crm.demands import states
from crm.demands.models import Demand, DemandEvent, DemandTask
from crm.extensions import db
from crm.firms.models import TIERS, Firm
from crm.stats.sqlfuncs import iso_day, local_day
from crm.timeutil import SHANGHAI, utcnow
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
)

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
        rates = ("resolution_rate", "on_time_rate", "satisfaction_rate", "response_rate")
        return {
            **{name: getattr(self, name) for name in DEMAND_COUNTS},
            **{name: getattr(self, name) for name in rates},
        }


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


def _timeline(window: Window, where: Slice) -> Select:
    """One row per demand received in the window (and by the moment) within the slice,
    with what its timeline says as of the moment."""
    as_of = window.moment()
    begin, finish = window.utc_bounds()
    lead_tasks = select(DemandTask.id).where(DemandTask.role == "lead")
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
                e.task_id.in_(lead_tasks),
            ),
        ),
    )
    rating = _latest(
        lambda e: e.data["rating"].as_string(), as_of, when=lambda e: e.kind == "rated"
    )
    accepted = aliased(DemandEvent)
    accepted_at = (
        select(func.min(accepted.at))
        .where(accepted.demand_id == Demand.id, accepted.kind == "accepted", accepted.at <= as_of)
        .scalar_subquery()
    )
    query = select(
        Demand.id.label("id"),
        func.coalesce(state, states.SUBMITTED).label("state"),
        resolved_at.label("resolved_at"),
        deadline.label("deadline"),
        rating.label("rating"),
        accepted_at.label("accepted_at"),
        Demand.accept_due_on.label("accept_due_on"),
    ).where(
        Demand.submitted_at >= begin,
        Demand.submitted_at < finish,
        Demand.submitted_at <= as_of,
    )
    return _sliced(query, where, as_of)


def _sliced(query: Select, where: Slice, as_of: datetime) -> Select:
    if where.street_id is not None:
        query = query.where(Demand.street_id == where.street_id)
    if where.category_id is not None:
        query = query.where(Demand.category_id == where.category_id)
    if where.channel is not None:
        query = query.where(Demand.channel == where.channel)
    if where.tier is not None:
        query = query.where(Demand.firm_id.in_(select(Firm.id).where(_tier_clause(where.tier))))
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


def _conditions(row) -> dict[str, ColumnElement[bool]]:
    """Each count's condition over a row of ``_timeline``."""
    collected = row.state.not_in(NOT_COLLECTED)
    resolved = collected & row.state.in_(DONE)
    return {
        "collected": collected,
        "resolved": resolved,
        "resolved_on_time": resolved & (local_day(row.resolved_at) <= iso_day(row.deadline)),
        "rated": collected & row.rating.is_not(None),
        "satisfied": collected & row.rating.in_(CONTENT),
        "accepted_in_time": collected & (local_day(row.accepted_at) <= row.accept_due_on),
    }


def demand_figures(window: Window, where: Slice = Slice()) -> DemandFigures:
    """The demand figures of the window and slice, as of the window's moment: one
    statement, whatever the number of demands."""
    rows = _timeline(window, where).subquery()
    conditions = _conditions(rows.c)
    counts = db.session.execute(
        select(
            *(
                func.coalesce(func.sum(case((conditions[name], 1), else_=0)), 0).label(name)
                for name in DEMAND_COUNTS
            )
        )
    ).one()
    return DemandFigures(**{name: int(getattr(counts, name)) for name in DEMAND_COUNTS})


def demand_ids(window: Window, where: Slice, figure: str) -> Select:
    """The ledger rows behind one count (its demand ids): the drill-down of a figure."""
    if figure not in DEMAND_COUNTS:
        raise ValueError(f"no such figure: {figure}")
    rows = _timeline(window, where).subquery()
    return select(rows.c.id).where(_conditions(rows.c)[figure])


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


def _visits(window: Window, where: Slice) -> Select:
    query = select(Visit.id, Visit.firm_id).where(
        Visit.visited_on >= window.start,
        Visit.visited_on <= window.end,
        Visit.created_at <= window.moment(),
    )
    if where.street_id is not None:
        query = query.where(Visit.street_id == where.street_id)
    if where.tier is not None:
        query = query.where(Visit.firm_id.in_(select(Firm.id).where(_tier_clause(where.tier))))
    return query


def _active_firms(where: Slice) -> Select:
    query = select(Firm.id, Firm.tier).where(Firm.status == "active")
    if where.street_id is not None:
        query = query.where(Firm.street_id == where.street_id)
    if where.tier is not None:
        query = query.where(_tier_clause(where.tier))
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
