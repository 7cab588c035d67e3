"""The actions on a demand, one small POST form each: validate, call one service, flash and
go back to the demand; or show the demand again, refused (422) or stale (409), with the
message beside the form and what was typed still in it.

``ROUTES`` is registered on the ``demands`` blueprint by ``crm.demands.views``.
"""

from flask import abort, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.permissions import FIRM, demand_scope, roles_required
from crm.demands import forms, services, states
from crm.demands.demand_page import (
    DEMAND_FORMS,
    TASK_FORMS,
    act,
    dispatch_units,
    load_demand,
    task_of,
)
from crm.demands.models import Demand
from crm.demands.services import DemandError
from crm.extensions import db
from crm.org.models import Department, Street


def _demand_action(demand_id: int, name: str, perform, done: str):
    demand = load_demand(demand_id)
    form = DEMAND_FORMS[name](prefix=name)
    return act(demand, name, form, lambda: perform(demand, form), done)


def _task_action(demand_id: int, task_id: int, name: str, perform, done: str):
    demand = load_demand(demand_id)
    task = task_of(demand, task_id)
    key = f"{name}-{task.id}"
    form = TASK_FORMS[name](prefix=key)
    return act(demand, key, form, lambda: perform(task, form), done)


# -- acceptance and dispatch -----------------------------------------------------------------


@roles_required(*states.ACTIONS["accept"].roles)
def accept(demand_id: int):
    def perform(demand, form):
        services.accept_demand(
            demand,
            actor=current_user,
            note=form.note.data or "",
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "accept", perform, _("Demand accepted."))


@roles_required(*states.ACTIONS["reject"].roles)
def reject(demand_id: int):
    def perform(demand, form):
        services.reject_demand(
            demand,
            actor=current_user,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "reject", perform, _("Demand not accepted."))


@roles_required(*states.ACTIONS["merge"].roles)
def merge(demand_id: int):
    def perform(demand, form):
        number = (form.into.data or "").strip().upper()
        into = db.session.scalar(
            select(Demand).where(Demand.number == number, demand_scope(current_user))
        )
        services.merge_demand(
            demand,
            into,
            actor=current_user,
            reason=form.reason.data or "",
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "merge", perform, _("Demand merged into the one it repeats."))


def _unit(key: str | None) -> services.Unit:
    """The unit a dispatch form's key names: ``d<id>`` a department, ``s<id>`` a street."""
    key = key or ""
    model = {"d": Department, "s": Street}.get(key[:1])
    unit = db.session.get(model, int(key[1:])) if model and key[1:].isdigit() else None
    if unit is None or not unit.active:
        raise DemandError(_("Choose a unit from the list."), "lead")
    return services.Unit(department=unit) if model is Department else services.Unit(street=unit)


@roles_required(*states.ACTIONS["dispatch"].roles)
def dispatch(demand_id: int):
    demand = load_demand(demand_id)
    form = forms.DispatchForm(prefix="dispatch", units=dispatch_units())

    def perform():
        co_units = []
        for key in form.co_units.data or []:
            try:
                co_units.append(_unit(key))
            except DemandError as exc:
                raise DemandError(exc.message, "co_units") from exc
        services.dispatch_demand(
            demand,
            actor=current_user,
            level=form.level.data,
            lead=_unit(form.lead.data),
            co_units=co_units,
            note=form.note.data or "",
            expected_version=form.expected_version,
        )

    return act(demand, "dispatch", form, perform, _("Demand dispatched."))


@roles_required(*states.ACTIONS["withdraw"].roles)
def withdraw(demand_id: int):
    def perform(demand, form):
        services.withdraw_demand(
            demand,
            actor=current_user,
            reason=form.reason.data or "",
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "withdraw", perform, _("Demand withdrawn."))


# -- handling -----------------------------------------------------------------------------


@roles_required(*states.ACTIONS["accept_task"].roles)
def accept_task(demand_id: int, task_id: int):
    def perform(task, form):
        services.accept_task(task, actor=current_user, expected_version=form.expected_version)

    return _task_action(demand_id, task_id, "accept_task", perform, _("Task accepted."))


@roles_required(*states.ACTIONS["return_task"].roles)
def return_task(demand_id: int, task_id: int):
    def perform(task, form):
        services.return_task(
            task,
            actor=current_user,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )

    return _task_action(demand_id, task_id, "return_task", perform, _("Task returned."))


