"""Telling people: in-app notifications, and email when mail is configured.

Notifications are rows written in the caller's transaction; email goes out after the
commit (see ``crm.demands.mail``), so a rolled-back action never sends anything.
"""

from collections.abc import Iterable

from sqlalchemy import select

from crm.auth.models import User
from crm.demands.models import Demand, DemandTask, Notification
from crm.extensions import db


def unit_users(task: DemandTask, *, heads_only: bool = False) -> list[User]:
    """The active users of the unit ``task`` was dispatched to (its heads, if asked)."""
    stmt = select(User).where(User.active.is_(True))
    if task.department_id is not None:
        stmt = stmt.where(User.role == "department", User.department_id == task.department_id)
    else:
        stmt = stmt.where(User.role == "street", User.street_id == task.street_id)
    if heads_only:
        stmt = stmt.where(User.is_unit_head.is_(True))
    return list(db.session.scalars(stmt))


def dispatchers_for(demand: Demand) -> list[User]:
    """Who accepts and dispatches this demand: the office and the firm's street centre."""
    return list(
        db.session.scalars(
            select(User).where(
                User.active.is_(True),
                (User.role == "office")
                | ((User.role == "street") & (User.street_id == demand.street_id)),
            )
        )
    )


def firm_users(demand: Demand) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(
                User.active.is_(True), User.role == "firm", User.firm_id == demand.firm_id
            )
        )
    )


def notify(users: Iterable[User], kind: str, demand: Demand | None, message: str) -> int:
    """One notification per distinct user; the number written."""
    seen: set[int] = set()
    for user in users:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        db.session.add(
            Notification(
                user_id=user.id,
                demand_id=demand.id if demand is not None else None,
                kind=kind,
                message=message[:300],
            )
        )
    return len(seen)
