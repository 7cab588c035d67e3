"""Pipeline figures (DESIGN §6): open cases and their expected value by type and stage,
cases landed and dropped in a period, and how many days landing took.

Every figure is one SQL aggregate over ``assistance_cases``, narrowed by a WHERE clause
the caller passes (the user's scope and any filter), so a page runs the same few
statements however many cases there are.

Definitions:
- open: cases whose state is ``open`` now, at the stage they are at now;
- landed in the period: state ``landed`` with ``landed_on`` within [start, end];
- days to land: ``landed_on - opened_on`` in calendar days, averaged over those cases;
- dropped in the period: state ``dropped`` with ``dropped_on`` within [start, end],
  counted by the reason as typed.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from crm.assistance.models import AssistanceCase, CaseStage, CaseType
from crm.extensions import db


@dataclass
class Period:
    start: date
    end: date

    @classmethod
    def this_year(cls, today: date) -> "Period":
        return cls(date(today.year, 1, 1), today)


@dataclass
class Cell:
    """A count of cases and the sums of their expected value (万元, 万元, people)."""

    count: int = 0
    investment: Decimal = Decimal(0)
    capital: Decimal = Decimal(0)
    jobs: int = 0

    def add(self, other: "Cell") -> None:
        self.count += other.count
        self.investment += other.investment
        self.capital += other.capital
        self.jobs += other.jobs


@dataclass
class Landed(Cell):
    days: float = 0  # the days to land of all its cases, added up

    @property
    def avg_days(self) -> float | None:
        return round(self.days / self.count, 1) if self.count else None

    def add(self, other: "Cell") -> None:
        super().add(other)
        self.days += getattr(other, "days", 0)


@dataclass
class TypeFigures:
    case_type: CaseType
    stages: list[tuple[CaseStage, Cell]]
    open: Cell
    landed: Landed
    dropped: int = 0


@dataclass
class Pipeline:
    period: Period
    types: list[TypeFigures]
    open_total: Cell = field(default_factory=Cell)
    landed_total: Landed = field(default_factory=Landed)
    dropped_total: int = 0
    drop_reasons: list[tuple[str, int]] = field(default_factory=list)


def _value_columns():
    return (
        func.count(),
        func.coalesce(func.sum(AssistanceCase.expected_investment), 0),
        func.coalesce(func.sum(AssistanceCase.registered_capital), 0),
        func.coalesce(func.sum(AssistanceCase.expected_jobs), 0),
    )


def _cell(count, investment, capital, jobs, cls=Cell, **extra) -> Cell:
    return cls(
        count=int(count),
        investment=Decimal(str(investment)),
        capital=Decimal(str(capital)),
        jobs=int(jobs),
        **extra,
    )


def _days_to_land():
    """``landed_on - opened_on`` in days: PostgreSQL subtracts dates, SQLite has julianday."""
    if db.engine.dialect.name == "postgresql":
        return AssistanceCase.landed_on - AssistanceCase.opened_on
    return func.julianday(AssistanceCase.landed_on) - func.julianday(AssistanceCase.opened_on)


def open_by_type_stage(where: ColumnElement[bool]) -> dict[tuple[int, int], Cell]:
    """(type id, stage id) -> the open cases at that stage and their expected value."""
    rows = db.session.execute(
        select(AssistanceCase.case_type_id, AssistanceCase.stage_id, *_value_columns())
        .where(AssistanceCase.state == "open", where)
        .group_by(AssistanceCase.case_type_id, AssistanceCase.stage_id)
    ).all()
    return {(t, s): _cell(*values) for t, s, *values in rows}


def landed_by_type(where: ColumnElement[bool], period: Period) -> dict[int, Landed]:
    """Type id -> the cases landed in ``period``, their value and their days to land."""
    rows = db.session.execute(
        select(AssistanceCase.case_type_id, *_value_columns(), func.sum(_days_to_land()))
        .where(
            AssistanceCase.state == "landed",
            AssistanceCase.landed_on.between(period.start, period.end),
            where,
        )
        .group_by(AssistanceCase.case_type_id)
    ).all()
    result = {}
    for type_id, count, investment, capital, jobs, days in rows:
        result[type_id] = _cell(count, investment, capital, jobs, Landed, days=float(days or 0))
    return result


def dropped_by_type_reason(
    where: ColumnElement[bool], period: Period
) -> list[tuple[int, str, int]]:
    """(type id, reason, count) of the cases dropped in ``period``."""
    rows = db.session.execute(
        select(AssistanceCase.case_type_id, AssistanceCase.drop_reason, func.count())
        .where(
            AssistanceCase.state == "dropped",
            AssistanceCase.dropped_on.between(period.start, period.end),
            where,
        )
        .group_by(AssistanceCase.case_type_id, AssistanceCase.drop_reason)
    ).all()
    return [(t, reason or "", int(n)) for t, reason, n in rows]


def pipeline(where: ColumnElement[bool], period: Period) -> Pipeline:
    """Every figure of the pipeline page, in five statements.

    Types in use are listed with all their stages; a type no longer in use shows only if
    it has something to count.
    """
    types = list(
        db.session.scalars(
            select(CaseType).order_by(CaseType.id).options(selectinload(CaseType.stages))
        )
    )
    open_cells = open_by_type_stage(where)
    landed = landed_by_type(where, period)
    dropped = dropped_by_type_reason(where, period)

    result = Pipeline(period=period, types=[])
    dropped_by_type: dict[int, int] = {}
    reasons: dict[str, int] = {}
    for type_id, reason, n in dropped:
        dropped_by_type[type_id] = dropped_by_type.get(type_id, 0) + n
        reasons[reason] = reasons.get(reason, 0) + n
    result.drop_reasons = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))

    for case_type in types:
        stages = [(s, open_cells.get((case_type.id, s.id), Cell())) for s in case_type.stages]
        open_cell = Cell()
        for _stage, cell in stages:
            open_cell.add(cell)
        row = TypeFigures(
            case_type=case_type,
            stages=stages,
            open=open_cell,
            landed=landed.get(case_type.id, Landed()),
            dropped=dropped_by_type.get(case_type.id, 0),
        )
        if not case_type.active and not (row.open.count or row.landed.count or row.dropped):
            continue
        result.types.append(row)
        result.open_total.add(row.open)
        result.landed_total.add(row.landed)
        result.dropped_total += row.dropped
    return result
