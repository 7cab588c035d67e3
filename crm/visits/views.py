"""Visits: log a visit with the demands it raised, the ledger and its export."""

import uuid
from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.permissions import (
    STAFF,
    VISIT_LOGGERS,
    VISIT_VIEWERS,
    can_edit_visit,
    can_log_visit,
    can_view_visit,
    deny,
    firm_scope,
    roles_required,
)
from crm.demands import labels as demand_labels
from crm.demands.models import DemandCategory
from crm.extensions import db
from crm.firms.models import Firm
from crm.firms.services import commissioners_for_filter
from crm.org.models import Department
from crm.org.services import streets_for
from crm.portal.models import SERVICE_OPEN, ServiceRequest
from crm.spreadsheets import download
from crm.timeutil import local_time
from crm.visits import cadence as rules
from crm.visits import export as visit_export
from crm.visits import forms, queries, services
from crm.visits.models import Visit
from crm.visits.services import VisitError
from crm.workcal.services import today

bp = Blueprint("visits", __name__, url_prefix="/visits")

PER_PAGE = 25
FIRM_CHOICES = 30

visit_labels = SimpleNamespace(
    methods=forms.METHOD_LABELS, levels=forms.LEVEL_LABELS, tiers=forms.TIER_LABELS
)


def _recent_visits(firm_id: int, limit: int = 10) -> list[Visit]:
    if not current_user.is_authenticated or current_user.role not in VISIT_VIEWERS:
        return []
    return queries.recent_visits(firm_id, limit, user=current_user)


def _local_day(moment):
    return local_time(moment).date()


def _visit_due(firm: Firm):
    """(next due date, days overdue) of ``firm`` under its tier's cadence."""
    last = db.session.scalar(
        select(Visit.visited_on)
        .where(Visit.firm_id == firm.id)
        .order_by(Visit.visited_on.desc())
        .limit(1)
    )
    primary = firm.current_assignment("primary")
    since = rules.since(
        _local_day(primary.started_at) if primary else None, _local_day(firm.created_at)
    )
    cadence = queries.cadence_for(firm.tier)
    on = today()
    return (
        rules.due_on(last, cadence, since=since),
        rules.days_overdue(last, cadence, since=since, on=on),
    )


# For the firm page's visit card: ``recent_visits(firm_id)``, ``visit_due(firm)``. Globals,
# not a context processor: nothing to build for the pages that do not use them.
for _name, _helper in (
    ("visit_labels", visit_labels),
    ("recent_visits", _recent_visits),
    ("visit_due", _visit_due),
    ("can_log_visit", can_log_visit),
):
    bp.add_app_template_global(_helper, _name)


# -- the ledger -------------------------------------------------------------------------------


def filter_form(args) -> forms.VisitFilterForm:
    commissioners = commissioners_for_filter(
        current_user,
        street_id=args.get("street_id", type=int),
        selected=args.get("commissioner_id", type=int),
    )
    return forms.VisitFilterForm(
        args, streets=streets_for(current_user), commissioners=commissioners
    )


def read_filters(form: forms.VisitFilterForm) -> queries.VisitFilter:
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    start, end = ok(form.visited_from), ok(form.visited_to)
    if start and end and end < start:
        form.visited_to.errors = [_("The end date is before the start date.")]
        end = None
    return queries.VisitFilter(
        q=(ok(form.q) or "").strip(),
        visited_from=start,
        visited_to=end,
        street_id=ok(form.street_id),
        commissioner_id=ok(form.commissioner_id),
        method=ok(form.method) or None,
        joint_only=bool(ok(form.joint)),
        tier=ok(form.tier) or None,
    )


@bp.route("/")
@roles_required(*VISIT_VIEWERS)
def index():
    form = filter_form(request.args)
    filters = read_filters(form)
    page = db.paginate(
        queries.with_ledger_loading(queries.ledger_query(current_user, filters)),
        per_page=request.args.get("per_page", type=int) or PER_PAGE,
        max_per_page=200,
        error_out=False,
    )
    export_args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
    return render_template(
        "visits/index.html",
        page=page,
        form=form,
        export_args=export_args,
        filtered=filters != queries.VisitFilter(),
    )


