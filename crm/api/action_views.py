"""``POST /demands/{id}/actions``: every action a person takes on a demand, one body per
action (``crm.api.action_schemas``), each calling the service its page calls
(``crm.demands.action_views``) with the same roles.

A ``task_id`` or ``request_id`` is looked for among this demand's own tasks only, so an
action never reaches another demand through them.
"""

from collections.abc import Callable

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm.api import action_schemas as a
from crm.api.auth import api_roles, refuse
from crm.api.demand_views import demand_answer, load_demand
from crm.api.errors import ApiError
from crm.api.openapi import operation
from crm.api.parsing import json_body
from crm.api.schemas import DemandOut
from crm.auth.models import User
from crm.auth.permissions import FIRM, demand_scope
from crm.demands import services, states
from crm.demands.models import Demand, DemandTask, ExtensionRequest
from crm.demands.services import StaleDemand
from crm.extensions import db
from crm.org.models import Department, Street

# Who may take each action: the state machine's roles, as the pages' decorators use them;
# staff record a firm's rating through a follow-up call, never as the firm (``rate``).
ROLES = {
    name: (FIRM,) if name == "rate" else states.ACTIONS[name].roles
    for name in states.ACTIONS
    if name != "close_unrated"  # the sweep's alone
}
ANY_ACTION = sorted({role for roles in ROLES.values() for role in roles})


def _task(demand: Demand, task_id: int) -> DemandTask:
    task = next((t for t in demand.tasks if t.id == task_id), None)
    if task is None:
        raise ApiError(422, fields={"task_id": _("Not one of this demand's tasks.")})
    return task


def _extension(demand: Demand, request_id: int) -> ExtensionRequest:
    found = next((r for t in demand.tasks for r in t.extensions if r.id == request_id), None)
    if found is None:
        raise ApiError(422, fields={"request_id": _("Not one of this demand's requests.")})
    return found


def _unit(unit: a.Unit, field: str) -> services.Unit:
    if isinstance(unit, a.DepartmentUnit):
        found = db.session.get(Department, unit.department_id)
    else:
        found = db.session.get(Street, unit.street_id)
    if found is None or not found.active:
        raise ApiError(422, fields={field: _("Choose a unit from the list.")})
    if isinstance(found, Department):
        return services.Unit(department=found)
    return services.Unit(street=found)


def _merge(demand: Demand, body: a.Merge, user: User) -> None:
    into = db.session.scalar(
        select(Demand).where(Demand.number == body.into.upper(), demand_scope(user))
    )
    services.merge_demand(
        demand, into, actor=user, reason=body.reason, expected_version=body.version
    )


def _dispatch(demand: Demand, body: a.Dispatch, user: User) -> None:
    services.dispatch_demand(
        demand,
        actor=user,
        level=body.level,
        lead=_unit(body.lead, "lead"),
        co_units=[_unit(u, "co_units") for u in body.co_units],
        note=body.note,
        expected_version=body.version,
    )


# name -> perform(demand, body, actor)
PERFORM: dict[str, Callable] = {
    "accept": lambda d, b, u: services.accept_demand(
        d, actor=u, note=b.note, expected_version=b.version
    ),
    "reject": lambda d, b, u: services.reject_demand(
        d, actor=u, reason=b.reason, expected_version=b.version
    ),
    "merge": _merge,
    "withdraw": lambda d, b, u: services.withdraw_demand(
        d, actor=u, reason=b.reason, expected_version=b.version
    ),
    "dispatch": _dispatch,
    "accept_task": lambda d, b, u: services.accept_task(
        _task(d, b.task_id), actor=u, expected_version=b.version
    ),
    "return_task": lambda d, b, u: services.return_task(
        _task(d, b.task_id), actor=u, reason=b.reason, expected_version=b.version
    ),
    "progress": lambda d, b, u: services.add_progress(
        _task(d, b.task_id),
        actor=u,
        message=b.message,
        internal=b.internal,
        expected_version=b.version,
    ),
    "request_extension": lambda d, b, u: services.request_extension(
        _task(d, b.task_id), actor=u, days=b.days, reason=b.reason, expected_version=b.version
    ),
    "resolve_task": lambda d, b, u: services.resolve_task(
        _task(d, b.task_id), actor=u, resolution=b.resolution, expected_version=b.version
    ),
    "decide_extension": lambda d, b, u: services.decide_extension(
        _extension(d, b.request_id),
        actor=u,
        approve=b.approve,
        note=b.note,
        expected_version=b.version,
    ),
    "pause": lambda d, b, u: services.pause_demand(
        d, actor=u, reason=b.reason, expected_version=b.version
    ),
    "resume": lambda d, b, u: services.resume_demand(d, actor=u, expected_version=b.version),
    "rate": lambda d, b, u: services.rate_demand(
        d, actor=u, rating=b.rating, comment=b.comment, expected_version=b.version
    ),
    "follow_up": lambda d, b, u: services.record_follow_up(
        d, actor=u, message=b.message, rating=b.rating, expected_version=b.version
    ),
    "note": lambda d, b, u: services.add_note(d, actor=u, message=b.message, internal=b.internal),
    "message": lambda d, b, u: services.post_message(
        d, actor=u, message=b.message, expected_version=b.version
    ),
}


@operation(
    "POST",
    "/demands/<int:demand_id>/actions",
    summary="Take an action on a demand: accept, dispatch, resolve_task, rate …",
    description="The body's action names what to do; its other fields are that action's. "
    "Answers the demand as it is afterwards. 409: not possible in the demand's state, or "
    "version is stale; 403: not for your role or unit.",
    tag="demands",
    body=a.ActionRequest,
    responses={200: DemandOut},
    errors=(409,),
)
@api_roles(*ANY_ACTION)
def demand_action(demand_id: int):
    demand = load_demand(demand_id)
    body = json_body(a.ActionRequest).root
    user = current_user._get_current_object()
    if user.role not in ROLES[body.action]:
        refuse("action role", _("Your role may not take this action."))
    # Also for the actions whose service takes no version (a note): the caller said which
    # state it acted on.
    if body.version is not None and body.version != demand.version:
        raise StaleDemand(demand, services.last_actor(demand))
    try:
        PERFORM[body.action](demand, body, user)
        services.flush_or_stale(demand)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(Demand, demand_id)
        raise StaleDemand(fresh, services.last_actor(fresh)) from None
    return demand_answer(demand_id)
