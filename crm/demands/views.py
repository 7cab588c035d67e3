"""The demand pages: the list, intake, a demand's page with its timeline, attachments, and
the office's pending extension requests. The actions on a demand are in
``crm.demands.action_views``; the demand's page itself in ``crm.demands.demand_page``.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import (
    COMMISSIONER,
    DEPARTMENT,
    FIRM,
    LEADER,
    OFFICE,
    STREET,
    demand_scope,
    firm_scope,
    roles_required,
)
from crm.demands import action_views, attachments, forms, labels, services, states
from crm.demands.demand_page import load_demand, overdue_test, render
from crm.demands.models import Demand, DemandCategory, DemandTask, ExtensionRequest
from crm.demands.services import DemandError
from crm.extensions import db
from crm.firms.models import Firm
from crm.workcal.services import today

bp = Blueprint("demands", __name__, url_prefix="/demands")
for rule, view in action_views.ROUTES:
    bp.add_url_rule(rule, view_func=view, methods=["POST"])


@bp.context_processor
def _labels() -> dict:
    return {"demand_labels": labels}


INTAKE = (OFFICE, STREET, COMMISSIONER)
STAFF_VIEWERS = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER)
WRITERS = states.ACTIONS["note"].roles  # staff who write on a demand: notes, files
FIRM_CHOICES = 50


@bp.route("/<int:demand_id>")
@roles_required(*STAFF_VIEWERS, FIRM)
def detail(demand_id: int):
    return render(demand_id)


# -- attachments --------------------------------------------------------------------------


@bp.route("/<int:demand_id>/attachments", methods=["POST"])
@roles_required(*WRITERS)
def attach(demand_id: int):
    demand = load_demand(demand_id)
    form = forms.AttachForm(prefix="attach")
    if not form.validate_on_submit():
        return render(demand.id, posted=("attach", form), status=422)
    try:
        uploads = attachments.check_uploads(request.files.getlist(form.files.name))
        rows = attachments.add_attachments(
            demand, uploads, actor=current_user, internal=form.internal.data
        )
    except attachments.AttachmentError as exc:
        db.session.rollback()
        form.files.errors = [exc.message]
        return render(demand.id, posted=("attach", form), status=exc.status)
    except DemandError as exc:
        db.session.rollback()
        form.files.errors = [exc.message]
        return render(demand.id, posted=("attach", form), status=422)
    _commit_or_discard(rows)
    flash(_("%(n)s files attached.", n=len(rows)), "success")
    return redirect(url_for("demands.detail", demand_id=demand.id) + "#files")


def _commit_or_discard(rows) -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        attachments.discard(rows)
        raise


@bp.route("/<int:demand_id>/attachments/<int:attachment_id>")
@roles_required(*STAFF_VIEWERS, FIRM)
def attachment(demand_id: int, attachment_id: int):
    demand = load_demand(demand_id)
    row = next((a for a in demand.attachments if a.id == attachment_id), None)
    if row is None or (row.internal and current_user.role == FIRM):
        abort(404)
    path = attachments.path_of(row)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- the list and intake --------------------------------------------------------------------


@bp.route("/")
@roles_required(*STAFF_VIEWERS)
def index():
    form = forms.DemandFilterForm(request.args)
    form.validate()
    stmt = select(Demand).join(Demand.firm).where(demand_scope(current_user))
    state = form.state.data if not form.state.errors else ""
    if state == "open":
        stmt = stmt.where(Demand.state.in_(states.OPEN_STATES))
    elif state:
        stmt = stmt.where(Demand.state == state)
    if form.mine.data:
        stmt = stmt.where(Demand.owner_id == current_user.id)
    if q := (form.q.data or "").strip():
        stmt = stmt.where(
            or_(
                Demand.number.icontains(q, autoescape=True),
                Demand.title.icontains(q, autoescape=True),
                Firm.name.icontains(q, autoescape=True),
            )
        )
    stmt = stmt.order_by(Demand.submitted_at.desc(), Demand.id.desc()).options(
        selectinload(Demand.firm), selectinload(Demand.category), selectinload(Demand.owner)
    )
    page = db.paginate(
        stmt,
        per_page=request.args.get("per_page", type=int) or 25,
        max_per_page=200,
        error_out=False,
    )
    return render_template(
        "demands/index.html", page=page, form=form, overdue=overdue_test(today())
    )


def _firm_choices(q: str, selected: int | None) -> list[Firm]:
    stmt = select(Firm).where(firm_scope(current_user), Firm.status != "moved_out")
    if q:
        stmt = stmt.where(
            or_(Firm.name.icontains(q, autoescape=True), Firm.uscc.icontains(q, autoescape=True))
        )
    found = list(db.session.scalars(stmt.order_by(Firm.name).limit(FIRM_CHOICES)))
    if selected and all(f.id != selected for f in found):
        firm = _scoped_firm(selected)
        if firm is not None:
            found.insert(0, firm)
    return found


def _scoped_firm(firm_id: int | None) -> Firm | None:
    if not firm_id:
        return None
    return db.session.scalar(select(Firm).where(Firm.id == firm_id, firm_scope(current_user)))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*INTAKE)
def new():
    firm_q = request.args.get("firm_q", "").strip()[:100]
    selected = request.form.get("firm_id", type=int) or request.args.get("firm_id", type=int)
    categories = db.session.scalars(
        select(DemandCategory).where(DemandCategory.active.is_(True)).order_by(DemandCategory.id)
    ).all()
    form = forms.DemandForm(firms=_firm_choices(firm_q, selected), categories=categories)
    if request.method == "GET" and _scoped_firm(selected) is not None:
        form.firm_id.data = selected
    status = 200
    if form.validate_on_submit():
        response, status = _take_in(form)
        if response is not None:
            return response
    elif request.method == "POST":
        status = 422
    return render_template(
        "demands/new.html",
        form=form,
        firm_q=firm_q,
        max_mb=f"{attachments.max_mb():g}",
    ), status


def _take_in(form: forms.DemandForm):
    """Record the demand and its files; (redirect, None), or (None, status) on a refusal."""
    firm = _scoped_firm(form.firm_id.data)
    if firm is None:
        form.firm_id.errors.append(_("Choose one of the firms you look after."))
        return None, 422
    try:
        uploads = attachments.check_uploads(request.files.getlist(form.attachments.name))
    except attachments.AttachmentError as exc:
        form.attachments.errors.append(exc.message)
        return None, exc.status
    key = form.submission_key.data or None
    try:
        demand, created = services.submit_demand(
            firm=firm,
            category=db.session.get(DemandCategory, form.category_id.data),
            title=form.title.data,
            description=form.description.data,
            urgency=form.urgency.data,
            channel=form.channel.data,
            actor=current_user,
            submission_key=key,
        )
    except DemandError as exc:
        db.session.rollback()
        name = {"firm": "firm_id", "category": "category_id"}.get(exc.field, exc.field)
        form[name if name in form else "title"].errors.append(exc.message)
        return None, 422
    if created:
        _commit_or_discard(attachments.store(demand, uploads, actor=current_user))
        flash(_("Demand %(number)s recorded.", number=demand.number), "success")
    else:
        flash(_("This form was already sent: demand %(number)s.", number=demand.number), "info")
    return redirect(url_for("demands.detail", demand_id=demand.id)), None


# -- the office's extension requests --------------------------------------------------------


@bp.route("/extensions")
@roles_required(OFFICE)
def extensions():
    stmt = (
        select(ExtensionRequest)
        .join(ExtensionRequest.task)
        .join(DemandTask.demand)
        .where(ExtensionRequest.state == "pending", Demand.state.in_(states.HANDLING_STATES))
        .order_by(ExtensionRequest.requested_at, ExtensionRequest.id)
        .options(
            selectinload(ExtensionRequest.requested_by),
            selectinload(ExtensionRequest.task).selectinload(DemandTask.department),
            selectinload(ExtensionRequest.task).selectinload(DemandTask.street),
            selectinload(ExtensionRequest.task)
            .selectinload(DemandTask.demand)
            .selectinload(Demand.firm),
        )
    )
    page = db.paginate(stmt, per_page=25, max_per_page=100, error_out=False)
    decide_forms = {}
    for req in page.items:
        form = forms.DecideExtensionForm(formdata=None, prefix=f"decide-{req.id}")
        form.version.data = str(req.task.demand.version)
        decide_forms[req.id] = form
    return render_template("demands/extensions.html", page=page, forms=decide_forms)
