"""A demand's page: loading it for the current user, choosing the action forms that user
may fill in now, and rendering it — plainly, or again with a refused post in it.

Which actions show is asked of the state machine (``states.ACTIONS``) and the permission
checks; templates only render what this module hands them.
"""

from dataclasses import dataclass, field

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.models import User
from crm.auth.permissions import FIRM, can_dispatch, can_view_demand, deny, is_task_member
from crm.demands import attachments, forms, services, states
from crm.demands.models import Demand, DemandEvent, DemandTask, ExtensionRequest
from crm.demands.services import DemandError, StaleDemand
from crm.extensions import db
from crm.org.models import Department, Street
from crm.workcal.services import current_calendar, today

# The task actions a unit may take, and the task states each needs (the service decides;
# this only chooses which forms to show).
TASK_ACTIONS = {
    "accept_task": ("pending",),
    "return_task": ("pending", "accepted"),
    "progress": ("pending", "accepted"),
    "request_extension": ("accepted",),
    "resolve_task": ("accepted",),
}
TASK_FORMS = {
    "accept_task": forms.ActionForm,
    "return_task": forms.ReturnTaskForm,
    "progress": forms.ProgressForm,
    "request_extension": forms.ExtensionForm,
    "resolve_task": forms.ResolveTaskForm,
}
DEMAND_FORMS = {
    "accept": forms.AcceptForm,
    "reject": forms.RejectForm,
    "merge": forms.MergeForm,
    "withdraw": forms.WithdrawForm,
    "pause": forms.PauseForm,
    "resume": forms.ResumeForm,
    "rate": forms.RateForm,
    "follow_up": forms.FollowUpForm,
    "note": forms.NoteForm,
    "attach": forms.AttachForm,
}


# -- loading ----------------------------------------------------------------------------


def load_demand(demand_id: int) -> Demand:
    demand = db.session.scalar(
        select(Demand)
        .where(Demand.id == demand_id)
        .options(
            selectinload(Demand.firm),
            selectinload(Demand.category),
            selectinload(Demand.owner),
            selectinload(Demand.merged_into),
            selectinload(Demand.tasks).selectinload(DemandTask.department),
            selectinload(Demand.tasks).selectinload(DemandTask.street),
            selectinload(Demand.tasks).selectinload(DemandTask.handler),
            selectinload(Demand.tasks)
            .selectinload(DemandTask.extensions)
            .selectinload(ExtensionRequest.requested_by),
            selectinload(Demand.events).selectinload(DemandEvent.actor),
            selectinload(Demand.attachments),
        )
    )
    if demand is None:
        abort(404)
    if not can_view_demand(current_user, demand):
        if current_user.role == FIRM:
            abort(404)  # a firm learns nothing about other firms' demands
        deny("demand out of scope")
    return demand


def task_of(demand: Demand, task_id: int) -> DemandTask:
    task = next((t for t in demand.tasks if t.id == task_id), None)
    if task is None:
        abort(404)
    return task


# -- what the current user may do ----------------------------------------------------------


@dataclass
class Offer:
    """The action forms to show: for the demand, per task, per pending extension."""

    demand: list[str] = field(default_factory=list)
    tasks: dict[int, list[str]] = field(default_factory=dict)
    extensions: list[ExtensionRequest] = field(default_factory=list)


def _may(action: str, demand: Demand, user: User) -> bool:
    try:
        states.check(action, demand.state, user.role)
    except states.TransitionError:
        return False
    return True


def offer_for(user: User, demand: Demand) -> Offer:
    """Ask the state machine and the permissions which actions ``user`` may take now."""
    offer = Offer()
    may = {name: _may(name, demand, user) for name in states.ACTIONS}
    dispatcher = can_dispatch(user, demand)
    for name in ("accept", "reject", "merge", "dispatch"):
        if may[name] and dispatcher:
            offer.demand.append(name)
    if may["withdraw"] and user.firm_id == demand.firm_id:
        offer.demand.append("withdraw")
    # The service's own rule (the office or the lead unit), asked rather than repeated.
    if services._may_pause(demand, user):
        if may["pause"] and demand.paused_at is None:
            offer.demand.append("pause")
        if may["resume"] and demand.paused_at is not None:
            offer.demand.append("resume")
    # Staff record a rating through a follow-up call; the firm rates directly.
    if may["rate"] and user.role == FIRM and user.firm_id == demand.firm_id:
        offer.demand.append("rate")
    for name in ("follow_up", "note"):
        if may[name]:
            offer.demand.append(name)
    if may["note"]:
        offer.demand.append("attach")
    for task in demand.tasks:
        if not is_task_member(user, task):
            continue
        names = [n for n, needs in TASK_ACTIONS.items() if may[n] and task.state in needs]
        if any(r.state == "pending" for r in task.extensions) and "request_extension" in names:
            names.remove("request_extension")
        if names:
            offer.tasks[task.id] = names
    if may["decide_extension"]:
        offer.extensions = [r for t in demand.tasks for r in t.extensions if r.state == "pending"]
    return offer