@bp.route("/export.xlsx")
@roles_required(*VISIT_VIEWERS)
def export():
    filters = read_filters(filter_form(request.args))
    out, count = visit_export.export_visits(current_user, filters)
    record(
        "visit.export",
        object_type="visits",
        detail={"count": count, "filters": request.args.to_dict()},
    )
    db.session.commit()
    day = today().isoformat()
    return download(out, f"走访台账-{day}.xlsx", f"visits-{day}.xlsx")


# -- logging a visit ------------------------------------------------------------------------


def _staff() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(STAFF))
            .order_by(User.role, User.display_name, User.id)
            .options(selectinload(User.street), selectinload(User.department))
        )
    )


def _choices(firm: Firm | None = None) -> dict:
    requests = []
    if firm is not None:
        requests = list(
            db.session.scalars(
                select(ServiceRequest)
                .where(
                    ServiceRequest.firm_id == firm.id,
                    ServiceRequest.kind.in_(services.ASKING_KINDS),
                    ServiceRequest.state.in_(SERVICE_OPEN),
                )
                .order_by(ServiceRequest.created_at)
            )
        )
    return {
        "staff": _staff(),
        "departments": db.session.scalars(
            select(Department).where(Department.active.is_(True)).order_by(Department.code)
        ).all(),
        "categories": db.session.scalars(
            select(DemandCategory)
            .where(DemandCategory.active.is_(True))
            .order_by(DemandCategory.id)
        ).all(),
        "requests": requests,
    }


def _place_error(form, exc: VisitError) -> str | None:
    """Put ``exc`` beside its field; the message for the top of the page otherwise."""
    target = None
    if isinstance(exc.field, tuple) and len(exc.field) == 3:
        rows_name, i, name = exc.field
        rows = getattr(form, rows_name, None)
        if rows is not None and i < len(rows.entries) and name in rows[i].form:
            target = rows[i].form[name]
    elif isinstance(exc.field, str) and exc.field in form:
        target = form[exc.field]
    if target is None:
        return exc.message
    target.errors = [*target.errors, exc.message]
    return None


def _pick_firm(status: int = 200, error: str | None = None):
    q = request.args.get("q", "").strip()[:100]
    stmt = select(Firm).where(firm_scope(current_user), Firm.status != "moved_out")
    if q:
        stmt = stmt.where(
            or_(Firm.name.icontains(q, autoescape=True), Firm.uscc.icontains(q, autoescape=True))
        )
    firms = db.session.scalars(
        stmt.order_by(Firm.name, Firm.id).limit(FIRM_CHOICES).options(selectinload(Firm.street))
    ).all()
    return render_template("visits/pick_firm.html", firms=firms, q=q, error=error), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*VISIT_LOGGERS)
def new():
    firm_id = request.args.get("firm_id", type=int)
    if not firm_id:
        if request.method == "POST":
            return _pick_firm(422, _("Choose the firm you visited."))
        return _pick_firm()
    firm = db.session.get(Firm, firm_id)
    if firm is None:
        abort(404)
    if not can_log_visit(current_user, firm):
        deny("visit: firm out of scope")
    form = forms.VisitForm(**_choices(firm))
    if request.method == "GET":
        form.visited_on.data = today()
    if not form.submission_key.data:
        form.submission_key.data = uuid.uuid4().hex
    status, error = 200, None
    if form.validate_on_submit():
        request_id = form.service_request_id.data
        try:
            visit = services.log_visit(
                firm,
                actor=current_user,
                visited_on=form.visited_on.data,
                method=form.method.data,
                summary=form.summary.data,
                participants=form.participant_rows(),
                demands=form.demand_rows(),
                service_request=db.session.get(ServiceRequest, request_id) if request_id else None,
                courtesy_override=form.courtesy_override.data or "",
                submission_key=form.submission_key.data or None,
            )
            db.session.commit()
        except VisitError as exc:
            db.session.rollback()
            if exc.code == "role":
                deny("visit: not allowed")
            error, status = _place_error(form, exc), 422
        else:
            flash(_("Visit recorded."), "success")
            if visit.demands:
                flash(_("%(n)s demands entered the demand loop.", n=len(visit.demands)), "info")
            return redirect(url_for("visits.detail", visit_id=visit.id))
    elif request.method == "POST":
        status = 422
    on = form.visited_on.data if not form.visited_on.errors and form.visited_on.data else today()
    warn = queries.courtesy_warning(firm, on)
    return render_template(
        "visits/form.html",
        form=form,
        firm=firm,
        visit=None,
        error=error,
        courtesy=warn,
        limit=queries.cadence_for(firm.tier).courtesy_limit,
        recent=queries.recent_visits(firm.id, 3),
        today_iso=today().isoformat(),
    ), status


