"""A demand's page in the firm's portal: what the firm may see of it (never an internal
note, file or staff member's name) and the forms it may use now."""

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import labels
from crm.auth.models import User
from crm.auth.permissions import COMMISSIONER, DEPARTMENT, FIRM, OFFICE, STREET
from crm.demands import attachments, states
from crm.demands.models import Demand, DemandEvent, DemandTask
from crm.extensions import db
from crm.portal import forms


def load_demand(demand_id: int) -> Demand:
    demand = db.session.scalar(
        select(Demand)
        .where(Demand.id == demand_id, Demand.firm_id == current_user.firm_id)
        .options(
            selectinload(Demand.category),
            selectinload(Demand.tasks).selectinload(DemandTask.department),
            selectinload(Demand.tasks).selectinload(DemandTask.street),
            selectinload(Demand.events).selectinload(DemandEvent.actor).selectinload(User.street),
            selectinload(Demand.events)
            .selectinload(DemandEvent.actor)
            .selectinload(User.department),
            selectinload(Demand.attachments),
        )
    )
    if demand is None:
        abort(404)
    return demand


def acted_by(event: DemandEvent) -> str:
    """Who acted, as the firm should know them: its own people and commissioners by name,
    everyone else by their unit, never an internal staff member's name."""
    actor = event.actor
    if actor is None:
        return _("System")
    if actor.role in (FIRM, COMMISSIONER):
        return f"{labels.ROLES[actor.role]} {actor.display_name}"
    if actor.role == DEPARTMENT and actor.department is not None:
        return actor.department.name
    if actor.role == STREET and actor.street is not None:
        return _("%(street)s business service centre", street=actor.street.name)
    if actor.role == OFFICE:
        return str(labels.ROLES[OFFICE])
    return str(labels.ROLES.get(actor.role, ""))


ACTION_FORMS = {
    "message": forms.MessageForm,
    "withdraw": forms.WithdrawForm,
    "rate": forms.RateForm,
}


def _may(action: str, demand: Demand) -> bool:
    try:
        states.check(action, demand.state, current_user.role)
    except states.TransitionError:
        return False
    return True


def render_demand(demand_id: int, *, posted=None, error: str | None = None, status: int = 200):
    """The demand's page; ``posted``: (key, form) of a refused post, shown as it was sent."""
    demand = load_demand(demand_id)
    action_forms = {}
    for key, form_class in ACTION_FORMS.items():
        if _may(key, demand):
            form = form_class(formdata=None, prefix=key)
            form.version.data = str(demand.version)
            action_forms[key] = form
    if posted is not None:
        key, form = posted
        form.version.data = str(demand.version)  # so "send again" can go through
        action_forms[key] = form
    files = [a for a in demand.attachments if not a.internal]
    return render_template(
        "portal/demand.html",
        demand=demand,
        forms=action_forms,
        posted_key=posted[0] if posted else None,
        error=error,
        events=[e for e in demand.events if not e.internal],
        files=files,
        event_files={e: [a for a in files if a.event_id == e] for e in {a.event_id for a in files}},
        # Who has it now; once answered, who answered.
        units=demand.open_tasks or [t for t in demand.tasks if t.state == "resolved"],
        acted_by=acted_by,
        max_mb=f"{attachments.max_mb():g}",
    ), status
