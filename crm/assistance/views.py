"""Assistance cases: the board, opening a case, the case page and its actions.

Each action is one small POST: validate, call one service, flash and go back to the case;
or show the case again, refused (422) or stale (409), with what was typed still in the
form. The page itself is built in ``crm.assistance.case_page``.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from crm.assistance import case_labels, forms, queries, referrals, services, states
from crm.assistance.case_page import act, departments, load_case, render
from crm.assistance.models import CaseType, FinancingReferral, Prospect
from crm.assistance.services import CaseError
from crm.auth.models import User
from crm.auth.permissions import (
    COMMISSIONER,
    DEPARTMENT,
    LEADER,
    OFFICE,
    STREET,
    can_open_case_in,
    firm_scope,
    roles_required,
)
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Street
from crm.workcal.services import today

bp = Blueprint("cases", __name__, url_prefix="/cases")

VIEWERS = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER)
EDITORS = (OFFICE, STREET, COMMISSIONER)
NOTERS = (*EDITORS, DEPARTMENT)
FIRM_CHOICES = 50
# Those who see more than one street's cases may narrow the board to one.
STREET_FILTER = (OFFICE, DEPARTMENT, LEADER)


@bp.app_template_global("firm_cases")
def firm_cases(firm) -> list:
    """The firm page's cases panel: ``{% include "assistance/_firm_cases.html" %}``."""
    if not current_user.is_authenticated or current_user.role not in VIEWERS:
        return []
    return queries.cases_for_firm(firm.id, current_user)


bp.add_app_template_global(case_labels, "case_labels")


# -- the board -------------------------------------------------------------------------------


def _filters(form: forms.CaseFilterForm, case_type: CaseType | None) -> queries.BoardFilters:
    data = {} if form.errors else form.data
    owner_id = current_user.id if data.get("mine") else data.get("owner_id")
    return queries.BoardFilters(
        case_type_id=case_type.id if case_type else None,
        state=data.get("state") or states.OPEN,
        stage_id=request.args.get("stage_id", type=int),
        street_id=data.get("street_id")
        if current_user.role in (OFFICE, DEPARTMENT, LEADER)
        else None,
        owner_id=owner_id,
        q=(data.get("q") or "").strip(),
    )


@bp.route("/")
@roles_required(*VIEWERS)
def board():
    types = queries.case_types()
    chosen = request.args.get("type", type=int)
    case_type = next((t for t in types if t.id == chosen), types[0] if types else None)
    staff = current_user.role in EDITORS
    streets = []
    if current_user.role in STREET_FILTER:
        streets = db.session.scalars(
            select(Street).where(Street.active.is_(True)).order_by(Street.code)
        ).all()
    form = forms.CaseFilterForm(
        request.args,
        streets=streets,
        owners=queries.owner_choices(current_user) if staff else (),
    )
    form.validate()
    filters = _filters(form, case_type)
    as_list = filters.state != states.OPEN or filters.stage_id or request.args.get("view") == "list"
    columns, page = [], None
    if case_type is not None and as_list:
        page = queries.case_list(current_user, filters)
    elif case_type is not None:
        columns = queries.board(current_user, case_type, filters)
    return render_template(
        "assistance/board.html",
        types=types,
        case_type=case_type,
        form=form,
        filters=filters,
        columns=columns,
        page=page,
        show_streets=bool(streets),
        show_owners=staff,
        on=today(),
    )


# -- opening a case ----------------------------------------------------------------------------


def _client():
    """The firm or prospect the new case is for, from the address or the form; 404 if the
    user may not open cases for it."""
    prospect_id = request.args.get("prospect_id", type=int)
    if prospect_id:
        prospect = db.session.get(Prospect, prospect_id)
        if prospect is None or not can_open_case_in(current_user, prospect.street_id):
            abort(404)
        return None, prospect
    firm_id = request.form.get("firm_id", type=int) or request.args.get("firm_id", type=int)
    if not firm_id:
        return None, None
    firm = db.session.scalar(select(Firm).where(Firm.id == firm_id, firm_scope(current_user)))
    if firm is None or not can_open_case_in(current_user, firm.street_id):
        abort(404)
    return firm, None