@roles_required(*states.ACTIONS["progress"].roles)
def progress(demand_id: int, task_id: int):
    def perform(task, form):
        services.add_progress(
            task,
            actor=current_user,
            message=form.message.data,
            internal=form.internal.data,
            expected_version=form.expected_version,
        )

    return _task_action(demand_id, task_id, "progress", perform, _("Progress recorded."))


@roles_required(*states.ACTIONS["request_extension"].roles)
def request_extension(demand_id: int, task_id: int):
    def perform(task, form):
        services.request_extension(
            task,
            actor=current_user,
            days=form.days.data,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )

    return _task_action(demand_id, task_id, "request_extension", perform, _("Extension requested."))


@roles_required(*states.ACTIONS["resolve_task"].roles)
def resolve_task(demand_id: int, task_id: int):
    def perform(task, form):
        services.resolve_task(
            task,
            actor=current_user,
            resolution=form.resolution.data,
            expected_version=form.expected_version,
        )

    return _task_action(demand_id, task_id, "resolve_task", perform, _("Task resolved."))


@roles_required(*states.ACTIONS["decide_extension"].roles)
def decide_extension(demand_id: int, request_id: int):
    demand = load_demand(demand_id)
    req = next((r for t in demand.tasks for r in t.extensions if r.id == request_id), None)
    if req is None:
        abort(404)
    key = f"decide-{req.id}"
    form = forms.DecideExtensionForm(prefix=key)
    approve = form.decision.data == "approve"

    def perform():
        services.decide_extension(
            req,
            actor=current_user,
            approve=approve,
            note=form.note.data or "",
            expected_version=form.expected_version,
        )

    next_url = url_for("demands.extensions") if request.form.get("next") == "extensions" else None
    done = _("Extension approved.") if approve else _("Extension declined.")
    return act(demand, key, form, perform, done, next_url=next_url)


@roles_required(*states.ACTIONS["pause"].roles)
def pause(demand_id: int):
    def perform(demand, form):
        services.pause_demand(
            demand,
            actor=current_user,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "pause", perform, _("Demand paused: the clock has stopped."))


@roles_required(*states.ACTIONS["resume"].roles)
def resume(demand_id: int):
    def perform(demand, form):
        services.resume_demand(demand, actor=current_user, expected_version=form.expected_version)

    return _demand_action(demand_id, "resume", perform, _("Demand resumed."))


# -- the firm's answer and staff's notes ----------------------------------------------------


@roles_required(FIRM)  # staff record a rating given by phone as a follow-up call
def rate(demand_id: int):
    def perform(demand, form):
        services.rate_demand(
            demand,
            actor=current_user,
            rating=form.rating.data,
            comment=form.comment.data or "",
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "rate", perform, _("Thank you: your rating was recorded."))


@roles_required(*states.ACTIONS["follow_up"].roles)
def follow_up(demand_id: int):
    def perform(demand, form):
        services.record_follow_up(
            demand,
            actor=current_user,
            message=form.message.data,
            rating=form.rating.data or None,
            expected_version=form.expected_version,
        )

    return _demand_action(demand_id, "follow_up", perform, _("Follow-up call recorded."))


@roles_required(*states.ACTIONS["note"].roles)
def note(demand_id: int):
    def perform(demand, form):
        services.add_note(
            demand, actor=current_user, message=form.message.data, internal=form.internal.data
        )

    return _demand_action(demand_id, "note", perform, _("Note added."))


ROUTES = [
    ("/<int:demand_id>/accept", accept),
    ("/<int:demand_id>/reject", reject),
    ("/<int:demand_id>/merge", merge),
    ("/<int:demand_id>/dispatch", dispatch),
    ("/<int:demand_id>/withdraw", withdraw),
    ("/<int:demand_id>/tasks/<int:task_id>/accept", accept_task),
    ("/<int:demand_id>/tasks/<int:task_id>/return", return_task),
    ("/<int:demand_id>/tasks/<int:task_id>/progress", progress),
    ("/<int:demand_id>/tasks/<int:task_id>/extension", request_extension),
    ("/<int:demand_id>/tasks/<int:task_id>/resolve", resolve_task),
    ("/<int:demand_id>/extensions/<int:request_id>", decide_extension),
    ("/<int:demand_id>/pause", pause),
    ("/<int:demand_id>/resume", resume),
    ("/<int:demand_id>/rate", rate),
    ("/<int:demand_id>/follow-up", follow_up),
    ("/<int:demand_id>/note", note),
]
