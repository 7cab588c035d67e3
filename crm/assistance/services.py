"""Assistance cases (DESIGN §6): opening one for a firm or a prospect, moving it through
its type's stages, its checklist, notes, departments, expected value and, by kind,
financing referrals and the talent settlement route.

Every function checks the actor's right to the case, changes the session, writes the
case's timeline event and the audit record, and leaves the commit to the caller. The
rules of which move may happen when are in ``crm.assistance.states``.
"""

import secrets
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm.assistance import states
from crm.assistance.models import (
    TALENT_ROUTES,
    AssistanceCase,
    CaseChecklistItem,
    CaseEvent,
    CaseNote,
    CaseType,
    Prospect,
)
from crm.audit.services import record
from crm.auth.models import User
from crm.auth.permissions import can_edit_case, can_note_case, can_open_case_in
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department
from crm.timeutil import utcnow
from crm.workcal.services import today

TALENT = "talent"
FINANCING = "financing"
OWNER_ROLES = ("street", "commissioner")

# The state machine's refusals, in words the catalogue translates.
_MESSAGES = {
    "unknown_action": _l("Unknown action."),
    "role": _l("Your role may not move cases."),
    "reopen_role": _l("Only the office or the street centre may reopen a case."),
    "final": _l("The case has landed: it is final."),
    "state": _l("The case is dropped: reopen it first."),
    "reopen_state": _l("Only a dropped case can be reopened."),
    "last_stage": _l("The case is at its last stage: land it or drop it."),
    "route": _l("Choose the talent settlement route before moving on."),
    "land_route": _l("Choose the talent settlement route first."),
    "checklist": _l("Tick this stage's checklist items before moving on."),
    "first_stage": _l("The case is at its first stage."),
    "not_last_stage": _l("A case lands only from its last stage."),
    "land_checklist": _l("Every checklist item must be ticked before the case lands."),
    "reason": _l("Say why the case is dropped."),
}

# What each transition writes on the timeline.
_EVENTS = {
    states.ADVANCE: "advanced",
    states.BACK: "moved_back",
    states.LAND: "landed",
    states.DROP: "dropped",
    states.REOPEN: "reopened",
}