# -- one visit --------------------------------------------------------------------------------


def _load(visit_id: int) -> Visit:
    visit = queries.load_visit(visit_id)
    if visit is None or not can_view_visit(current_user, visit):
        abort(404)
    return visit


@bp.route("/<int:visit_id>")
@roles_required(*VISIT_VIEWERS)
def detail(visit_id: int):
    visit = _load(visit_id)
    return render_template(
        "visits/detail.html",
        visit=visit,
        can_edit=can_edit_visit(current_user, visit),
        demand_labels=demand_labels,
    )


def _edit_data(visit: Visit) -> dict:
    rows = [
        SimpleNamespace(
            user_id=p.user_id,
            name="" if p.user_id else p.name,
            unit="" if p.user_id else p.unit,
            level=p.level,
            department_id=None if p.user_id else p.department_id,
        )
        for p in visit.participants
    ]
    rows.append(SimpleNamespace(user_id=None, name="", unit="", level="other", department_id=None))
    return {
        "visited_on": visit.visited_on,
        "method": visit.method,
        "summary": visit.summary,
        "participants": rows,
        "loaded": services.fingerprint(visit),
    }


@bp.route("/<int:visit_id>/edit", methods=["GET", "POST"])
@roles_required(*VISIT_LOGGERS)
def edit(visit_id: int):
    visit = _load(visit_id)
    if not can_edit_visit(current_user, visit):
        deny("visit: not editable")
    choices = _choices()
    if request.method == "GET":
        form = forms.EditVisitForm(formdata=None, data=_edit_data(visit), **choices)
    else:
        form = forms.EditVisitForm(**choices)
    status, error = 200, None
    if form.validate_on_submit():
        try:
            services.update_visit(
                visit,
                actor=current_user,
                visited_on=form.visited_on.data,
                method=form.method.data,
                summary=form.summary.data,
                participants=form.participant_rows(),
                courtesy_override=form.courtesy_override.data or "",
                loaded=form.loaded.data or None,
            )
            db.session.commit()
        except VisitError as exc:
            db.session.rollback()
            if exc.code == "role":
                deny("visit: not editable")
            status = 409 if exc.code == "stale" else 422
            error = _place_error(form, exc)
            visit = _load(visit_id)
            form.loaded.data = services.fingerprint(visit)
        else:
            flash(_("Visit updated."), "success")
            return redirect(url_for("visits.detail", visit_id=visit.id))
    elif request.method == "POST":
        status = 422
    on = form.visited_on.data if not form.visited_on.errors and form.visited_on.data else None
    warn = (
        on is not None
        and not visit.requested_by_firm
        and on != visit.visited_on
        and queries.courtesy_warning(visit.firm, on, excluding=visit.id)
    )
    return render_template(
        "visits/form.html",
        form=form,
        firm=visit.firm,
        visit=visit,
        error=error,
        courtesy=warn,
        limit=queries.cadence_for(visit.firm.tier).courtesy_limit,
        recent=[],
        today_iso=today().isoformat(),
    ), status