def _firm_choices(q: str, firm: Firm | None) -> list[Firm]:
    if firm is not None:
        return [firm]
    stmt = select(Firm).where(firm_scope(current_user), Firm.status != "moved_out")
    if q:
        stmt = stmt.where(
            or_(Firm.name.icontains(q, autoescape=True), Firm.uscc.icontains(q, autoescape=True))
        )
    return list(db.session.scalars(stmt.order_by(Firm.name).limit(FIRM_CHOICES)))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():
    firm, prospect = _client()
    street_id = (firm or prospect).street_id if (firm or prospect) else None
    types = queries.case_types()
    firm_q = request.args.get("firm_q", "").strip()[:100]
    form = forms.NewCaseForm(
        firms=_firm_choices(firm_q, firm),
        types=types,
        owners=queries.owner_choices(current_user, street_id),
        departments=departments(),
    )
    if request.method == "GET":
        form.firm_id.data = firm.id if firm else None
        form.case_type_id.data = request.args.get("type", type=int)
        if current_user.role in services.OWNER_ROLES:
            form.owner_id.data = current_user.id
        if prospect is not None:
            form.owner_id.data = prospect.owner_id or form.owner_id.data
        if firm is not None and firm.high_tech:
            form.talent_route.data = "high_tech"  # no quota: the usual route for them
    status = 200
    if form.validate_on_submit():
        if firm is None and prospect is None:
            form.firm_id.errors.append(_("Choose a firm."))
            status = 422
        else:
            case = _open(form, firm, prospect, types)
            if case is not None:
                db.session.commit()
                flash(_("Case %(number)s opened.", number=case.number), "success")
                return redirect(url_for("cases.detail", case_id=case.id))
            status = 422
    elif request.method == "POST":
        status = 422
    chosen = next((t for t in types if t.id == form.case_type_id.data), None)
    return render_template(
        "assistance/new.html",
        form=form,
        firm=firm,
        prospect=prospect,
        firm_q=firm_q,
        show_route=chosen is None or chosen.kind == services.TALENT,
    ), status


def _open(form: forms.NewCaseForm, firm, prospect, types):
    case_type = next((t for t in types if t.id == form.case_type_id.data), None)
    if case_type is None:
        form.case_type_id.errors.append(_("Choose a type from the list."))
        return None
    chosen = set(form.department_ids.data or [])
    try:
        return services.open_case(
            case_type=case_type,
            actor=current_user,
            title=form.title.data,
            owner=db.session.get(User, form.owner_id.data),
            firm=firm,
            prospect=prospect,
            expected_investment=form.expected_investment.data,
            registered_capital=form.registered_capital.data,
            expected_jobs=form.expected_jobs.data,
            talent_route=form.talent_route.data or None,
            departments=[d for d in departments() if d.id in chosen],
        )
    except CaseError as exc:
        db.session.rollback()
        name = {"client": "firm_id"}.get(exc.field, exc.field)
        form[name if name in form else "title"].errors.append(exc.message)
        return None


# -- the case page and its actions ----------------------------------------------------------


@bp.route("/<int:case_id>")
@roles_required(*VIEWERS)
def detail(case_id: int):
    return render(case_id)


def _move(case_id: int, move: str, perform, done: str):
    case = load_case(case_id, edit=True)
    form = (forms.DropForm if move == states.DROP else forms.MoveForm)(prefix=move)
    return act(case, move, form, lambda: perform(case, form), done)


@bp.route("/<int:case_id>/advance", methods=["POST"])
@roles_required(*states.ROLES[states.ADVANCE])
def advance(case_id: int):
    def perform(case, form):
        services.advance_case(case, actor=current_user, expected_version=form.expected_version)

    return _move(case_id, states.ADVANCE, perform, _("Moved to the next stage."))


@bp.route("/<int:case_id>/back", methods=["POST"])
@roles_required(*states.ROLES[states.BACK])
def back(case_id: int):
    def perform(case, form):
        services.move_case_back(case, actor=current_user, expected_version=form.expected_version)

    return _move(case_id, states.BACK, perform, _("Moved back a stage."))


@bp.route("/<int:case_id>/land", methods=["POST"])
@roles_required(*states.ROLES[states.LAND])
def land(case_id: int):
    def perform(case, form):
        services.land_case(case, actor=current_user, expected_version=form.expected_version)

    return _move(case_id, states.LAND, perform, _("The case has landed."))


