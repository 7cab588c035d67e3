"""The dashboard's figures that are not demands or visits: service packages issued and the
assistance pipeline, narrowed to what the user may see.

Packages and cases belong to firms, not to demands, so of a slice only the firm's street,
tier and leader apply to them; department, category and channel do not.
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, select

from crm.assistance import pipeline
from crm.assistance.models import AssistanceCase
from crm.auth.models import User
from crm.auth.permissions import pipeline_scope
from crm.extensions import db
from crm.firms.models import Firm
from crm.policies.models import ServicePackage
from crm.stats.definitions import NO_TIER, Slice, Window


def _packages(window: Window, where: Slice) -> Select:
    begin, finish = window.utc_bounds()
    query = select(ServicePackage.id).where(
        ServicePackage.issued_at >= begin,
        ServicePackage.issued_at < finish,
        ServicePackage.issued_at <= window.moment(),
    )
    firms = select(Firm.id)
    if where.street_id is not None:
        firms = firms.where(Firm.street_id == where.street_id)
    if where.leader_id is not None:
        firms = firms.where(Firm.leader_id == where.leader_id)
    if where.tier is not None:
        firms = firms.where(
            Firm.tier.is_(None) if where.tier == NO_TIER else Firm.tier == where.tier
        )
    if firms.whereclause is not None:
        query = query.where(ServicePackage.firm_id.in_(firms))
    return query


def packages_issued(window: Window, where: Slice) -> int:
    """Service packages issued on a day of the window, by the moment: one statement."""
    inner = _packages(window, where).subquery()
    return db.session.scalar(select(func.count()).select_from(inner))


def package_ids(window: Window, where: Slice) -> Select:
    """The packages behind ``packages_issued``: its drill-down."""
    return _packages(window, where)


@dataclass(frozen=True)
class PipelineFigures:
    open: pipeline.Cell
    landed: pipeline.Landed


def cases_where(user: User, where: Slice) -> ColumnElement[bool]:
    """The cases ``user`` may count (its street, or its linked firms'), in the slice's street."""
    clause = pipeline_scope(user)
    if where.street_id is not None:
        clause = and_(clause, AssistanceCase.street_id == where.street_id)
    return clause


def pipeline_figures(user: User, window: Window, where: Slice) -> PipelineFigures:
    """Open cases now and cases landed in the window, with their expected value: two
    statements (crm.assistance.pipeline counts them)."""
    clause = cases_where(user, where)
    period = pipeline.Period(window.start, window.end)
    open_cells = pipeline.open_by_type_stage(clause)
    landed_cells = pipeline.landed_by_type(clause, period)
    total_open, total_landed = pipeline.Cell(), pipeline.Landed()
    for cell in open_cells.values():
        total_open.add(cell)
    for cell in landed_cells.values():
        total_landed.add(cell)
    return PipelineFigures(total_open, total_landed)
