"""Loading what matching needs from the database: the policies in force and the firms'
facts, in a fixed number of statements whatever the number of firms or policies."""

from collections.abc import Iterator
from datetime import date

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Street
from crm.policies import matching
from crm.policies.models import Policy

FACT_COLUMNS = tuple(getattr(Firm, name) for name in matching.FirmFacts.FIELDS)


def in_force_clause(on: date) -> ColumnElement[bool]:
    return (
        Policy.retired_at.is_(None)
        & (Policy.effective_from <= on)
        & or_(Policy.effective_to.is_(None), Policy.effective_to >= on)
    )


def rules_in_force(on: date, *, kind: str | None = None) -> list[matching.Rule]:
    """Every policy in force on ``on`` (of ``kind`` if given) as a matching rule; the
    policy object rides along as ``rule.policy``."""
    query = (
        select(Policy)
        .where(in_force_clause(on))
        .options(selectinload(Policy.criteria))
        .order_by(Policy.id)
    )
    if kind:
        query = query.where(Policy.kind == kind)
    return [matching.Rule.of(p) for p in db.session.scalars(query)]


def facts_of(firm: Firm) -> matching.FirmFacts:
    return matching.FirmFacts.of(firm)


def iter_facts(
    where: ColumnElement[bool] | None = None, *, batch: int = 2000
) -> Iterator[matching.FirmFacts]:
    """The facts of every active firm (within ``where``), read by columns, in id order.

    Straight through the session's connection: rows, not ORM objects, for the thousands
    of firms a candidate list reads."""
    query = select(*FACT_COLUMNS).where(Firm.status == "active").order_by(Firm.id)
    if where is not None:
        query = query.where(where)
    result = db.session.connection().execute(query.execution_options(yield_per=batch))
    for row in result:
        yield matching.FirmFacts.from_row(row)


def street_names() -> dict[int, str]:
    return {
        street_id: name for street_id, name in db.session.execute(select(Street.id, Street.name))
    }


def match_firm(firm: Firm, on: date) -> list[matching.Match]:
    """The firm against every policy in force on ``on`` (two statements)."""
    return matching.match_firm(facts_of(firm), rules_in_force(on), on)


def candidates(
    policy: Policy,
    on: date,
    *,
    where: ColumnElement[bool] | None = None,
    outcomes: tuple[str, ...] = (matching.ELIGIBLE, matching.PENDING_REVIEW),
) -> list[matching.Match]:
    """Every active firm (within ``where``, a user's scope) that the policy finds, with
    the outcomes asked for."""
    return matching.candidates(matching.Rule.of(policy), iter_facts(where), on, outcomes=outcomes)
