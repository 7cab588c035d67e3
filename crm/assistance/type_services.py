"""Case types: the office keeps each kind of assistance's stages and checklist.

A case copies its type's checklist when it opens and refers to the stages, so editing a
type changes new cases only; a stage that a case is at, or has passed through, stays.
"""

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from crm.assistance.models import (
    KINDS,
    TALENT_ROUTES,
    AssistanceCase,
    CaseEvent,
    CaseStage,
    CaseType,
    ChecklistTemplateItem,
)
from crm.audit.services import changes, record
from crm.auth.models import User
from crm.extensions import db

TYPE_FIELDS = ["name", "kind", "description", "active"]
ITEM_FIELDS = ["label", "stage_id", "route"]
MIN_STAGES = 2  # a case needs somewhere to start and somewhere to land
DIRECTIONS = ("up", "down")


class CaseTypeError(ValueError):
    """An edit that breaks a rule; ``field`` names the form field to blame."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


# -- reading ---------------------------------------------------------------------------------


def all_case_types() -> list[CaseType]:
    from sqlalchemy.orm import selectinload

    return list(
        db.session.scalars(
            select(CaseType)
            .order_by(CaseType.active.desc(), CaseType.id)
            .options(selectinload(CaseType.stages), selectinload(CaseType.checklist))
        )
    )


def case_counts() -> dict[int, dict[str, int]]:
    """Type id -> {"open": n, "all": n}: how much each type is in use."""
    rows = db.session.execute(
        select(
            AssistanceCase.case_type_id,
            func.count(),
            func.count().filter(AssistanceCase.state == "open"),
        ).group_by(AssistanceCase.case_type_id)
    ).all()
    return {type_id: {"all": total, "open": open_} for type_id, total, open_ in rows}


def stages_in_use(case_type: CaseType) -> set[int]:
    """The type's stages that a case is at or has an event for: they cannot be deleted."""
    stage_ids = [s.id for s in case_type.stages]
    if not stage_ids:
        return set()
    at = select(AssistanceCase.stage_id).where(AssistanceCase.stage_id.in_(stage_ids))
    moved_from = select(CaseEvent.from_stage_id).where(CaseEvent.from_stage_id.in_(stage_ids))
    moved_to = select(CaseEvent.to_stage_id).where(CaseEvent.to_stage_id.in_(stage_ids))
    return set(db.session.scalars(at.union(moved_from, moved_to)))


# -- types -----------------------------------------------------------------------------------


def _check_type_data(data: dict[str, Any], *, case_type: CaseType | None) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in TYPE_FIELDS}
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise CaseTypeError(_l("Enter a name."), "name")
        clash = db.session.scalar(
            select(CaseType.id).where(
                CaseType.name == data["name"], CaseType.id != (case_type.id if case_type else 0)
            )
        )
        if clash:
            raise CaseTypeError(_l("Another case type already has this name."), "name")
    if "kind" in data:
        if data["kind"] not in KINDS:
            raise CaseTypeError(_l("Choose a kind from the list."), "kind")
        if case_type is not None and data["kind"] != case_type.kind and _has_cases(case_type):
            # The kind decides which parts a case page has (referrals, the talent route).
            raise CaseTypeError(
                _l("Cases of this type exist already, so its kind can no longer change."), "kind"
            )
    if "description" in data:
        data["description"] = (data["description"] or "").strip()
    return data


def _has_cases(case_type: CaseType) -> bool:
    return bool(
        db.session.scalar(select(exists().where(AssistanceCase.case_type_id == case_type.id)))
    )


def _clean_names(names: list[str]) -> list[str]:
    return [n.strip() for n in names if n and n.strip()]


def create_case_type(data: dict[str, Any], stage_names: list[str], *, actor: User) -> CaseType:
    """A new type with its stages in order; its checklist is added afterwards."""
    code = (data.get("code") or "").strip().upper()
    if not code:
        raise CaseTypeError(_l("Enter a code."), "code")
    if db.session.scalar(select(CaseType.id).where(CaseType.code == code)):
        raise CaseTypeError(_l("Another case type already has this code."), "code")
    clean = _check_type_data(data, case_type=None)
    names = _clean_names(stage_names)
    if len(names) < MIN_STAGES:
        raise CaseTypeError(_l("A case type needs at least two stages."), "stages")
    if len(set(names)) != len(names):
        raise CaseTypeError(_l("Two stages have the same name."), "stages")
    too_long = next((n for n in names if len(n) > 64), None)
    if too_long:
        raise CaseTypeError(_l("A stage name has at most 64 characters."), "stages")
    case_type = CaseType(code=code, **clean)
    case_type.stages = [CaseStage(position=i, name=n) for i, n in enumerate(names)]
    db.session.add(case_type)
    db.session.flush()
    record(
        "case_type.create",
        case_type,
        user=actor,
        detail={"code": code, "name": case_type.name, "stages": names},
    )
    return case_type


def update_case_type(case_type: CaseType, data: dict[str, Any], *, actor: User) -> dict:
    clean = _check_type_data(data, case_type=case_type)
    for key, value in clean.items():
        setattr(case_type, key, value)
    diff = changes(case_type, list(clean))
    if diff:
        db.session.flush()
        record("case_type.update", case_type, user=actor, detail={"changes": diff})
    return diff


# -- stages ----------------------------------------------------------------------------------


def _check_stage_name(case_type: CaseType, name: str, *, stage: CaseStage | None) -> str:
    name = (name or "").strip()
    if not name:
        raise CaseTypeError(_l("Enter the stage's name."), "name")
    if any(s.name == name and s is not stage for s in case_type.stages):
        raise CaseTypeError(_l("This type already has a stage of that name."), "name")
    return name


