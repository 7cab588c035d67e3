"""A case's page: loading it for the current user, the forms that user may fill in now,
and rendering it — plainly, or again with a refused post in it (422, or 409 if stale).

Which moves show, and why the others may not happen, is asked of the state machine
(``crm.assistance.states``) and the permission checks; the template only renders.
"""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm.assistance import forms, queries, services, states
from crm.assistance.models import (
    AssistanceCase,
    CaseChecklistItem,
    CaseEvent,
    CaseNote,
    CaseType,
)
from crm.assistance.services import CaseError, StaleCase
from crm.auth.permissions import can_edit_case, can_note_case, can_view_case, deny
from crm.extensions import db
from crm.org.models import Department
from crm.workcal.services import today

MOVES = (states.ADVANCE, states.BACK, states.LAND, states.DROP, states.REOPEN)


def load_case(case_id: int, *, edit: bool = False) -> AssistanceCase:
    """The case, everything its page shows loaded; 404 if none, 403 out of scope."""
    case = db.session.scalar(
        select(AssistanceCase)
        .where(AssistanceCase.id == case_id)
        .options(
            selectinload(AssistanceCase.case_type).selectinload(CaseType.stages),
            selectinload(AssistanceCase.firm),
            selectinload(AssistanceCase.prospect),
            selectinload(AssistanceCase.street),
            selectinload(AssistanceCase.owner),
            selectinload(AssistanceCase.departments),
            selectinload(AssistanceCase.checklist).selectinload(CaseChecklistItem.done_by),
            selectinload(AssistanceCase.notes).selectinload(CaseNote.author),
            selectinload(AssistanceCase.events).selectinload(CaseEvent.actor),
            selectinload(AssistanceCase.referrals),
        )
    )
    if case is None:
        abort(404)
    if not can_view_case(current_user, case):
        deny("case out of scope")
    if edit and not can_edit_case(current_user, case):
        deny("case read-only for this user")
    return case


def departments() -> list[Department]:
    return list(
        db.session.scalars(
            select(Department).where(Department.active.is_(True)).order_by(Department.name)
        )
    )


def _blank_forms(case: AssistanceCase) -> dict:
    built: dict = {}
    version = str(case.version)
    if can_note_case(current_user, case):
        built["note"] = forms.NoteForm(formdata=None, prefix="note")
    if not can_edit_case(current_user, case):
        return built
    for move in MOVES:
        cls = forms.DropForm if move == states.DROP else forms.MoveForm
        built[move] = cls(formdata=None, prefix=move)
    built["details"] = forms.DetailsForm(
        formdata=None,
        prefix="details",
        obj=case,
        owners=queries.owner_choices(current_user, case.street_id),
    )
    if case.case_type.kind == services.TALENT:
        built["details"].talent_route.data = case.talent_route or ""
    else:
        del built["details"]["talent_route"]
    built["departments"] = forms.DepartmentsForm(
        formdata=None, prefix="departments", departments=departments()
    )
    built["departments"].department_ids.data = [d.id for d in case.departments]
    if case.case_type.kind == services.FINANCING:
        built["referral"] = forms.ReferralForm(formdata=None, prefix="referral")
        for referral in case.referrals:
            key = f"outcome-{referral.id}"
            form = forms.ReferralOutcomeForm(formdata=None, prefix=key)
            form.outcome.data = referral.outcome
            form.amount_granted.data = referral.amount_granted
            built[key] = form
    for form in built.values():
        if hasattr(form, "version"):
            form.version.data = version
    return built


def render(case_id: int, *, posted=None, error: str | None = None, status: int = 200):
    """The case's page; ``posted``: (key, form) of a refused post, shown as it was sent."""
    case = load_case(case_id)
    action_forms = _blank_forms(case)
    if posted is not None:
        key, form = posted
        if hasattr(form, "version"):
            form.version.data = str(case.version)  # so "submit again" can go through
        action_forms[key] = form
    editable = can_edit_case(current_user, case)
    blocked = {}
    if editable:
        refusals = states.allowed_actions(services.facts(case), role=current_user.role)
        blocked = {k: services.transition_message(e) if e else None for k, e in refusals.items()}
    talent = case.case_type.kind == services.TALENT
    return render_template(
        "assistance/case.html",
        case=case,
        forms=action_forms,
        posted_key=posted[0] if posted else None,
        error=error,
        editable=editable,
        blocked=blocked,
        stage_index=[s.id for s in case.case_type.stages].index(case.stage_id),
        checklist=[i for i in case.checklist if services.applicable(case, i)],
        hidden_route_items=talent
        and not case.talent_route
        and any(i.route for i in case.checklist),
        talent=talent,
        financing=case.case_type.kind == services.FINANCING,
        days_open=((case.landed_on or case.dropped_on or today()) - case.opened_on).days,
    ), status


def act(case: AssistanceCase, key: str, form, perform, done: str, *, anchor: str = ""):
    """Validate ``form``, run ``perform``, commit; or show the page again with the refusal."""
    case_id = case.id
    if not form.validate_on_submit():
        return render(case_id, posted=(key, form), status=422)
    try:
        perform()
        services.flush_or_stale(case)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(AssistanceCase, case_id)
        stale = StaleCase(services.last_actor(fresh))
        return render(case_id, posted=(key, form), error=stale.message, status=409)
    except StaleCase as exc:
        db.session.rollback()
        return render(case_id, posted=(key, form), error=exc.message, status=409)
    except CaseError as exc:
        db.session.rollback()
        if exc.code == "scope":
            deny(exc.code)
        if exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
            return render(case_id, posted=(key, form), status=422)
        return render(case_id, posted=(key, form), error=exc.message, status=422)
    flash(done, "success")
    return redirect(url_for("cases.detail", case_id=case_id) + (f"#{anchor}" if anchor else ""))