# -- rendering and acting ---------------------------------------------------------------


def dispatch_units() -> list[tuple[str, str]]:
    departments = db.session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.code)
    )
    streets = db.session.scalars(
        select(Street).where(Street.active.is_(True)).order_by(Street.code)
    )
    return [(f"d{d.id}", d.name) for d in departments] + [(f"s{s.id}", s.name) for s in streets]


def deadline_preview(demand: Demand) -> list[tuple[int, int, object]]:
    """(level, working days, due) for each level: what dispatching now would give."""
    cal = current_calendar()
    start = today()
    rows = []
    for level in (1, 2, 3):
        days = services.time_limit_days(demand.category, level)
        rows.append((level, days, cal.add_working_days(start, days)))
    return rows


def _blank_forms(demand: Demand, offer: Offer) -> dict[str, forms.ActionForm]:
    version = str(demand.version)
    built: dict[str, forms.ActionForm] = {}
    for name in offer.demand:
        if name == "dispatch":
            form = forms.DispatchForm(formdata=None, prefix=name, units=dispatch_units())
            form.lead.data = f"s{demand.street_id}"
        else:
            form = DEMAND_FORMS[name](formdata=None, prefix=name)
        built[name] = form
    for task_id, names in offer.tasks.items():
        for name in names:
            key = f"{name}-{task_id}"
            built[key] = TASK_FORMS[name](formdata=None, prefix=key)
    for req in offer.extensions:
        key = f"decide-{req.id}"
        built[key] = forms.DecideExtensionForm(formdata=None, prefix=key)
    for form in built.values():
        form.version.data = version
    return built


def render(demand_id: int, *, posted=None, error: str | None = None, status: int = 200):
    """The demand's page; ``posted``: (key, form) of a refused post, shown as it was sent."""
    demand = load_demand(demand_id)
    offer = offer_for(current_user, demand)
    action_forms = _blank_forms(demand, offer)
    if posted is not None:
        key, form = posted
        form.version.data = str(demand.version)  # so "submit again" can go through
        action_forms[key] = form
    task_forms: dict[int, list[str]] = {}
    for task in demand.tasks:
        names = [n for n in TASK_FORMS if f"{n}-{task.id}" in action_forms]
        if names:
            task_forms[task.id] = names
    firm_user = current_user.role == FIRM
    on = today()
    return render_template(
        "demands/detail.html",
        demand=demand,
        offer=offer,
        forms=action_forms,
        task_forms=task_forms,
        posted_key=posted[0] if posted else None,
        error=error,
        events=[e for e in demand.events if not (firm_user and e.internal)],
        files=[a for a in demand.attachments if not (firm_user and a.internal)],
        firm_user=firm_user,
        preview=deadline_preview(demand) if "dispatch" in action_forms else None,
        max_mb=f"{attachments.max_mb():g}",
        overdue=overdue_test(on),
        task_overdue=lambda t: (
            t.state in ("pending", "accepted") and demand.paused_at is None and on > t.due_on
        ),
    ), status


def overdue_test(on):
    def overdue(demand: Demand) -> bool:
        """Open, its clock running, and past the deadline of the step it is at."""
        if demand.state not in states.OPEN_STATES or demand.paused_at is not None:
            return False
        due = demand.accept_due_on if demand.state == states.SUBMITTED else demand.due_on
        return due is not None and on > due

    return overdue


def act(demand: Demand, key: str, form: forms.ActionForm, perform, done: str, *, next_url=None):
    """Validate ``form``, run ``perform``, commit; or show the page again with the refusal."""
    if not form.validate_on_submit():
        message = _("The form was incomplete: reload the page.") if form.version.errors else None
        return render(demand.id, posted=(key, form), error=message, status=422)
    demand_id = demand.id
    try:
        perform()
        services.flush_or_stale(demand)
        db.session.commit()
    except StaleDataError:
        # Someone's write landed between our read and our write (inside the service's own
        # flush, or at commit): the same answer as a stale form.
        db.session.rollback()
        fresh = db.session.get(Demand, demand_id)
        stale = StaleDemand(fresh, services.last_actor(fresh))
        return render(demand_id, posted=(key, form), error=stale.message, status=409)
    except StaleDemand as exc:
        db.session.rollback()
        return render(demand_id, posted=(key, form), error=exc.message, status=409)
    except DemandError as exc:
        db.session.rollback()
        if exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
            return render(demand_id, posted=(key, form), status=422)
        return render(demand_id, posted=(key, form), error=exc.message, status=422)
    flash(done, "success")
    return redirect(next_url or url_for("demands.detail", demand_id=demand.id))
