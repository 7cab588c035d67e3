"""Demand categories and their time limits (DESIGN §8): the office edits them.

A limit is read when a demand is taken in (acceptance) or dispatched (resolution), and the
deadline is stored on the demand and its tasks; so a changed limit applies to demands taken
in or dispatched afterwards and never moves a deadline already set.
"""

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm.audit.services import changes, record
from crm.auth.models import User
from crm.demands.models import CATEGORY_KINDS, Demand, DemandCategory
from crm.extensions import db

MIN_DAYS, MAX_DAYS = 1, 60
LIMIT_FIELDS = ("accept_days", "resolve_days", "level3_days")
EDITABLE = ("name", "kind", *LIMIT_FIELDS, "active")


class CategoryError(ValueError):
    """A change that breaks a rule; ``field`` names the form field to blame."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.field = field


def all_categories() -> list[DemandCategory]:
    return list(
        db.session.scalars(
            select(DemandCategory).order_by(DemandCategory.active.desc(), DemandCategory.code)
        )
    )


def demand_counts() -> dict[int, int]:
    """Category id -> how many demands it has, in one statement."""
    rows = db.session.execute(select(Demand.category_id, func.count()).group_by(Demand.category_id))
    return {category_id: n for category_id, n in rows}


def _clean(data: dict[str, Any], *, category_id: int | None) -> dict[str, Any]:
    fields = (*EDITABLE, "code") if category_id is None else EDITABLE
    data = {k: v for k, v in data.items() if k in fields}
    for key in ("code", "name"):
        if key in data:
            data[key] = (data[key] or "").strip()
            if not data[key]:
                raise CategoryError(_l("This field is required."), key)
    if "code" in data:
        data["code"] = data["code"].upper()
    if "kind" in data and data["kind"] not in CATEGORY_KINDS:
        raise CategoryError(_l("Choose consultation, general or complex."), "kind")
    for key in LIMIT_FIELDS:
        if key in data and not (isinstance(data[key], int) and MIN_DAYS <= data[key] <= MAX_DAYS):
            raise CategoryError(
                _l("Enter %(a)s to %(b)s working days.", a=MIN_DAYS, b=MAX_DAYS), key
            )
    for key, message in (
        ("name", _l("Another category already has this name.")),
        ("code", _l("Another category already has this code.")),
    ):
        if key not in data:
            continue
        column = getattr(DemandCategory, key)
        clash = db.session.scalar(
            select(DemandCategory.id).where(
                func.lower(column) == data[key].lower(), DemandCategory.id != (category_id or 0)
            )
        )
        if clash:
            raise CategoryError(message, key)
    return data


def create_category(data: dict[str, Any], *, actor: User) -> DemandCategory:
    data = _clean(data, category_id=None)
    category = DemandCategory(**{"active": True, **data})
    db.session.add(category)
    db.session.flush()
    record(
        "category.create",
        category,
        user=actor,
        detail={k: getattr(category, k) for k in ("code", *EDITABLE)},
    )
    return category


def update_category(category: DemandCategory, data: dict[str, Any], *, actor: User) -> dict:
    """Apply ``data``; the changed fields as field -> [old, new] (audited when any)."""
    data = _clean(data, category_id=category.id)
    for key, value in data.items():
        setattr(category, key, value)
    diff = changes(category, list(EDITABLE))
    if diff:
        record("category.update", category, user=actor, detail={"changes": diff})
    return diff
