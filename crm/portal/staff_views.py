"""Staff's side of the portal: the service requests firms book, and what the staff pages
share (the firm page's portal card, the open counts, paging and refusals). Reviews of
profile changes and sign-ups, and invitations, are in ``crm.portal.review_views``.

The office, the street's service centre and its commissioners see what the firms of their
scope asked through the portal and answer it. Each answer is a small POST form: validate,
call one service of ``crm.portal.services``, commit, flash and go back; or show the page
again with the refusal beside the form (422), or saying someone else got there first (409).
Records out of scope are 404s: their existence is nobody else's business.
"""

from datetime import datetime
from types import SimpleNamespace

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm.audit.services import record
from crm.auth.permissions import (
    COMMISSIONER,
    OFFICE,
    STREET,
    can_view_firm,
    deny,
    roles_required,
)
from crm.extensions import db
from crm.firms.models import Firm
from crm.portal import queries, services, staff_forms
from crm.portal.models import ServiceRequest
from crm.portal.services import PortalError

service_requests_bp = Blueprint("service_requests", __name__, url_prefix="/service-requests")

PORTAL_STAFF = (OFFICE, STREET, COMMISSIONER)
PER_PAGE = 25

portal_labels = SimpleNamespace(
    kinds=staff_forms.SERVICE_KIND_LABELS,
    states=staff_forms.SERVICE_STATE_LABELS,
    slots=staff_forms.SLOT_LABELS,
    reviews=staff_forms.REVIEW_STATE_LABELS,
    invitations=staff_forms.INVITATION_STATE_LABELS,
    fields=staff_forms.FIELD_LABELS,
)


@service_requests_bp.app_context_processor
def _portal_helpers() -> dict:
    """``firm_portal(firm)`` for the firm's page; ``portal_counts()`` for the menu badges."""
    return {
        "portal_labels": portal_labels,
        "firm_portal": _firm_portal,
        "portal_counts": _portal_counts,
    }


def _is_portal_staff() -> bool:
    return current_user.is_authenticated and current_user.role in PORTAL_STAFF


def _firm_portal(firm: Firm) -> queries.FirmPortal | None:
    if not _is_portal_staff() or not can_view_firm(current_user, firm):
        return None
    return queries.firm_portal(firm)


def _portal_counts() -> dict[str, int] | None:
    """Counted once per request, and only when a page asks."""
    if not _is_portal_staff():
        return None
    if "portal_counts" not in g:
        g.portal_counts = queries.open_counts(current_user)
    return g.portal_counts


def paginate(stmt):
    return db.paginate(
        stmt,
        per_page=request.args.get("per_page", type=int) or PER_PAGE,
        max_per_page=200,
        error_out=False,
    )


def kept_value(field) -> str:
    return "" if field.errors or field.data is None else field.data


def refusal(exc: PortalError, form, fields: dict[str, str] | None = None) -> tuple[str | None, int]:
    """Put ``exc`` beside its field of ``form``; (page-level message or None, status).

    Someone else's change (``stale``) or a request already answered (``state``) is a
    conflict, 409; a wrong or missing value is 422. Acting out of one's care is a 403.
    """
    if exc.code == "role":
        deny("portal: not in care")
    name = (fields or {}).get(exc.field, exc.field)
    status = 409 if exc.code in ("stale", "state") else 422
    if name and name in form:
        form[name].errors = [*form[name].errors, exc.message]
        return None, status
    return exc.message, status


# == service requests ==========================================================================


SERVICE_FORMS = {
    "schedule": staff_forms.ScheduleForm,
    "complete": staff_forms.CompleteForm,
    "cancel": staff_forms.CancelForm,
}


@service_requests_bp.route("/")
@roles_required(*PORTAL_STAFF)
def index():
    mine = current_user.role == COMMISSIONER
    args = request.args.copy()
    args.setdefault("state", "open")
    args.setdefault("commissioner", "mine" if mine else "all")
    form = staff_forms.ServiceFilterForm(
        args, commissioners=queries.commissioners_in_scope(current_user), mine=mine
    )
    form.validate()
    filters = queries.ServiceFilter(
        state=kept_value(form.state) or "open",
        kind=kept_value(form.kind),
        commissioner=kept_value(form.commissioner) or "all",
        q=kept_value(form.q),
    )
    page = paginate(queries.service_request_query(current_user, filters))
    defaults = filters.state == "open" and not filters.kind and not filters.q
    return render_template(
        "service_requests/index.html", page=page, form=form, filters=filters, defaults=defaults
    )