def add_stage(case_type: CaseType, name: str, *, actor: User) -> CaseStage:
    """A stage at the end of the type's stages."""
    name = _check_stage_name(case_type, name, stage=None)
    stage = CaseStage(name=name, position=len(case_type.stages))
    case_type.stages.append(stage)
    db.session.flush()
    record(
        "case_stage.create",
        stage,
        user=actor,
        detail={"case_type_id": case_type.id, "name": name, "position": stage.position},
    )
    return stage


def rename_stage(stage: CaseStage, name: str, *, actor: User) -> None:
    name = _check_stage_name(stage.case_type, name, stage=stage)
    if name == stage.name:
        return
    old, stage.name = stage.name, name
    record(
        "case_stage.rename",
        stage,
        user=actor,
        detail={"case_type_id": stage.case_type_id, "changes": {"name": [old, name]}},
    )


def _renumber(rows: list) -> None:
    for position, row in enumerate(rows):
        row.position = position


def _swap(rows: list, row, direction: str) -> bool:
    """Move ``row`` one place up or down in ``rows``; False when it is already at the end."""
    if direction not in DIRECTIONS:
        raise CaseTypeError(_l("Choose up or down."), "direction")
    i = rows.index(row)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(rows):
        return False
    ordered = list(rows)
    ordered[i], ordered[j] = ordered[j], ordered[i]
    _renumber(ordered)
    return True


def move_stage(stage: CaseStage, direction: str, *, actor: User) -> bool:
    """Swap ``stage`` with its neighbour. Cases keep the stage they are at."""
    case_type = stage.case_type
    moved = _swap(case_type.stages, stage, direction)
    if moved:
        record(
            "case_stage.move",
            stage,
            user=actor,
            detail={"case_type_id": case_type.id, "name": stage.name, "direction": direction},
        )
        db.session.flush()
        db.session.refresh(case_type, ["stages"])
    return moved


def delete_stage(stage: CaseStage, *, actor: User) -> None:
    """Delete an unused stage; its checklist items then belong to no stage."""
    case_type = stage.case_type
    if len(case_type.stages) <= MIN_STAGES:
        raise CaseTypeError(
            _l("A case type needs at least two stages: add another before deleting this one.")
        )
    if stage.id in stages_in_use(case_type):
        raise CaseTypeError(
            _l(
                "Stage %(name)s cannot be deleted: cases are at it or have passed through it. "
                "Rename it instead, or make the type inactive and create a new one.",
                name=stage.name,
            )
        )
    for item in case_type.checklist:
        if item.stage_id == stage.id:
            item.stage_id = None
    record(
        "case_stage.delete",
        stage,
        user=actor,
        detail={"case_type_id": case_type.id, "name": stage.name},
    )
    case_type.stages.remove(stage)  # delete-orphan
    _renumber(case_type.stages)
    db.session.flush()


# -- checklist -------------------------------------------------------------------------------


def _check_item_data(case_type: CaseType, data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in ITEM_FIELDS}
    label = (data.get("label") or "").strip()
    if not label:
        raise CaseTypeError(_l("Enter what is to be checked."), "label")
    data["label"] = label
    stage_id = data.get("stage_id")
    if stage_id is not None and stage_id not in {s.id for s in case_type.stages}:
        raise CaseTypeError(_l("Choose one of this type's stages."), "stage_id")
    route = data.get("route") or None
    if route is not None:
        if case_type.kind != "talent":
            raise CaseTypeError(
                _l("Only talent settlement types have routes; leave it empty."), "route"
            )
        if route not in TALENT_ROUTES:
            raise CaseTypeError(_l("Choose a route from the list."), "route")
    data["route"] = route
    return data


def add_item(case_type: CaseType, data: dict[str, Any], *, actor: User) -> ChecklistTemplateItem:
    clean = _check_item_data(case_type, data)
    item = ChecklistTemplateItem(position=len(case_type.checklist), **clean)
    case_type.checklist.append(item)
    db.session.flush()
    record(
        "checklist_item.create",
        item,
        user=actor,
        detail={"case_type_id": case_type.id, **clean},
    )
    return item


def update_item(item: ChecklistTemplateItem, data: dict[str, Any], *, actor: User) -> dict:
    clean = _check_item_data(item.case_type, data)
    for key, value in clean.items():
        setattr(item, key, value)
    diff = changes(item, list(clean))
    if diff:
        db.session.flush()
        record(
            "checklist_item.update",
            item,
            user=actor,
            detail={"case_type_id": item.case_type_id, "changes": diff},
        )
    return diff


def move_item(item: ChecklistTemplateItem, direction: str, *, actor: User) -> bool:
    case_type = item.case_type
    moved = _swap(case_type.checklist, item, direction)
    if moved:
        record(
            "checklist_item.move",
            item,
            user=actor,
            detail={"case_type_id": case_type.id, "label": item.label, "direction": direction},
        )
        db.session.flush()
        db.session.refresh(case_type, ["checklist"])
    return moved


def delete_item(item: ChecklistTemplateItem, *, actor: User) -> None:
    """Remove the item from the template; cases already opened keep their copy."""
    case_type = item.case_type
    record(
        "checklist_item.delete",
        item,
        user=actor,
        detail={"case_type_id": case_type.id, "label": item.label},
    )
    case_type.checklist.remove(item)
    _renumber(case_type.checklist)
    db.session.flush()
