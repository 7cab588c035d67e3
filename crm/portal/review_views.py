"""Staff review what firms propose through the portal — profile changes and sign-ups —
and invite a firm's people with a one-time link."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm import labels
from crm.audit.services import record
from crm.auth.permissions import can_edit_firm, can_view_firm, deny, roles_required
from crm.extensions import db
from crm.firms.industries import describe as describe_industry
from crm.firms.models import Assignment, Firm
from crm.portal import queries, services, staff_forms
from crm.portal.models import Invitation, ProfileChange, SignupRequest
from crm.portal.services import PortalError
from crm.portal.staff_views import PORTAL_STAFF, kept_value, paginate, refusal

profile_changes_bp = Blueprint("profile_changes", __name__, url_prefix="/profile-changes")
signups_bp = Blueprint("signups", __name__, url_prefix="/signups")
invitations_bp = Blueprint("invitations", __name__, url_prefix="/invitations")


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
        error, status = refusal(exc, form)
        return page(obj_id, posted=(key, form), error=error, status=status)
    flash(done(result) if callable(done) else done, "success")
    return redirect(next_url)


# -- profile changes ----------------------------------------------------------------------------


@profile_changes_bp.route("/", endpoint="index")
@roles_required(*PORTAL_STAFF)
def change_index():
    form = staff_forms.ReviewFilterForm(request.args)
    form.validate()
    page = paginate(queries.profile_change_query(current_user, state=kept_value(form.state)))
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
    page = paginate(queries.signup_query(current_user, state=kept_value(form.state)))
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
    page = paginate(queries.invitation_query(current_user, state=kept_value(form.state)))
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
            error, _status = refusal(exc, form)
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
