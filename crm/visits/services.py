"""Logging visits (走访) with the demands they raised, editing them, and the cadences.

Functions check who may act, change the session, write the audit record and leave the
commit to the caller. Refusals raise ``VisitError`` naming the form field to blame.
"""

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.permissions import (
    COMMISSIONER,
    DEPARTMENT,
    LEADER,
    OFFICE,
    STAFF,
    STREET,
    can_edit_cadence,
    can_edit_visit,
    can_log_visit,
)
from crm.demands.models import URGENCIES, Demand, DemandCategory
from crm.demands.services import DemandError, submit_demand
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department
from crm.portal.models import ServiceRequest
from crm.portal.services import PortalError, complete_service
from crm.visits import cadence as rules
from crm.visits import queries
from crm.visits.models import (
    METHODS,
    PARTICIPANT_LEVELS,
    Visit,
    VisitCadence,
    VisitParticipant,
)
from crm.workcal.services import today

# A portal request of these kinds asks for someone to come (or to be received): a visit
# linked to it was asked for and is exempt from the courtesy limit.
ASKING_KINDS = ("onsite", "appointment")
MAX_SUMMARY = 5000
MAX_INTERVAL_DAYS = 3650
MAX_COURTESY_LIMIT = 30


class VisitError(Exception):
    """A refused action. ``field`` names the form field ("summary", or a row's field as
    ("participants", 2, "name")); ``code`` "courtesy" asks for an override reason."""

    def __init__(self, message: Any, field: Any = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Participant:
    """Someone else on the visit, as checked: a user of the system or a named person."""

    name: str
    unit: str = ""
    level: str = "other"
    department_id: int | None = None
    user_id: int | None = None


# -- cadences -----------------------------------------------------------------------------


def update_cadences(values: dict[str, rules.Cadence], *, actor: User) -> list[str]:
    """Set each tier's longest interval and courtesy limit; the tiers that changed."""
    if not can_edit_cadence(actor):
        raise VisitError(_l("Only the office sets the visit cadence."), code="role")
    changed = []
    for tier, new in values.items():
        row = db.session.get(VisitCadence, tier)
        if row is None:
            raise VisitError(_l("Unknown tier."), (tier, "tier"))
        if not 1 <= new.longest_interval_days <= MAX_INTERVAL_DAYS:
            raise VisitError(
                _l("Give a number of days from 1 to %(n)s.", n=MAX_INTERVAL_DAYS),
                (tier, "longest_interval_days"),
            )
        if not 1 <= new.courtesy_limit <= MAX_COURTESY_LIMIT:
            raise VisitError(
                _l("Give a number of visits from 1 to %(n)s.", n=MAX_COURTESY_LIMIT),
                (tier, "courtesy_limit"),
            )
        old = rules.Cadence(row.longest_interval_days, row.courtesy_limit)
        if old == new:
            continue
        row.longest_interval_days = new.longest_interval_days
        row.courtesy_limit = new.courtesy_limit
        row.updated_by_id = actor.id
        changed.append(tier)
        record(
            "visit_cadence.update",
            object_type="visit_cadences",
            user=actor,
            detail={
                "tier": tier,
                "from": [old.longest_interval_days, old.courtesy_limit],
                "to": [new.longest_interval_days, new.courtesy_limit],
            },
        )
    return changed


# -- checks -------------------------------------------------------------------------------


def _check_basics(visited_on: date | None, method: str, summary: str) -> str:
    if visited_on is None:
        raise VisitError(_l("Give the date of the visit."), "visited_on")
    if visited_on > today():
        raise VisitError(_l("A visit cannot be recorded before it happens."), "visited_on")
    if method not in METHODS:
        raise VisitError(_l("Choose how the visit was made."), "method")
    summary = (summary or "").strip()
    if not summary:
        raise VisitError(_l("Write what was discussed."), "summary")
    if len(summary) > MAX_SUMMARY:
        raise VisitError(_l("The summary is too long."), "summary")
    return summary


def _level_of(user: User) -> str:
    if user.role == DEPARTMENT:
        return "department"
    if user.role in (STREET, COMMISSIONER):
        return "street"
    if user.role in (OFFICE, LEADER):
        return "district"
    return "other"


def _unit_of(user: User) -> str:
    if user.department is not None:
        return user.department.name
    if user.street is not None:
        return user.street.name
    return ""


def check_participants(rows: list[dict]) -> list[Participant]:
    """Each row is ``{"user_id": ...}`` or ``{"name", "unit", "level", "department_id"}``;
    rows with neither a user nor a name are left out."""
    checked: list[Participant] = []
    seen_users: set[int] = set()
    for i, row in enumerate(rows):
        user_id = row.get("user_id")
        name = (row.get("name") or "").strip()
        if user_id:
            user = db.session.get(User, user_id)
            if user is None or not user.active or user.role not in STAFF:
                raise VisitError(_l("Choose a member of staff."), ("participants", i, "user_id"))
            if user.id in seen_users:
                continue
            seen_users.add(user.id)
            checked.append(
                Participant(
                    name=user.display_name[:64],
                    unit=_unit_of(user)[:64],
                    level=_level_of(user),
                    department_id=user.department_id,
                    user_id=user.id,
                )
            )
            continue
        if not name:
            continue
        level = row.get("level") or "other"
        if level not in PARTICIPANT_LEVELS:
            raise VisitError(_l("Choose a level."), ("participants", i, "level"))
        department_id = row.get("department_id") or None
        if department_id is not None and db.session.get(Department, department_id) is None:
            raise VisitError(_l("Choose a department."), ("participants", i, "department_id"))
        if len(name) > 64:
            raise VisitError(_l("The name is too long."), ("participants", i, "name"))
        unit = (row.get("unit") or "").strip()
        if len(unit) > 64:
            raise VisitError(_l("The unit is too long."), ("participants", i, "unit"))
        if department_id is not None:
            level = "department"
        checked.append(Participant(name, unit, level, department_id))
    return checked


def is_joint(participants: list[Participant], street_id: int) -> bool:
    """组团式联合走访: someone came from another level or a department (not just the street's
    own people)."""
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_([p.user_id for p in participants if p.user_id]))
        )
    }
    for p in participants:
        if p.level != "street" or p.department_id is not None:
            return True
        user = users.get(p.user_id) if p.user_id else None
        if user is not None and user.street_id != street_id:
            return True
    return False


