"""The demand loop (DESIGN §8): every action checks the state machine and the actor's
unit, changes the session, writes a timeline event and the notifications, and leaves the
commit to the caller. Pages and the API call these same functions."""

import secrets
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import force_locale, to_user_timezone
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.permissions import can_dispatch, can_view_demand, is_task_member
from crm.demands import notify, states
from crm.demands.labels import TASK_ROLES
from crm.demands.models import (
    Demand,
    DemandCategory,
    DemandEvent,
    DemandTask,
    ExtensionRequest,
)
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow
from crm.workcal.services import current_calendar, today

MAX_EXTENSION_DAYS = 30
UNRATED_CLOSE_DAYS = 5  # working days a firm has to rate a resolution

_MESSAGES = {
    "unknown_action": _l("Unknown action."),
    "role": _l("Your role may not take this action."),
    "state": _l("This action is not possible in the demand's current state."),
}


class DemandError(Exception):
    """A refused action, with a message for the person who tried; nothing was changed."""

    def __init__(self, message, field: str | None = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


class StaleDemand(DemandError):
    """Someone else changed the demand since the form was loaded."""

    def __init__(self, demand: Demand, by: str):
        super().__init__(
            _l(
                "%(who)s changed this demand in the meantime. Your entries are kept: check "
                "the demand's new state, then submit again.",
                who=by,
            ),
            code="stale",
        )
        self.demand = demand
        self.by = by


def stored_text(message) -> str:
    """Text kept in the database (notifications) is written in the office's language."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return str(message)


# -- helpers ------------------------------------------------------------------------------


def _check(action: str, demand: Demand, actor: User, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != demand.version:
        raise StaleDemand(demand, last_actor(demand))
    try:
        states.check(action, demand.state, actor.role)
    except states.TransitionError as exc:
        raise DemandError(_MESSAGES.get(exc.code, exc.message), code=exc.code) from exc


def last_actor(demand: Demand) -> str:
    """Who last acted on ``demand``: named to someone whose action was refused as stale."""
    row = db.session.execute(
        select(User.display_name)
        .join(DemandEvent, DemandEvent.actor_id == User.id)
        .where(DemandEvent.demand_id == demand.id)
        .order_by(DemandEvent.id.desc())
        .limit(1)
    ).first()
    return row[0] if row else "?"


def _event(
    demand: Demand,
    kind: str,
    *,
    actor: User | None,
    message: str = "",
    internal: bool = False,
    task: DemandTask | None = None,
    to_state: str | None = None,
    data: dict | None = None,
) -> DemandEvent:
    event = DemandEvent(
        demand=demand,
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        message=message,
        internal=internal,
        task_id=task.id if task is not None else None,
        from_state=demand.state if to_state else None,
        to_state=to_state,
        data=data or {},
    )
    if to_state:
        demand.state = to_state
    # Every event writes the demand's row, so its version counts every change: two people
    # acting at once collide even when neither moves the demand (notes, task actions).
    demand.updated_at = utcnow()
    db.session.add(event)
    return event


def _require_text(value: str, field: str, label) -> str:
    value = (value or "").strip()
    if not value:
        raise DemandError(_l("%(what)s is required.", what=label), field)
    return value


def flush_or_stale(demand: Demand) -> None:
    """Flush, turning a concurrent update of the same demand into ``StaleDemand``."""
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        fresh = db.session.get(Demand, demand.id)
        raise StaleDemand(fresh, last_actor(fresh)) from exc


# -- intake -------------------------------------------------------------------------------


def submit_demand(
    *,
    firm: Firm,
    category: DemandCategory,
    title: str,
    description: str,
    urgency: str,
    channel: str,
    actor: User,
    submission_key: str | None = None,
) -> tuple[Demand, bool]:
    """Record a new demand; ``(demand, created)``.

    A repeated ``submission_key`` from the same person returns the demand it already made:
    a double-clicked form or a retried API call creates one demand, even when both arrive
    at once.
    """
    if submission_key:
        existing = db.session.scalar(
            select(Demand).where(
                Demand.submitted_by_id == actor.id, Demand.submission_key == submission_key
            )
        )
        if existing is not None:
            return existing, False
    if not _may_take_in(firm, actor):
        raise DemandError(
            _l("Only the firm itself, its street or the office may record its demands."),
            "firm",
            code="role",
        )
    if firm.status == "moved_out":
        raise DemandError(_l("This firm has moved out of the district."), "firm")
    if not category.active:
        raise DemandError(_l("This category is no longer in use."), "category")
    cal = current_calendar()
    demand = Demand(
        number="new-" + secrets.token_hex(8),
        firm=firm,
        street_id=firm.street_id,
        category=category,
        title=_require_text(title, "title", _l("A title")),
        description=_require_text(description, "description", _l("A description")),
        urgency=urgency,
        channel=channel,
        # 首问负责: staff who take a demand in own it; a firm's own submission is owned by
        # the first staff member who accepts it.
        owner_id=actor.id if actor.role in states.STAFF else None,
        submitted_by_id=actor.id,
        submission_key=submission_key,
        accept_due_on=cal.add_working_days(today(), category.accept_days).day,
    )
    db.session.add(demand)
    try:
        db.session.flush()
    except IntegrityError:
        # Both sends passed the lookup above at once and the unique key stopped this one:
        # answer with the demand the other made. Intake is its request's first write, so
        # rolling back loses nothing of the caller's.
        db.session.rollback()
        existing = submission_key and db.session.scalar(
            select(Demand).where(
                Demand.submitted_by_id == actor.id, Demand.submission_key == submission_key
            )
        )
        if not existing:
            raise
        return existing, False
    demand.number = f"SQ{today():%Y%m%d}{demand.id:06d}"
    created = _event(
        demand, "submitted", actor=actor, to_state=states.SUBMITTED, data={"channel": channel}
    )
    created.from_state = None  # it came into being; no "submitted -> submitted" for reports
    record("demand.create", demand, user=actor, detail={"firm_id": firm.id, "channel": channel})
    notify.notify(
        (u for u in notify.dispatchers_for(demand) if u.id != actor.id),
        "submitted",
        demand,
        stored_text(
            _l(
                "New demand %(number)s from %(firm)s: %(title)s",
                number=demand.number,
                firm=firm.name,
                title=demand.title,
            )
        ),
    )
    return demand, True


def _may_take_in(firm: Firm, actor: User) -> bool:
    """A firm for itself; the office for any firm; a street's staff for its own firms."""
    if actor.role == states.FIRM:
        return actor.firm_id == firm.id
    if actor.role == states.OFFICE:
        return True
    return actor.role in (states.STREET, states.COMMISSIONER) and actor.street_id == firm.street_id


def accept_demand(
    demand: Demand, *, actor: User, note: str = "", expected_version: int | None = None
) -> None:
    _check("accept", demand, actor, expected_version)
    _require_dispatcher(demand, actor)
    demand.accepted_at = utcnow()
    if demand.owner_id is None:
        demand.owner_id = actor.id
    _event(demand, "accepted", actor=actor, message=note.strip(), to_state=states.ACCEPTED)
    _tell_firm(demand, _l("Your demand %(number)s has been accepted.", number=demand.number))


def reject_demand(
    demand: Demand, *, actor: User, reason: str, expected_version: int | None = None
) -> None:
    _check("reject", demand, actor, expected_version)
    _require_dispatcher(demand, actor)
    demand.reject_reason = _require_text(reason, "reason", _l("A reason"))[:200]
    _event(demand, "rejected", actor=actor, message=demand.reject_reason, to_state=states.REJECTED)
    _tell_firm(
        demand,
        _l(
            "Your demand %(number)s was not accepted: %(reason)s",
            number=demand.number,
            reason=demand.reject_reason,
        ),
    )


def merge_demand(
    demand: Demand,
    into: Demand | None,
    *,
    actor: User,
    reason: str = "",
    expected_version: int | None = None,
) -> None:
    """Close ``demand`` as a duplicate of ``into``, which goes on in its place."""
    _check("merge", demand, actor, expected_version)
    _require_dispatcher(demand, actor)
    if into is None or into.id == demand.id:
        raise DemandError(_l("Choose the demand this one repeats."), "into")
    if into.firm_id != demand.firm_id:
        raise DemandError(_l("A demand can only be merged into one of the same firm."), "into")
    if into.state in (states.REJECTED, states.WITHDRAWN):
        raise DemandError(_l("That demand was itself withdrawn or not accepted."), "into")
    demand.merged_into_id = into.id
    demand.reject_reason = (
        reason.strip() or stored_text(_l("Duplicate of %(number)s", number=into.number))
    )[:200]
    _event(
        demand,
        "merged",
        actor=actor,
        message=demand.reject_reason,
        to_state=states.REJECTED,
        data={"into": into.id, "into_number": into.number},
    )
    _event(into, "duplicate_merged", actor=actor, message=demand.number, data={"from": demand.id})
    _tell_firm(
        demand,
        _l(
            "Your demand %(number)s repeats %(other)s and is followed there.",
            number=demand.number,
            other=into.number,
        ),
    )


def withdraw_demand(
    demand: Demand, *, actor: User, reason: str = "", expected_version: int | None = None
) -> None:
    _check("withdraw", demand, actor, expected_version)
    if actor.firm_id != demand.firm_id:
        raise DemandError(_l("Only the firm that raised a demand may withdraw it."))
    demand.withdrawn_at = utcnow()
    _event(demand, "withdrawn", actor=actor, message=reason.strip(), to_state=states.WITHDRAWN)


def _require_dispatcher(demand: Demand, actor: User) -> None:
    if not can_dispatch(actor, demand):
        raise DemandError(_l("Only the office or the firm's street may do this."), code="role")


def _tell_firm(demand: Demand, message) -> None:
    notify.notify(notify.firm_users(demand), "firm_update", demand, stored_text(message))


# -- dispatch -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A department or a street: who a task is dispatched to."""

    department: Department | None = None
    street: Street | None = None

    @property
    def key(self) -> tuple[str, int]:
        return ("department", self.department.id) if self.department else ("street", self.street.id)

    @property
    def name(self) -> str:
        return (self.department or self.street).name


def time_limit_days(category: DemandCategory, level: int) -> int:
    return category.level3_days if level == 3 else category.resolve_days


def dispatch_demand(
    demand: Demand,
    *,
    actor: User,
    level: int,
    lead: Unit,
    co_units: list[Unit] = (),
    note: str = "",
    expected_version: int | None = None,
) -> list[DemandTask]:
    """Send ``demand`` to a lead unit and co-handling units, each with a task and deadline.

    Levels (三级联动): 1 and 2 are handled by the firm's street; 3 by district units, a
    lead and co-handlers (难事部门联合办). A re-dispatch cancels the open tasks first.
    """
    _check("dispatch", demand, actor, expected_version)
    _require_dispatcher(demand, actor)
    if level not in (1, 2, 3):
        raise DemandError(_l("Choose level 1, 2 or 3."), "level")
    if level in (1, 2):
        if lead.street is None or lead.street.id != demand.street_id:
            raise DemandError(
                _l("Level 1 and 2 demands are handled by the firm's own street."), "lead"
            )
        if co_units:
            raise DemandError(_l("Only level 3 demands have co-handling units."), "co_units")
    keys = [u.key for u in co_units]
    if lead.key in keys:
        raise DemandError(_l("The lead unit cannot also be a co-handling unit."), "co_units")
    if len(set(keys)) != len(keys):
        raise DemandError(_l("A co-handling unit is listed twice."), "co_units")
    for task in demand.open_tasks:
        task.state = "cancelled"
    due = current_calendar().add_working_days(today(), time_limit_days(demand.category, level))
    now = utcnow()
    tasks = []
    for role, unit in [("lead", lead)] + [("co", u) for u in co_units]:
        task = DemandTask(
            demand=demand,
            role=role,
            department=unit.department,
            street=unit.street,
            dispatched_at=now,
            dispatched_by_id=actor.id,
            due_on=due.day,
            due_verified=due.verified,
        )
        db.session.add(task)
        tasks.append(task)
    demand.level = level
    demand.due_on = due.day
    demand.due_verified = due.verified
    demand.dispatched_at = now
    demand.paused_at = None
    db.session.flush()
    _event(
        demand,
        "dispatched",
        actor=actor,
        message=note.strip(),
        to_state=states.DISPATCHED,
        data={
            "level": level,
            "lead": lead.name,
            "co": [u.name for u in co_units],
            "due_on": due.day.isoformat(),
            "due_verified": due.verified,
        },
    )
    for task in tasks:
        notify.notify(
            notify.unit_users(task),
            "dispatched",
            demand,
            stored_text(
                _l(
                    "Demand %(number)s was dispatched to you (%(role)s), due %(due)s.",
                    number=demand.number,
                    role=TASK_ROLES[task.role],
                    due=task.due_on.isoformat(),
                )
            ),
        )
    return tasks


# -- handling -----------------------------------------------------------------------------


def _check_task(
    action: str,
    task: DemandTask,
    actor: User,
    expected_version: int | None,
    open_states=("pending", "accepted"),
) -> Demand:
    demand = task.demand
    _check(action, demand, actor, expected_version)
    if not is_task_member(actor, task):
        raise DemandError(_l("This task was dispatched to another unit."), code="role")
    if task.state not in open_states:
        raise DemandError(_l("This task is no longer open."), code="state")
    return demand


def accept_task(task: DemandTask, *, actor: User, expected_version: int | None = None) -> None:
    demand = _check_task("accept_task", task, actor, expected_version, ("pending",))
    task.state = "accepted"
    task.accepted_at = utcnow()
    task.accepted_by_id = actor.id
    task.handler_id = actor.id
    target = states.after_task_accepted(demand.state)
    _event(
        demand,
        "task_accepted",
        actor=actor,
        task=task,
        to_state=target if target != demand.state else None,
        data={"unit": task.unit_name, "role": task.role},
    )


def return_task(
    task: DemandTask, *, actor: User, reason: str, expected_version: int | None = None
) -> None:
    """Send a wrong dispatch back; a returned lead task puts the demand back for dispatch."""
    demand = _check_task("return_task", task, actor, expected_version)
    task.return_reason = _require_text(reason, "reason", _l("A reason"))[:200]
    task.state = "returned"
    task.returned_at = utcnow()
    target = states.after_task_returned(demand.state, lead=task.role == "lead")
    _event(
        demand,
        "task_returned",
        actor=actor,
        task=task,
        message=task.return_reason,
        to_state=target if target != demand.state else None,
        data={"unit": task.unit_name, "role": task.role},
    )
    notify.notify(
        notify.dispatchers_for(demand),
        "task_returned",
        demand,
        stored_text(
            _l(
                "%(unit)s returned demand %(number)s: %(reason)s",
                unit=task.unit_name,
                number=demand.number,
                reason=task.return_reason,
            )
        ),
    )


def add_progress(
    task: DemandTask,
    *,
    actor: User,
    message: str,
    internal: bool = False,
    expected_version: int | None = None,
) -> DemandEvent:
    demand = _check_task("progress", task, actor, expected_version)
    text = _require_text(message, "message", _l("A progress note"))
    return _event(demand, "progress", actor=actor, task=task, message=text, internal=internal)


def request_extension(
    task: DemandTask,
    *,
    actor: User,
    days: int,
    reason: str,
    expected_version: int | None = None,
) -> ExtensionRequest:
    """Ask for more time, before the deadline, with a reason; the office decides."""
    demand = _check_task("request_extension", task, actor, expected_version, ("accepted",))
    if today() > task.due_on:
        raise DemandError(_l("An extension must be asked for before the deadline."), "days")
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        raise DemandError(_l("Ask for 1 to %(n)s working days.", n=MAX_EXTENSION_DAYS), "days")
    if any(r.state == "pending" for r in task.extensions):
        raise DemandError(_l("An extension request for this task is already waiting."), "days")
    req = ExtensionRequest(
        task=task,
        requested_by_id=actor.id,
        days=int(days),
        reason=_require_text(reason, "reason", _l("A reason"))[:200],
        old_due_on=task.due_on,
    )
    db.session.add(req)
    db.session.flush()
    _event(
        demand,
        "extension_requested",
        actor=actor,
        task=task,
        message=req.reason,
        data={"days": req.days, "request": req.id},
    )
    notify.notify(
        notify.dispatchers_for(demand),
        "extension_requested",
        demand,
        stored_text(
            _l(
                "%(unit)s asks %(days)s more working days for %(number)s.",
                unit=task.unit_name,
                days=req.days,
                number=demand.number,
            )
        ),
    )
    return req


def decide_extension(
    req: ExtensionRequest,
    *,
    actor: User,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
) -> None:
    task = req.task
    demand = task.demand
    _check("decide_extension", demand, actor, expected_version)
    if req.state != "pending":
        raise DemandError(_l("This request was already decided."), code="state")
    if approve and task.state not in ("pending", "accepted"):
        # Returned, resolved or cancelled by a re-dispatch: moving its deadline would move
        # the demand's away from the task that now leads.
        raise DemandError(
            _l("This task is no longer open: the request can only be declined."), code="state"
        )
    req.state = "approved" if approve else "declined"
    req.decided_by_id = actor.id
    req.decided_at = utcnow()
    req.decision_note = note.strip()[:200]
    if approve:
        due = current_calendar().add_working_days(task.due_on, req.days)
        req.new_due_on = due.day
        task.due_on = due.day
        task.due_verified = task.due_verified and due.verified
        if task.role == "lead":
            demand.due_on = task.due_on
            demand.due_verified = task.due_verified
    _event(
        demand,
        "extension_approved" if approve else "extension_declined",
        actor=actor,
        task=task,
        message=req.decision_note,
        data={
            "days": req.days,
            "new_due_on": req.new_due_on.isoformat() if req.new_due_on else None,
        },
    )
    notify.notify(
        notify.unit_users(task),
        "extension_decided",
        demand,
        stored_text(
            _l(
                "Extension for %(number)s approved: now due %(due)s.",
                number=demand.number,
                due=task.due_on.isoformat(),
            )
            if approve
            else _l("Extension for %(number)s declined.", number=demand.number)
        ),
    )


def _may_pause(demand: Demand, actor: User) -> bool:
    # The open lead task: ``Demand.lead_task`` also finds the lead task of an earlier
    # dispatch that its unit returned or resolved, before a re-dispatch.
    lead = next((t for t in demand.open_tasks if t.role == "lead"), None)
    return actor.role == "office" or (lead is not None and is_task_member(actor, lead))


def pause_demand(
    demand: Demand, *, actor: User, reason: str, expected_version: int | None = None
) -> None:
    """Stop the clock while waiting on the firm."""
    _check("pause", demand, actor, expected_version)
    if not _may_pause(demand, actor):
        raise DemandError(_l("Only the office or the lead unit may pause a demand."), code="role")
    if demand.paused_at is not None:
        raise DemandError(_l("The demand is already paused."), code="state")
    reason = _require_text(reason, "reason", _l("A reason"))[:200]
    demand.paused_at = utcnow()
    demand.pause_reason = reason
    _event(demand, "paused", actor=actor, message=demand.pause_reason)


def resume_demand(demand: Demand, *, actor: User, expected_version: int | None = None) -> int:
    """Restart the clock; every open deadline moves by the working days spent paused."""
    _check("resume", demand, actor, expected_version)
    if not _may_pause(demand, actor):
        raise DemandError(_l("Only the office or the lead unit may resume a demand."), code="role")
    if demand.paused_at is None:
        raise DemandError(_l("The demand is not paused."), code="state")
    cal = current_calendar()
    paused_on = to_user_timezone(demand.paused_at).date()
    lost = max(cal.working_days_between(paused_on, today()), 0)
    if lost:
        # A deadline moved into a year the calendar does not know is unverified.
        for item in [*demand.open_tasks, demand]:
            if item.due_on is not None:
                due = cal.add_working_days(item.due_on, lost)
                item.due_on = due.day
                item.due_verified = item.due_verified and due.verified
    demand.paused_at = None
    # The new deadline is written down: reports rebuild deadlines from the timeline.
    due = demand.due_on.isoformat() if demand.due_on else None
    _event(demand, "resumed", actor=actor, data={"days_added": lost, "due_on": due})
    return lost


def resolve_task(
    task: DemandTask, *, actor: User, resolution: str, expected_version: int | None = None
) -> bool:
    """Resolve a task; True when this resolves the demand (the lead task, none open)."""
    demand = _check_task("resolve_task", task, actor, expected_version, ("accepted",))
    text = _require_text(resolution, "resolution", _l("A reply"))
    if task.role == "lead":
        open_co = [t for t in demand.open_tasks if t.role == "co"]
        if not states.can_resolve_demand("resolved", len(open_co)):
            raise DemandError(
                _l(
                    "Co-handling units are still working: %(units)s.",
                    units="、".join(t.unit_name for t in open_co),
                ),
                "resolution",
                code="state",
            )
    task.state = "resolved"
    task.resolved_at = utcnow()
    task.resolution = text
    if task.role != "lead":
        _event(
            demand,
            "task_resolved",
            actor=actor,
            task=task,
            message=text,
            data={"unit": task.unit_name, "role": task.role},
        )
        return False
    demand.resolved_at = task.resolved_at
    demand.reply = text
    demand.paused_at = None
    _event(
        demand,
        "resolved",
        actor=actor,
        task=task,
        message=text,
        to_state=states.RESOLVED,
        data={"unit": task.unit_name},
    )
    _tell_firm(
        demand,
        _l(
            "Your demand %(number)s has been answered. Please rate the answer.",
            number=demand.number,
        ),
    )
    return True


# -- the firm's answer --------------------------------------------------------------------


def rate_demand(
    demand: Demand,
    *,
    actor: User,
    rating: str,
    comment: str = "",
    expected_version: int | None = None,
    via_follow_up: bool = False,
) -> str:
    """Satisfied or basically satisfied closes the demand; not satisfied reopens it."""
    _check("rate", demand, actor, expected_version)
    _check_rating(demand, actor, rating, via_follow_up=via_follow_up)
    target = states.rating_target(rating)
    demand.rating = rating
    demand.rated_at = utcnow()
    if target == states.CLOSED:
        demand.closed_at = demand.rated_at
    else:
        demand.reopen_count += 1
        demand.resolved_at = None
        notify.notify(
            notify.dispatchers_for(demand),
            "reopened",
            demand,
            stored_text(
                _l(
                    "The firm is not satisfied with %(number)s: it is back for dispatch.",
                    number=demand.number,
                )
            ),
        )
    _event(
        demand,
        "rated",
        actor=actor,
        message=comment.strip(),
        to_state=target,
        data={"rating": rating, "via_follow_up": via_follow_up},
    )
    return target


def _check_rating(demand: Demand, actor: User, rating: str, *, via_follow_up: bool) -> None:
    if rating not in ("satisfied", "basically_satisfied", "not_satisfied"):
        raise DemandError(_l("Choose satisfied, basically satisfied or not satisfied."), "rating")
    if actor.role == "firm" and actor.firm_id != demand.firm_id:
        raise DemandError(_l("Only the firm that raised a demand may rate it."), code="role")
    if actor.role != "firm" and not via_follow_up:
        raise DemandError(_l("Staff record a firm's rating through a follow-up call."), code="role")
    if actor.role != "firm":
        _require_follow_up_staff(demand, actor)


def _require_follow_up_staff(demand: Demand, actor: User) -> None:
    """Follow-up calls are the office's, or the firm's street's (its centre, commissioners)."""
    if actor.role != states.OFFICE and actor.street_id != demand.street_id:
        raise DemandError(
            _l("Only the office or the firm's street may record a follow-up call."), code="role"
        )


def record_follow_up(
    demand: Demand,
    *,
    actor: User,
    message: str,
    rating: str | None = None,
    expected_version: int | None = None,
) -> None:
    """A follow-up call (回访); the rating the firm gave on the phone, if any, counts."""
    _check("follow_up", demand, actor, expected_version)
    _require_follow_up_staff(demand, actor)
    text = _require_text(message, "message", _l("What was said"))
    if rating:  # refused before anything is written
        _check("rate", demand, actor, None)
        _check_rating(demand, actor, rating, via_follow_up=True)
    _event(demand, "follow_up", actor=actor, message=text, data={"rating": rating})
    if rating:
        rate_demand(demand, actor=actor, rating=rating, via_follow_up=True)


def add_note(demand: Demand, *, actor: User, message: str, internal: bool = True) -> None:
    _check("note", demand, actor, None)
    if not can_view_demand(actor, demand):
        raise DemandError(_l("This demand is not one of yours."), code="role")
    _event(
        demand,
        "note",
        actor=actor,
        internal=internal,
        message=_require_text(message, "message", _l("A note")),
    )
    if not internal:
        _tell_firm(
            demand,
            _l("A message from the office on demand %(number)s.", number=demand.number),
        )


def post_message(
    demand: Demand, *, actor: User, message: str, expected_version: int | None = None
) -> DemandEvent:
    """The firm writes to whoever handles its demand: its owner, the units with open
    tasks, and the dispatchers while nobody has it yet. Returns the timeline event, which
    files sent with the message are attached to."""
    _check("message", demand, actor, expected_version)
    if actor.firm_id != demand.firm_id:
        raise DemandError(_l("This demand is not one of yours."), code="role")
    event = _event(
        demand, "message", actor=actor, message=_require_text(message, "message", _l("A message"))
    )
    readers: list[User] = [demand.owner] if demand.owner is not None else []
    for task in demand.open_tasks:
        readers.extend(notify.unit_users(task))
    if not readers:
        readers = notify.dispatchers_for(demand)
    notify.notify(
        readers,
        "message",
        demand,
        stored_text(
            _l(
                "%(firm)s wrote on demand %(number)s.",
                firm=demand.firm.name,
                number=demand.number,
            )
        ),
    )
    return event


def close_unrated(demand: Demand, *, cal=None, on: date | None = None) -> bool:
    """Close a resolved demand the firm left unrated for 5 working days (the sweep)."""
    if demand.state != states.RESOLVED or demand.resolved_at is None:
        return False
    cal = cal or current_calendar()
    resolved_on = to_user_timezone(demand.resolved_at).date()
    if cal.working_days_between(resolved_on, on or today()) < UNRATED_CLOSE_DAYS:
        return False
    demand.closed_at = utcnow()
    demand.closed_without_rating = True
    _event(demand, "closed_unrated", actor=None, to_state=states.CLOSED)
    return True