@bp.route("/<int:case_id>/drop", methods=["POST"])
@roles_required(*states.ROLES[states.DROP])
def drop(case_id: int):
    def perform(case, form):
        services.drop_case(
            case,
            actor=current_user,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )

    return _move(case_id, states.DROP, perform, _("The case was dropped."))


@bp.route("/<int:case_id>/reopen", methods=["POST"])
@roles_required(*states.ROLES[states.REOPEN])
def reopen(case_id: int):
    def perform(case, form):
        services.reopen_case(case, actor=current_user, expected_version=form.expected_version)

    return _move(case_id, states.REOPEN, perform, _("The case is open again."))


@bp.route("/<int:case_id>/items/<int:checklist_item_id>", methods=["POST"])
@roles_required(*EDITORS)
def tick(case_id: int, checklist_item_id: int):
    case = load_case(case_id, edit=True)
    item = next((i for i in case.checklist if i.id == checklist_item_id), None)
    if item is None:
        abort(404)
    form = forms.TickForm(prefix="tick")

    def perform():
        services.tick_item(case, item, form.done.data == "1", current_user)

    done = _("Ticked: %(item)s", item=item.label)
    if form.done.data == "0":
        done = _("Unticked: %(item)s", item=item.label)
    return act(case, "tick", form, perform, done, anchor="checklist")


@bp.route("/<int:case_id>/notes", methods=["POST"])
@roles_required(*NOTERS)
def note(case_id: int):
    case = load_case(case_id)
    form = forms.NoteForm(prefix="note")

    def perform():
        services.add_note(case, actor=current_user, body=form.body.data)

    return act(case, "note", form, perform, _("Note added."), anchor="notes")


@bp.route("/<int:case_id>/details", methods=["POST"])
@roles_required(*EDITORS)
def details(case_id: int):
    case = load_case(case_id, edit=True)
    form = forms.DetailsForm(
        prefix="details", owners=queries.owner_choices(current_user, case.street_id)
    )
    talent = case.case_type.kind == services.TALENT
    if not talent:
        del form["talent_route"]

    def perform():
        services.update_details(
            case,
            actor=current_user,
            title=form.title.data,
            owner=db.session.get(User, form.owner_id.data),
            expected_investment=form.expected_investment.data,
            registered_capital=form.registered_capital.data,
            expected_jobs=form.expected_jobs.data,
            talent_route=(form.talent_route.data or None) if talent else None,
            expected_version=form.expected_version,
        )

    return act(case, "details", form, perform, _("Case saved."), anchor="details")


@bp.route("/<int:case_id>/departments", methods=["POST"])
@roles_required(*EDITORS)
def set_departments(case_id: int):
    case = load_case(case_id, edit=True)
    units = departments()
    form = forms.DepartmentsForm(prefix="departments", departments=units)

    def perform():
        chosen = set(form.department_ids.data or [])
        if chosen - {d.id for d in units}:
            raise CaseError(_("Choose departments from the list."), "department_ids")
        services.set_departments(
            case,
            [d for d in units if d.id in chosen],
            actor=current_user,
            expected_version=form.expected_version,
        )

    return act(case, "departments", form, perform, _("Departments saved."), anchor="departments")


@bp.route("/<int:case_id>/referrals", methods=["POST"])
@roles_required(*EDITORS)
def add_referral(case_id: int):
    case = load_case(case_id, edit=True)
    form = forms.ReferralForm(prefix="referral")

    def perform():
        referrals.add_referral(
            case,
            actor=current_user,
            bank=form.bank.data,
            amount_requested=form.amount_requested.data,
            referred_on=form.referred_on.data,
            note=form.note.data or "",
        )

    return act(case, "referral", form, perform, _("Referral recorded."), anchor="referrals")


@bp.route("/<int:case_id>/referrals/<int:referral_id>", methods=["POST"])
@roles_required(*EDITORS)
def update_referral(case_id: int, referral_id: int):
    case = load_case(case_id, edit=True)
    referral = next((r for r in case.referrals if r.id == referral_id), None)
    if not isinstance(referral, FinancingReferral):
        abort(404)
    key = f"outcome-{referral.id}"
    form = forms.ReferralOutcomeForm(prefix=key)

    def perform():
        referrals.update_referral(
            referral,
            actor=current_user,
            outcome=form.outcome.data,
            amount_granted=form.amount_granted.data,
        )

    return act(case, key, form, perform, _("Referral updated."), anchor="referrals")