def _linked_request(firm: Firm, service_request: ServiceRequest | None) -> ServiceRequest | None:
    if service_request is None:
        return None
    if service_request.firm_id != firm.id:
        raise VisitError(_l("This request is not the firm's."), "service_request_id")
    if service_request.kind not in ASKING_KINDS or service_request.state == "cancelled":
        raise VisitError(
            _l("Only a visit or appointment the firm asked for, not cancelled, can be linked."),
            "service_request_id",
        )
    return service_request


def _check_courtesy(firm: Firm, on: date, override: str, *, excluding: int | None = None) -> str:
    override = (override or "").strip()
    if len(override) > 200:
        raise VisitError(_l("Keep the reason under 200 characters."), "courtesy_override")
    if not queries.courtesy_warning(firm, on, excluding=excluding):
        return ""  # nothing to excuse
    if override:
        return override
    limit = queries.cadence_for(firm.tier).courtesy_limit
    raise VisitError(
        _l(
            "This would be more than %(n)s unrequested visits to the firm within 30 days "
            "(有呼必应、无事不扰). Record it anyway only with a reason.",
            n=limit,
        ),
        "courtesy_override",
        code="courtesy",
    )


def _commissioner_for(firm: Firm, actor: User) -> User:
    """Who made the visit: the recording commissioner, else the firm's primary one."""
    if actor.role == COMMISSIONER:
        return actor
    return firm.primary_commissioner or actor


def _add_participants(visit: Visit, participants: list[Participant]) -> None:
    for p in participants:
        visit.participants.append(
            VisitParticipant(
                user_id=p.user_id,
                department_id=p.department_id,
                name=p.name,
                unit=p.unit,
                level=p.level,
            )
        )


def _demand_field(field: str | None) -> str:
    return {"category": "category_id", "firm": "title"}.get(field or "", field or "title")


def _raise_demands(visit: Visit, firm: Firm, rows: list[dict], actor: User) -> list[Demand]:
    demands = []
    for i, row in enumerate(rows):
        title = (row.get("title") or "").strip()
        description = (row.get("description") or "").strip()
        category_id = row.get("category_id")
        if not (title or description or category_id):
            continue  # an empty row
        category = db.session.get(DemandCategory, category_id) if category_id else None
        if category is None:
            raise VisitError(_l("Choose a category."), ("demands", i, "category_id"))
        urgency = row.get("urgency") or "normal"
        if urgency not in URGENCIES:
            raise VisitError(_l("Choose an urgency."), ("demands", i, "urgency"))
        try:
            demand, _created = submit_demand(
                firm=firm,
                category=category,
                title=title[:120],
                description=description,
                urgency=urgency,
                channel="visit",
                actor=actor,
            )
        except DemandError as exc:
            raise VisitError(exc.message, ("demands", i, _demand_field(exc.field))) from exc
        demand.visit_id = visit.id
        demands.append(demand)
    return demands


# -- visits -------------------------------------------------------------------------------