def _load_service(service_request_id: int) -> ServiceRequest:
    req = db.session.scalar(
        select(ServiceRequest)
        .where(ServiceRequest.id == service_request_id)
        .options(
            selectinload(ServiceRequest.firm),
            selectinload(ServiceRequest.commissioner),
            selectinload(ServiceRequest.requested_by),
            selectinload(ServiceRequest.handled_by),
        )
    )
    if req is None or not services.can_handle_service(current_user, req):
        abort(404)
    return req


def _blank_service_forms(req: ServiceRequest) -> dict:
    if not req.is_open:
        return {}
    built = {name: cls(formdata=None, prefix=name) for name, cls in SERVICE_FORMS.items()}
    schedule = built["schedule"]
    if req.scheduled_for is not None:
        schedule.day.data = req.scheduled_for.date()
        schedule.time.data = req.scheduled_for.time()
        schedule.note.data = req.schedule_note
    else:
        schedule.day.data = req.preferred_date
    for form in built.values():
        form.version.data = str(req.version)
    return built


def _service_page(req: ServiceRequest, *, posted=None, error=None, status: int = 200):
    forms = _blank_service_forms(req)
    if posted is not None:
        key, form = posted
        form.version.data = str(req.version)  # so "submit again" can go through
        forms[key] = form
    if status == 200 and req.contact_phone:
        # The number is shown whole to the people who call the firm back: a full view.
        record(
            "service_request.reveal_phone", req, user=current_user, detail={"firm_id": req.firm_id}
        )
        db.session.commit()
    return render_template(
        "service_requests/detail.html",
        req=req,
        forms=forms,
        posted_key=posted[0] if posted else None,
        error=error,
    ), status


@service_requests_bp.route("/<int:service_request_id>")
@roles_required(*PORTAL_STAFF)
def detail(service_request_id: int):
    return _service_page(_load_service(service_request_id))


def _act_on_service(service_request_id: int, key: str, perform, done: str):
    req = _load_service(service_request_id)
    form = SERVICE_FORMS[key](prefix=key)
    if not form.validate_on_submit():
        error = _("The form was incomplete: reload the page.") if form.version.errors else None
        return _service_page(req, posted=(key, form), error=error, status=422)
    try:
        perform(req, form)
        db.session.commit()
    except StaleDataError:
        # Another answer landed between our read and our write.
        db.session.rollback()
        error = _("Someone else changed this request: look again.")
        return _service_page(
            _load_service(service_request_id), posted=(key, form), error=error, status=409
        )
    except PortalError as exc:
        db.session.rollback()
        error, status = refusal(exc, form, {"scheduled_for": "day"})
        return _service_page(
            _load_service(service_request_id), posted=(key, form), error=error, status=status
        )
    flash(done, "success")
    return redirect(url_for("service_requests.detail", service_request_id=service_request_id))


@service_requests_bp.route("/<int:service_request_id>/schedule", methods=["POST"])
@roles_required(*PORTAL_STAFF)
def schedule(service_request_id: int):
    def perform(req, form):
        services.schedule_service(
            req,
            actor=current_user,
            scheduled_for=datetime.combine(form.day.data, form.time.data),
            note=form.note.data or "",
            expected_version=form.expected_version,
        )

    return _act_on_service(
        service_request_id, "schedule", perform, _("Scheduled: the firm is told.")
    )


@service_requests_bp.route("/<int:service_request_id>/complete", methods=["POST"])
@roles_required(*PORTAL_STAFF)
def complete(service_request_id: int):
    def perform(req, form):
        services.complete_service(
            req,
            actor=current_user,
            outcome=form.outcome.data,
            expected_version=form.expected_version,
        )

    return _act_on_service(
        service_request_id, "complete", perform, _("Recorded as done: the firm is told.")
    )


@service_requests_bp.route("/<int:service_request_id>/cancel", methods=["POST"])
@roles_required(*PORTAL_STAFF)
def cancel(service_request_id: int):
    def perform(req, form):
        services.cancel_service(
            req, actor=current_user, reason=form.reason.data, expected_version=form.expected_version
        )

    return _act_on_service(
        service_request_id, "cancel", perform, _("Cancelled: the firm is told why.")
    )


# == reviews: profile changes and sign-ups ======================================================