class CaseError(Exception):
    """A refused change, with a message for the person who tried; nothing was changed."""

    def __init__(self, message, field: str | None = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


class StaleCase(CaseError):
    """Someone else changed the case since the form was loaded."""

    def __init__(self, by: str):
        super().__init__(
            _l(
                "%(who)s changed this case in the meantime. Your entries are kept: check "
                "the case's new state, then submit again.",
                who=by,
            ),
            code="stale",
        )
        self.by = by


def transition_message(exc: states.CaseTransitionError) -> str:
    return str(_MESSAGES.get(exc.code, exc.message))


# -- helpers ------------------------------------------------------------------------------


def last_actor(case: AssistanceCase) -> str:
    """Who last changed ``case``: named to someone whose change was refused as stale."""
    row = db.session.execute(
        select(User.display_name)
        .join(CaseEvent, CaseEvent.actor_id == User.id)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()
    return row[0] if row else "?"


def require_edit(case: AssistanceCase, actor: User, expected_version: int | None) -> None:
    if not can_edit_case(actor, case):
        raise CaseError(_l("Only the office or the case's street may change it."), code="scope")
    if expected_version is not None and expected_version != case.version:
        raise StaleCase(last_actor(case))


def flush_or_stale(case: AssistanceCase) -> None:
    """Flush, turning a concurrent update of the same case into ``StaleCase``."""
    case_id = case.id
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise StaleCase(last_actor(db.session.get(AssistanceCase, case_id))) from exc


def _event(case, action: str, actor: User, *, from_stage=None, to_stage=None, note: str = ""):
    db.session.add(
        CaseEvent(
            case=case,
            action=action,
            actor_id=actor.id,
            from_stage_id=from_stage.id if from_stage is not None else None,
            to_stage_id=to_stage.id if to_stage is not None else None,
            note=note,
        )
    )
    # Every event writes the case's row, so its version counts each change.
    case.updated_at = utcnow()


def required_text(value: str | None, field: str, label, max_len: int) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseError(_l("%(what)s is required.", what=label), field)
    if len(value) > max_len:
        raise CaseError(_l("At most %(n)s characters.", n=max_len), field)
    return value


def amount_value(value, field: str, *, positive: bool = False) -> Decimal | None:
    if value is None or value == "":
        return None
    value = Decimal(str(value))
    if positive and value <= 0:
        raise CaseError(_l("Enter an amount above zero."), field)
    if value < 0:
        raise CaseError(_l("Enter zero or more."), field)
    if value >= Decimal("1e12"):
        raise CaseError(_l("This amount is too large."), field)
    return value


def _jobs(value) -> int | None:
    if value is None or value == "":
        return None
    if int(value) < 0:
        raise CaseError(_l("Enter zero or more."), "expected_jobs")
    if int(value) > 10_000_000:
        raise CaseError(_l("This number is too large."), "expected_jobs")
    return int(value)


def _check_owner(owner: User | None, street_id: int) -> User:
    if (
        owner is None
        or not owner.active
        or owner.role not in OWNER_ROLES
        or owner.street_id != street_id
    ):
        raise CaseError(
            _l("The owner must be a commissioner or the service centre of the case's street."),
            "owner_id",
        )
    return owner


def _check_route(case_type: CaseType, route: str | None, firm: Firm | None) -> str | None:
    route = route or None
    if route is None:
        return None
    if case_type.kind != TALENT:
        raise CaseError(_l("Only a talent settlement case has a route."), "talent_route")
    if route not in TALENT_ROUTES:
        raise CaseError(_l("Choose a route from the list."), "talent_route")
    if route == "high_tech" and firm is not None and not firm.high_tech:
        raise CaseError(
            _l("Only a high-tech enterprise settles its people without a quota."),
            "talent_route",
        )
    return route


def _check_departments(departments) -> list[Department]:
    departments = list(dict.fromkeys(departments))
    if any(not d.active for d in departments):
        raise CaseError(_l("Choose departments from the list."), "department_ids")
    return departments


def applicable(case: AssistanceCase, item: CaseChecklistItem) -> bool:
    """Does ``item`` count for ``case``? Route items count once their route is chosen."""
    return item.route is None or item.route == case.talent_route


def facts(case: AssistanceCase) -> states.CaseFacts:
    """What the state machine needs to know about ``case`` (its type's stages loaded)."""
    stage_ids = [s.id for s in case.case_type.stages]
    position = stage_ids.index(case.stage_id) if case.stage_id in stage_ids else 0
    items = [i for i in case.checklist if applicable(case, i) and not i.done]
    return states.CaseFacts(
        state=case.state,
        stage_position=position,
        last_position=len(stage_ids) - 1,
        open_stage_items=sum(1 for i in items if i.stage_id == case.stage_id),
        open_items=len(items),
        route_missing=case.case_type.kind == TALENT and not case.talent_route,
    )


# -- opening ------------------------------------------------------------------------------


def open_case(
    *,
    case_type: CaseType,
    actor: User,
    title: str,
    owner: User,
    firm: Firm | None = None,
    prospect: Prospect | None = None,
    expected_investment=None,
    registered_capital=None,
    expected_jobs=None,
    talent_route: str | None = None,
    departments=(),
    opened_on: date | None = None,
) -> AssistanceCase:
    """Open a case of ``case_type`` for ``firm`` or for ``prospect`` (not yet registered)
    at the type's first stage, with the type's checklist copied into it."""
    if (firm is None) == (prospect is None):
        raise CaseError(_l("A case is for one firm or one prospect."), "client")
    if prospect is not None:
        if prospect.state == "dropped":
            raise CaseError(_l("This prospect was dropped."), "client")
        firm = prospect.firm  # registered: the case is the firm's too
    if firm is not None and firm.status == "moved_out":
        raise CaseError(_l("This firm has moved out of the district."), "client")
    street_id = firm.street_id if firm is not None else prospect.street_id
    if not can_open_case_in(actor, street_id):
        raise CaseError(_l("You may open cases only in your street."), "client", code="scope")
    if not case_type.active:
        raise CaseError(_l("This case type is no longer in use."), "case_type_id")
    if not case_type.stages:
        raise CaseError(_l("This case type has no stages yet."), "case_type_id")
    first = case_type.stages[0]
    case = AssistanceCase(
        number="new-" + secrets.token_hex(6),
        case_type=case_type,
        firm=firm,
        prospect=prospect,
        street_id=street_id,
        title=required_text(title, "title", _l("A title"), 120),
        stage=first,
        state=states.OPEN,
        owner=_check_owner(owner, street_id),
        expected_investment=amount_value(expected_investment, "expected_investment"),
        registered_capital=amount_value(registered_capital, "registered_capital"),
        expected_jobs=_jobs(expected_jobs),
        talent_route=_check_route(case_type, talent_route, firm),
        opened_on=opened_on or today(),
        created_by_id=actor.id,
        departments=_check_departments(departments),
    )
    for item in case_type.checklist:
        case.checklist.append(
            CaseChecklistItem(
                position=item.position, label=item.label, stage_id=item.stage_id, route=item.route
            )
        )
    db.session.add(case)
    db.session.flush()
    case.number = f"BB{case.opened_on:%Y%m%d}{case.id:06d}"
    _event(case, "opened", actor, to_stage=first)
    record(
        "case.open",
        case,
        user=actor,
        detail={"type": case_type.code, "firm_id": case.firm_id, "prospect_id": case.prospect_id},
    )
    return case


# -- moving through the stages ----------------------------------------------------------


def _transition(
    case: AssistanceCase,
    action: str,
    *,
    actor: User,
    expected_version: int | None,
    reason: str = "",
) -> None:
    require_edit(case, actor, expected_version)
    try:
        states.check(action, facts(case), role=actor.role, reason=reason)
    except states.CaseTransitionError as exc:
        field = "reason" if exc.code == "reason" else None
        raise CaseError(transition_message(exc), field, code=exc.code) from exc
    stages = case.case_type.stages
    index = [s.id for s in stages].index(case.stage_id)
    before = case.stage
    after = before
    if action == states.ADVANCE:
        after = stages[index + 1]
    elif action == states.BACK:
        after = stages[index - 1]
    elif action == states.LAND:
        case.state, case.landed_on = states.LANDED, today()
    elif action == states.DROP:
        reason = reason.strip()[:200]
        case.state, case.dropped_on, case.drop_reason = states.DROPPED, today(), reason
    elif action == states.REOPEN:
        case.state, case.dropped_on, case.drop_reason = states.OPEN, None, ""
    # The id as well as the relation: the next rule asked before a flush reads the id.
    case.stage, case.stage_id = after, after.id
    _event(case, _EVENTS[action], actor, from_stage=before, to_stage=after, note=reason.strip())
    record(f"case.{action}", case, user=actor, detail={"from": before.id, "to": after.id})


def advance_case(case, *, actor: User, expected_version: int | None = None) -> None:
    _transition(case, states.ADVANCE, actor=actor, expected_version=expected_version)


def move_case_back(case, *, actor: User, expected_version: int | None = None) -> None:
    _transition(case, states.BACK, actor=actor, expected_version=expected_version)


def land_case(case, *, actor: User, expected_version: int | None = None) -> None:
    _transition(case, states.LAND, actor=actor, expected_version=expected_version)


def drop_case(case, *, actor: User, reason: str, expected_version: int | None = None) -> None:
    _transition(
        case, states.DROP, actor=actor, expected_version=expected_version, reason=reason or ""
    )


def reopen_case(case, *, actor: User, expected_version: int | None = None) -> None:
    _transition(case, states.REOPEN, actor=actor, expected_version=expected_version)


# -- the checklist, notes and details ------------------------------------------------------


def tick_item(case: AssistanceCase, item: CaseChecklistItem, done: bool, actor: User) -> None:
    """Tick (or untick) one checklist item. Ticking is idempotent, so it needs no version:
    two people ticking the same box agree."""
    if item.case_id != case.id:
        raise CaseError(_l("This item is not on this case's checklist."), "item")
    require_edit(case, actor, None)
    if case.state != states.OPEN:
        raise CaseError(_l("The case is closed: its checklist no longer changes."), "item")
    if item.route is not None and case.talent_route is None:
        raise CaseError(_l("Choose the talent settlement route first."), "item")
    if not applicable(case, item):
        raise CaseError(_l("This material belongs to the other route."), "item")
    if item.done == done:
        return
    item.done = done
    item.done_at = utcnow() if done else None
    item.done_by_id = actor.id if done else None
    record("case.tick", case, user=actor, detail={"item": item.id, "done": done})


def add_note(case: AssistanceCase, *, actor: User, body: str) -> CaseNote:
    if not can_note_case(actor, case):
        raise CaseError(_l("You may not write on this case."), "body", code="scope")
    note = CaseNote(
        case=case, author_id=actor.id, body=required_text(body, "body", _l("A note"), 5000)
    )
    db.session.add(note)
    record("case.note", case, user=actor)
    return note


def set_departments(
    case: AssistanceCase, departments, *, actor: User, expected_version: int | None = None
) -> None:
    require_edit(case, actor, expected_version)
    chosen = _check_departments(departments)
    if {d.id for d in chosen} == {d.id for d in case.departments}:
        return
    case.departments = chosen
    names = "、".join(d.name for d in chosen)
    _event(case, "departments", actor, note=names)
    record("case.departments", case, user=actor, detail={"ids": [d.id for d in chosen]})


def update_details(
    case: AssistanceCase,
    *,
    actor: User,
    title: str,
    owner: User | None,
    expected_investment=None,
    registered_capital=None,
    expected_jobs=None,
    talent_route: str | None = None,
    expected_version: int | None = None,
) -> None:
    """Change the title, owner, expected value and (talent cases, while open) the route."""
    require_edit(case, actor, expected_version)
    route = _check_route(case.case_type, talent_route, case.firm)
    if route != case.talent_route and case.state != states.OPEN:
        raise CaseError(_l("The route of a closed case no longer changes."), "talent_route")
    case.title = required_text(title, "title", _l("A title"), 120)
    case.owner = _check_owner(owner, case.street_id)
    case.expected_investment = amount_value(expected_investment, "expected_investment")
    case.registered_capital = amount_value(registered_capital, "registered_capital")
    case.expected_jobs = _jobs(expected_jobs)
    case.talent_route = route
    if not db.session.is_modified(case):
        return
    _event(case, "edited", actor)
    record("case.edit", case, user=actor)