def log_visit(
    firm: Firm,
    *,
    actor: User,
    visited_on: date | None,
    method: str,
    summary: str,
    participants: list[dict] | None = None,
    demands: list[dict] | None = None,
    service_request: ServiceRequest | None = None,
    courtesy_override: str = "",
    submission_key: str | None = None,
) -> Visit:
    """Record a visit and create the demands it raised (channel "visit") with it.

    A repeated ``submission_key`` from the same person returns the visit it already made,
    even when both sends arrive at once: one visit, one set of demands.

    A visit linked to the firm's own request for a visit or an appointment was asked for:
    the courtesy limit does not apply, and an open request is completed with the summary.
    Otherwise more visits than the tier's courtesy limit within 30 days are refused unless
    ``courtesy_override`` gives the reason.
    """
    if submission_key and (earlier := _submitted(actor, submission_key)) is not None:
        return earlier
    if not can_log_visit(actor, firm):
        raise VisitError(_l("You may record visits only to the firms of your street."), code="role")
    if firm.status == "moved_out":
        raise VisitError(_l("This firm has moved out of the district."))
    summary = _check_basics(visited_on, method, summary)
    checked = check_participants(participants or [])
    request = _linked_request(firm, service_request)
    override = "" if request else _check_courtesy(firm, visited_on, courtesy_override)
    visit = Visit(
        firm=firm,
        street_id=firm.street_id,
        commissioner=_commissioner_for(firm, actor),
        visited_on=visited_on,
        method=method,
        summary=summary,
        joint=is_joint(checked, firm.street_id),
        requested_by_firm=request is not None,
        service_request_id=request.id if request else None,
        courtesy_override=override,
        created_by_id=actor.id,
        submission_key=submission_key,
    )
    _add_participants(visit, checked)
    db.session.add(visit)
    try:
        db.session.flush()
    except IntegrityError:
        # The other send passed the lookup above at the same moment and the unique key
        # stopped this one. The visit is the request's first write: rolling back loses
        # nothing of the caller's.
        db.session.rollback()
        earlier = submission_key and _submitted(actor, submission_key)
        if not earlier:
            raise
        return earlier
    raised = _raise_demands(visit, firm, demands or [], actor)
    if request is not None and request.is_open:
        try:
            complete_service(request, actor=actor, outcome=summary)
        except PortalError as exc:
            raise VisitError(exc.message, "service_request_id") from exc
    record(
        "visit.create",
        visit,
        user=actor,
        detail={
            "firm_id": firm.id,
            "visited_on": visited_on.isoformat(),
            "joint": visit.joint,
            "demand_ids": [d.id for d in raised],
            "service_request_id": visit.service_request_id,
            "courtesy_override": override,
        },
    )
    return visit


def _submitted(actor: User, submission_key: str) -> Visit | None:
    return db.session.scalar(
        select(Visit).where(Visit.created_by_id == actor.id, Visit.submission_key == submission_key)
    )


def fingerprint(visit: Visit) -> str:
    """What an edit form was loaded from: a save over someone else's change is refused."""
    parts = [visit.visited_on.isoformat(), visit.method, visit.summary]
    parts += [
        f"{p.user_id}|{p.name}|{p.unit}|{p.level}|{p.department_id}" for p in visit.participants
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def update_visit(
    visit: Visit,
    *,
    actor: User,
    visited_on: date | None,
    method: str,
    summary: str,
    participants: list[dict] | None = None,
    courtesy_override: str = "",
    loaded: str | None = None,
) -> None:
    """Correct a visit's date, method, summary and participants (not its demands)."""
    if not can_edit_visit(actor, visit):
        raise VisitError(_l("You may not edit this visit."), code="role")
    if loaded is not None and loaded != fingerprint(visit):
        raise VisitError(_l("Someone else changed this visit: look again."), code="stale")
    summary = _check_basics(visited_on, method, summary)
    checked = check_participants(participants or [])
    before = {
        "visited_on": visit.visited_on.isoformat(),
        "method": visit.method,
        "participants": len(visit.participants),
    }
    if not visit.requested_by_firm and visited_on != visit.visited_on:
        override = _check_courtesy(
            visit.firm, visited_on, courtesy_override or visit.courtesy_override, excluding=visit.id
        )
        visit.courtesy_override = override
    visit.visited_on = visited_on
    visit.method = method
    visit.summary = summary
    visit.participants.clear()
    db.session.flush()
    _add_participants(visit, checked)
    visit.joint = is_joint(checked, visit.street_id)
    record(
        "visit.update",
        visit,
        user=actor,
        detail={
            "from": before,
            "to": {
                "visited_on": visited_on.isoformat(),
                "method": method,
                "participants": len(checked),
            },
        },
    )
