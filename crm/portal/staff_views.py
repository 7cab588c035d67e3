"""Staff's side of the portal: service requests, profile changes, sign-ups, invitations.

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

from crm import labels
from crm.audit.services import record
from crm.auth.permissions import (
    COMMISSIONER,
    OFFICE,
    STREET,
    can_edit_firm,
    can_view_firm,
    deny,
    roles_required,
)
from crm.extensions import db
from crm.firms.industries import describe as describe_industry
from crm.firms.models import Assignment, Firm
from crm.portal import queries, services, staff_forms
from crm.portal.models import Invitation, ProfileChange, ServiceRequest, SignupRequest
from crm.portal.services import PortalError

service_requests_bp = Blueprint("service_requests", __name__, url_prefix="/service-requests")
profile_changes_bp = Blueprint("profile_changes", __name__, url_prefix="/profile-changes")
signups_bp = Blueprint("signups", __name__, url_prefix="/signups")
invitations_bp = Blueprint("invitations", __name__, url_prefix="/invitations")

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


def _paginate(stmt):
    return db.paginate(
        stmt,
        per_page=request.args.get("per_page", type=int) or PER_PAGE,
        max_per_page=200,
        error_out=False,
    )


def _ok(field) -> str:
    return "" if field.errors or field.data is None else field.data


def _refusal(
    exc: PortalError, form, fields: dict[str, str] | None = None
) -> tuple[str | None, int]:
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
        state=_ok(form.state) or "open",
        kind=_ok(form.kind),
        commissioner=_ok(form.commissioner) or "all",
        q=_ok(form.q),
    )
    page = _paginate(queries.service_request_query(current_user, filters))
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
        error, status = _refusal(exc, form, {"scheduled_for": "day"})
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


REVIEW_FORMS = {"approve": staff_forms.ApproveForm, "reject": staff_forms.RefuseForm}


def _in_scope_or_404(firm: Firm) -> None:
    if not can_view_firm(current_user, firm):
        abort(404)


def _firm_loading(attribute):
    return (
        selectinload(attribute).selectinload(Firm.assignments).selectinload(Assignment.commissioner)
    )


def _review_forms(pending: bool, firm: Firm, posted) -> dict:
    forms = {}
    if pending and can_edit_firm(current_user, firm):
        forms = {name: cls(formdata=None, prefix=name) for name, cls in REVIEW_FORMS.items()}
    if posted is not None:
        forms[posted[0]] = posted[1]
    return forms


def _review(obj, key: str, perform, done: str, page, next_url: str):
    """Validate the review form ``key``, run ``perform``, commit; or show ``page`` again."""
    if not can_edit_firm(current_user, obj.firm):
        deny("portal review: firm not in care")
    form = REVIEW_FORMS[key](prefix=key)
    obj_id = obj.id
    if not form.validate_on_submit():
        return page(obj, posted=(key, form), status=422)
    try:
        result = perform(obj, form)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        message = _("Someone else changed this firm meanwhile: look again.")
        return page(obj_id, posted=(key, form), error=message, status=409)
    except PortalError as exc:
        db.session.rollback()
        error, status = _refusal(exc, form)
        return page(obj_id, posted=(key, form), error=error, status=status)
    flash(done(result) if callable(done) else done, "success")
    return redirect(next_url)


# -- profile changes ----------------------------------------------------------------------------


@profile_changes_bp.route("/", endpoint="index")
@roles_required(*PORTAL_STAFF)
def change_index():
    form = staff_forms.ReviewFilterForm(request.args)
    form.validate()
    page = _paginate(queries.profile_change_query(current_user, state=_ok(form.state)))
    return render_template("profile_changes/index.html", page=page, form=form)


def _load_change(change_id: int) -> ProfileChange:
    change = db.session.scalar(
        select(ProfileChange)
        .where(ProfileChange.id == change_id)
        .options(
            _firm_loading(ProfileChange.firm),
            selectinload(ProfileChange.proposed_by),
            selectinload(ProfileChange.reviewed_by),
        )
    )
    if change is None:
        abort(404)
    _in_scope_or_404(change.firm)
    return change


def _shown(field: str, value) -> str:
    """A stored or proposed value as people read it."""
    if value is None or value == "":
        return "—"
    if field == "size":
        return labels.label(labels.SIZES, value)
    if field == "revenue_band":
        return labels.label(labels.REVENUE_BANDS, value)
    if field == "industry_code":
        return describe_industry(value) or value
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def change_rows(change: ProfileChange) -> list[dict]:
    """Each proposed field: its label, the value on record now and when proposed, the
    value proposed; ``moved`` when the record changed since (approval would be refused)."""
    rows = []
    for field, values in change.changes.items():
        now = services._stored(change.firm, field)
        rows.append(
            {
                "field": field,
                "label": staff_forms.FIELD_LABELS.get(field, field),
                "now": _shown(field, now),
                "was": _shown(field, values.get("from")),
                "proposed": _shown(field, values.get("to")),
                "moved": change.state == "pending" and now != values.get("from"),
            }
        )
    return rows


def _change_page(change, *, posted=None, error=None, status: int = 200):
    if not isinstance(change, ProfileChange):
        change = _load_change(change)
    return render_template(
        "profile_changes/detail.html",
        change=change,
        rows=change_rows(change),
        forms=_review_forms(change.state == "pending", change.firm, posted),
        posted_key=posted[0] if posted else None,
        error=error,
        may_review=can_edit_firm(current_user, change.firm),
    ), status


@profile_changes_bp.route("/<int:change_id>", endpoint="detail")
@roles_required(*PORTAL_STAFF)
def change_detail(change_id: int):
    return _change_page(_load_change(change_id))


@profile_changes_bp.route("/<int:change_id>/approve", methods=["POST"], endpoint="approve")
@roles_required(*PORTAL_STAFF)
def change_approve(change_id: int):
    change = _load_change(change_id)

    def perform(change, form):
        return services.review_change(
            change, actor=current_user, approve=True, note=form.note.data or ""
        )

    return _review(
        change,
        "approve",
        perform,
        _("Approved: the firm's profile is updated."),
        _change_page,
        url_for("profile_changes.detail", change_id=change.id),
    )


@profile_changes_bp.route("/<int:change_id>/reject", methods=["POST"], endpoint="reject")
@roles_required(*PORTAL_STAFF)
def change_reject(change_id: int):
    change = _load_change(change_id)

    def perform(change, form):
        return services.review_change(
            change, actor=current_user, approve=False, note=form.note.data
        )

    return _review(
        change,
        "reject",
        perform,
        _("Refused: the firm is told why."),
        _change_page,
        url_for("profile_changes.detail", change_id=change.id),
    )


# -- sign-ups -------------------------------------------------------------------------------


@signups_bp.route("/", endpoint="index")
@roles_required(*PORTAL_STAFF)
def signup_index():
    form = staff_forms.ReviewFilterForm(request.args)
    form.validate()
    page = _paginate(queries.signup_query(current_user, state=_ok(form.state)))
    return render_template("signups/index.html", page=page, form=form)


def _load_signup(signup_id: int) -> SignupRequest:
    signup = db.session.scalar(
        select(SignupRequest)
        .where(SignupRequest.id == signup_id)
        .options(
            _firm_loading(SignupRequest.firm),
            selectinload(SignupRequest.reviewed_by),
            selectinload(SignupRequest.user),
        )
    )
    if signup is None:
        abort(404)
    _in_scope_or_404(signup.firm)
    return signup


def _signup_page(signup, *, posted=None, error=None, status: int = 200):
    if not isinstance(signup, SignupRequest):
        signup = _load_signup(signup)
    if status == 200 and signup.state == "pending":
        # Staff call the person to check they belong to the firm: a full view of the number.
        record("signup.reveal_phone", signup, user=current_user, detail={"firm_id": signup.firm_id})
        db.session.commit()
    return render_template(
        "signups/detail.html",
        signup=signup,
        accounts=queries.firm_accounts(signup.firm_id),
        forms=_review_forms(signup.state == "pending", signup.firm, posted),
        posted_key=posted[0] if posted else None,
        error=error,
        may_review=can_edit_firm(current_user, signup.firm),
    ), status


@signups_bp.route("/<int:signup_id>", endpoint="detail")
@roles_required(*PORTAL_STAFF)
def signup_detail(signup_id: int):
    return _signup_page(_load_signup(signup_id))


@signups_bp.route("/<int:signup_id>/approve", methods=["POST"], endpoint="approve")
@roles_required(*PORTAL_STAFF)
def signup_approve(signup_id: int):
    signup = _load_signup(signup_id)

    def perform(signup, form):
        return services.review_signup(
            signup, actor=current_user, approve=True, note=form.note.data or ""
        )

    return _review(
        signup,
        "approve",
        perform,
        lambda user: _(
            "Account %(username)s created: the person can log in now.", username=user.username
        ),
        _signup_page,
        url_for("signups.detail", signup_id=signup.id),
    )


@signups_bp.route("/<int:signup_id>/reject", methods=["POST"], endpoint="reject")
@roles_required(*PORTAL_STAFF)
def signup_reject(signup_id: int):
    signup = _load_signup(signup_id)

    def perform(signup, form):
        return services.review_signup(
            signup, actor=current_user, approve=False, note=form.note.data
        )

    return _review(
        signup,
        "reject",
        perform,
        _("Refused: no account was created."),
        _signup_page,
        url_for("signups.detail", signup_id=signup.id),
    )


# == invitations ===============================================================================


@invitations_bp.route("/", endpoint="index")
@roles_required(*PORTAL_STAFF)
def invitation_index():
    form = staff_forms.InvitationFilterForm(request.args)
    form.validate()
    page = _paginate(queries.invitation_query(current_user, state=_ok(form.state)))
    return render_template(
        "invitations/index.html", page=page, form=form, state_of=queries.invitation_state
    )


def _load_firm_to_invite(firm_id: int) -> Firm:
    firm = db.session.scalar(
        select(Firm)
        .where(Firm.id == firm_id)
        .options(selectinload(Firm.assignments).selectinload(Assignment.commissioner))
    )
    if firm is None:
        abort(404)
    _in_scope_or_404(firm)
    if not can_edit_firm(current_user, firm):
        deny("invitation: firm not in care")
    return firm


@invitations_bp.route("/firm/<int:firm_id>", methods=["GET", "POST"], endpoint="new")
@roles_required(*PORTAL_STAFF)
def invitation_new(firm_id: int):
    firm = _load_firm_to_invite(firm_id)
    form = staff_forms.InvitationForm()
    if request.method == "GET":
        return render_template(
            "invitations/new.html", firm=firm, form=form, invitation_days=services.INVITATION_DAYS
        )
    if form.validate_on_submit():
        try:
            invitation, token = services.invite(
                firm,
                actor=current_user,
                person_name=form.person_name.data,
                phone=form.phone.data or "",
                email=form.email.data or "",
            )
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            error, _status = _refusal(exc, form)
            if error:
                form.person_name.errors = [*form.person_name.errors, error]
        else:
            # The token is not stored: this page is the only place the link ever shows.
            link = request.host_url.rstrip("/") + f"/invite/{token}"
            response = render_template("invitations/created.html", invitation=invitation, link=link)
            return response, 200, {"Cache-Control": "no-store"}
    return render_template(
        "invitations/new.html", firm=firm, form=form, invitation_days=services.INVITATION_DAYS
    ), 422


@invitations_bp.route("/<int:invitation_id>/revoke", methods=["POST"], endpoint="revoke")
@roles_required(*PORTAL_STAFF)
def invitation_revoke(invitation_id: int):
    invitation = db.session.scalar(
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .options(_firm_loading(Invitation.firm))
    )
    if invitation is None:
        abort(404)
    _in_scope_or_404(invitation.firm)
    if not can_edit_firm(current_user, invitation.firm):
        deny("invitation: firm not in care")
    state = queries.invitation_state(invitation)
    services.revoke_invitation(invitation, actor=current_user)
    db.session.commit()
    if state == "used":
        flash(_("This invitation was already used: the account exists."), "warning")
    elif state == "live":
        flash(_("Invitation revoked: its link no longer works."), "success")
    else:
        flash(_("This invitation no longer worked."), "info")
    if request.form.get("next") == "firm":
        return redirect(url_for("firms.detail", firm_id=invitation.firm_id) + "#portal")
    return redirect(url_for("invitations.index"))
