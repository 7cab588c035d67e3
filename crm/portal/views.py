"""The firm's portal: its start page with its commissioners, its demands, its service
requests (预约, 上门, 跑腿代办) and proposals to change its profile.

Every page is the logged-in firm user's own firm's. Anything else — another firm's demand,
request or file, an internal note — is answered 404, so a firm learns nothing about others.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm import labels
from crm.admin.forms import SPECIALTY_LABELS
from crm.auth.permissions import (
    FIRM,
    deny,
    roles_required,
)
from crm.demands import attachments, services, states
from crm.demands import labels as demand_labels
from crm.demands.models import Attachment, Demand, DemandCategory
from crm.demands.services import DemandError, StaleDemand
from crm.extensions import db
from crm.firms.industries import describe as describe_industry
from crm.firms.models import Assignment, Firm
from crm.portal import forms
from crm.portal.demand_page import ACTION_FORMS, load_demand, render_demand
from crm.portal.models import SERVICE_OPEN, ProfileChange, ServiceRequest
from crm.portal.services import (
    PROPOSABLE,
    PortalError,
    cancel_service,
    propose_change,
    request_service,
)
from crm.workcal.services import today

bp = Blueprint("portal", __name__, url_prefix="/portal")

PER_PAGE = 20
HOME_ROWS = 10


@bp.context_processor
def _labels() -> dict:
    return {
        "demand_labels": demand_labels,
        "portal_forms": forms,
        "specialties": SPECIALTY_LABELS,
    }


def _firm(*, with_people: bool = False) -> Firm:
    stmt = select(Firm).where(Firm.id == current_user.firm_id).options(selectinload(Firm.street))
    if with_people:
        stmt = stmt.options(selectinload(Firm.assignments).selectinload(Assignment.commissioner))
    firm = db.session.scalar(stmt)
    if firm is None:
        deny("firm user without a firm")
    return firm


# -- the start page -------------------------------------------------------------------------


@bp.route("/")
@roles_required(FIRM)
def index():
    firm = _firm(with_people=True)
    open_demands = db.session.scalars(
        select(Demand)
        .where(Demand.firm_id == firm.id, Demand.state.not_in(states.FINAL_STATES))
        .order_by(Demand.submitted_at.desc(), Demand.id.desc())
        .limit(HOME_ROWS)
        .options(selectinload(Demand.category))
    ).all()
    open_services = db.session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.firm_id == firm.id, ServiceRequest.state.in_(SERVICE_OPEN))
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(HOME_ROWS)
    ).all()
    pending_changes = db.session.scalars(
        select(ProfileChange)
        .where(ProfileChange.firm_id == firm.id, ProfileChange.state == "pending")
        .order_by(ProfileChange.created_at.desc())
    ).all()
    carers = [
        (labels.ASSIGNMENT_ROLES[a.role], a.commissioner)
        for role in ("primary", "backup")
        if (a := firm.current_assignment(role)) is not None
    ]
    return render_template(
        "portal/index.html",
        firm=firm,
        carers=carers,
        open_demands=open_demands,
        open_services=open_services,
        pending_changes=pending_changes,
        today=today(),
    )


# -- demands --------------------------------------------------------------------------------


@bp.route("/demands")
@roles_required(FIRM)
def demands():
    form = forms.DemandFilterForm(request.args)
    form.validate()
    stmt = select(Demand).where(Demand.firm_id == current_user.firm_id)
    state = form.state.data if not form.state.errors else ""
    if state == "open":
        stmt = stmt.where(Demand.state.not_in(states.FINAL_STATES))
    elif state == "finished":
        stmt = stmt.where(Demand.state.in_(states.FINAL_STATES))
    stmt = stmt.order_by(Demand.submitted_at.desc(), Demand.id.desc()).options(
        selectinload(Demand.category)
    )
    page = db.paginate(stmt, per_page=PER_PAGE, max_per_page=100, error_out=False)
    return render_template("portal/demands.html", page=page, form=form, state=state)


@bp.route("/demands/new", methods=["GET", "POST"])
@roles_required(FIRM)
def demand_new():
    categories = db.session.scalars(
        select(DemandCategory).where(DemandCategory.active.is_(True)).order_by(DemandCategory.id)
    ).all()
    form = forms.PortalDemandForm(categories=categories)
    status = 200
    if form.validate_on_submit():
        response, status = _submit(form)
        if response is not None:
            return response
    elif request.method == "POST":
        status = 422
    max_mb = f"{attachments.max_mb():g}"
    return render_template("portal/demand_new.html", form=form, max_mb=max_mb), status


def _submit(form: forms.PortalDemandForm):
    """Record the demand and its files; (redirect, None), or (None, status) on a refusal."""
    firm = _firm()
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
            channel="portal",
            actor=current_user,
            submission_key=key,
        )
    except DemandError as exc:
        db.session.rollback()
        name = {"category": "category_id"}.get(exc.field, exc.field)
        form[name if name in form else "title"].errors.append(exc.message)
        return None, 422
    if created:
        rows = attachments.store(demand, uploads, actor=current_user)
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            attachments.discard(rows)
            raise
        flash(_("Your demand %(number)s has been sent.", number=demand.number), "success")
    else:
        flash(_("This form was already sent: demand %(number)s.", number=demand.number), "info")
    return redirect(url_for("portal.demand", demand_id=demand.id)), None


@bp.route("/demands/<int:demand_id>")
@roles_required(FIRM)
def demand(demand_id: int):
    return render_demand(demand_id)


def _act(demand_id: int, key: str, perform, done):
    """Validate the posted form ``key``, run ``perform(demand, form)``, commit and flash
    ``done`` (a text, or a function of the demand); or show the page again with the refusal
    (422), or as stale (409) when someone acted meanwhile."""
    demand = load_demand(demand_id)
    form = ACTION_FORMS[key](prefix=key)
    if not form.validate_on_submit():
        error = _("The form was incomplete: reload the page.") if form.version.errors else None
        return render_demand(demand_id, posted=(key, form), error=error, status=422)
    stale = _("Someone changed this demand in the meantime: check its new state, then send again.")
    rows: list[Attachment] = []
    try:
        try:
            rows = perform(demand, form) or []
            services.flush_or_stale(demand)
            db.session.commit()
        except Exception:
            db.session.rollback()
            attachments.discard(rows)
            raise
    except (StaleDemand, StaleDataError):
        return render_demand(demand_id, posted=(key, form), error=stale, status=409)
    except attachments.AttachmentError as exc:
        form.files.errors = [exc.message]
        return render_demand(demand_id, posted=(key, form), status=exc.status)
    except DemandError as exc:
        if exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
            return render_demand(demand_id, posted=(key, form), status=422)
        return render_demand(demand_id, posted=(key, form), error=exc.message, status=422)
    flash(done(demand) if callable(done) else done, "success")
    return redirect(url_for("portal.demand", demand_id=demand_id))


@bp.route("/demands/<int:demand_id>/message", methods=["POST"])
@roles_required(FIRM)
def message(demand_id: int):
    def perform(demand, form):
        uploads = attachments.check_uploads(request.files.getlist(form.files.name))
        event = services.post_message(
            demand,
            actor=current_user,
            message=form.message.data,
            expected_version=form.expected_version,
        )
        if not uploads:
            return []
        db.session.flush()  # the event's id, for its files
        return attachments.store(demand, uploads, actor=current_user, event=event)

    return _act(demand_id, "message", perform, _("Your message has been sent."))


@bp.route("/demands/<int:demand_id>/withdraw", methods=["POST"])
@roles_required(FIRM)
def withdraw(demand_id: int):
    def perform(demand, form):
        services.withdraw_demand(
            demand,
            actor=current_user,
            reason=form.reason.data or "",
            expected_version=form.expected_version,
        )

    return _act(demand_id, "withdraw", perform, _("Your demand has been withdrawn."))


@bp.route("/demands/<int:demand_id>/rate", methods=["POST"])
@roles_required(FIRM)
def rate(demand_id: int):
    def perform(demand, form):
        services.rate_demand(
            demand,
            actor=current_user,
            rating=form.rating.data,
            comment=form.comment.data or "",
            expected_version=form.expected_version,
        )

    def done(demand):
        if demand.state == states.REOPENED:
            return _("Thank you. Your demand is open again and will be handled anew.")
        return _("Thank you for your rating. The demand is closed.")

    return _act(demand_id, "rate", perform, done)


@bp.route("/demands/<int:demand_id>/files/<int:attachment_id>")
@roles_required(FIRM)
def attachment(demand_id: int, attachment_id: int):
    row = db.session.scalar(
        select(Attachment)
        .join(Attachment.demand)
        .where(
            Attachment.id == attachment_id,
            Attachment.demand_id == demand_id,
            Attachment.internal.is_(False),
            Demand.firm_id == current_user.firm_id,
        )
    )
    if row is None or not attachments.path_of(row).is_file():
        abort(404)
    response = send_file(
        attachments.path_of(row),
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- service requests -----------------------------------------------------------------------


@bp.route("/services", endpoint="services")
@roles_required(FIRM)
def service_list():
    stmt = (
        select(ServiceRequest)
        .where(ServiceRequest.firm_id == current_user.firm_id)
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    )
    page = db.paginate(stmt, per_page=PER_PAGE, max_per_page=100, error_out=False)
    return render_template("portal/services.html", page=page)


def _portal_error(form, exc: PortalError, fallback: str) -> None:
    name = exc.field if exc.field in form else fallback
    form[name].errors = [*form[name].errors, exc.message]


@bp.route("/services/new", methods=["GET", "POST"])
@roles_required(FIRM)
def service_new():
    firm = _firm(with_people=True)
    form = forms.ServiceForm()
    if request.method == "GET":
        if request.args.get("kind") in forms.SERVICE_KIND_LABELS:
            form.kind.data = request.args["kind"]  # the start page's buttons choose one
        form.address.data = firm.address
        form.contact_phone.data = current_user.phone
    status = 200
    if form.validate_on_submit():
        try:
            req = request_service(
                firm=firm,
                actor=current_user,
                kind=form.kind.data,
                details=form.details.data,
                preferred_date=form.preferred_date.data,
                preferred_slot=form.preferred_slot.data or "",
                address=form.address.data if form.kind.data == "onsite" else "",
                contact_phone=form.contact_phone.data or "",
            )
        except PortalError as exc:
            db.session.rollback()
            _portal_error(form, exc, "details")
            status = 422
        else:
            db.session.commit()
            flash(_("Your request has been sent to your commissioner."), "success")
            return redirect(url_for("portal.service", service_request_id=req.id))
    elif request.method == "POST":
        status = 422
    return render_template("portal/service_new.html", form=form, firm=firm), status


def _load_service(request_id: int) -> ServiceRequest:
    req = db.session.scalar(
        select(ServiceRequest)
        .where(ServiceRequest.id == request_id, ServiceRequest.firm_id == current_user.firm_id)
        .options(selectinload(ServiceRequest.commissioner), selectinload(ServiceRequest.handled_by))
    )
    if req is None:
        abort(404)
    return req


def _render_service(req: ServiceRequest, form=None, *, error: str | None = None, status=200):
    if form is None and req.is_open:
        form = forms.CancelServiceForm(formdata=None, prefix="cancel")
    if form is not None:
        form.version.data = str(req.version)
    firm = _firm()
    return render_template(
        "portal/service.html", req=req, form=form, error=error, street=firm.street
    ), status


@bp.route("/services/<int:service_request_id>")
@roles_required(FIRM)
def service(service_request_id: int):
    return _render_service(_load_service(service_request_id))


@bp.route("/services/<int:service_request_id>/cancel", methods=["POST"])
@roles_required(FIRM)
def service_cancel(service_request_id: int):
    req = _load_service(service_request_id)
    form = forms.CancelServiceForm(prefix="cancel")
    if not form.validate_on_submit():
        return _render_service(req, form, status=422)
    stale = _("Someone changed this request in the meantime: check its new state first.")
    try:
        cancel_service(
            req, actor=current_user, reason=form.reason.data, expected_version=form.expected_version
        )
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _render_service(_load_service(service_request_id), form, error=stale, status=409)
    except PortalError as exc:
        db.session.rollback()
        req = _load_service(service_request_id)
        if exc.code == "stale":
            return _render_service(req, form, error=stale, status=409)
        if exc.field in form:
            _portal_error(form, exc, "reason")
            return _render_service(req, form, status=422)
        return _render_service(req, form, error=exc.message, status=422)
    flash(_("Your request has been cancelled."), "success")
    return redirect(url_for("portal.service", service_request_id=service_request_id))


# -- the firm's profile ---------------------------------------------------------------------


def _shown(firm: Firm, name: str) -> str:
    value = getattr(firm, name)
    if value in (None, ""):
        return "—"
    if name == "size":
        return labels.label(labels.SIZES, value)
    if name == "revenue_band":
        return labels.label(labels.REVENUE_BANDS, value)
    if name == "industry_code":
        return f"{value} {describe_industry(value) or ''}".strip()
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def _change_value(name: str, value) -> str:
    if value is None or value == "":
        return "—"
    if name == "size":
        return labels.label(labels.SIZES, value)
    if name == "revenue_band":
        return labels.label(labels.REVENUE_BANDS, value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


@bp.route("/profile", methods=["GET", "POST"])
@roles_required(FIRM)
def profile():
    firm = _firm()
    form = forms.ProfileForm(obj=firm if request.method == "GET" else None)
    status, form_error = 200, None
    if form.validate_on_submit():
        try:
            propose_change(
                firm, actor=current_user, values=form.proposed(PROPOSABLE), note=form.note.data
            )
        except PortalError as exc:
            db.session.rollback()
            firm = _firm()
            status = 422
            if exc.field in form:
                _portal_error(form, exc, "note")
            else:
                form_error = exc.message
        else:
            db.session.commit()
            flash(_("Your proposal has been sent to your commissioner for review."), "success")
            return redirect(url_for("portal.profile"))
    elif request.method == "POST":
        status = 422
    proposals = db.paginate(
        select(ProfileChange)
        .where(ProfileChange.firm_id == firm.id)
        .order_by(ProfileChange.created_at.desc(), ProfileChange.id.desc()),
        per_page=10,
        max_per_page=50,
        error_out=False,
    )
    return render_template(
        "portal/profile.html",
        firm=firm,
        form=form,
        form_error=form_error,
        record=[(form[name].label.text, _shown(firm, name)) for name in PROPOSABLE],
        field_label=lambda name: form[name].label.text if name in form else name,
        change_value=_change_value,
        proposals=proposals,
    ), status
