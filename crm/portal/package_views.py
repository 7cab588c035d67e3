"""The firm's service packages (服务包) and the policies it matches, in its portal.

A package is shown as it was issued: the page reads the snapshot, never today's policies
or people, so the firm sees exactly what it received. "Policies for us" is the opposite:
matching run now against the policies in force today, with the reason of each criterion.

Every page is the logged-in firm user's own firm's; another firm's package answers 404.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import StringField
from wtforms.validators import Length, Optional

from crm.auth.permissions import FIRM, deny, roles_required
from crm.extensions import db
from crm.firms.models import Firm
from crm.policies import matching, pdf
from crm.policies.labels import CHANNEL_LABELS, KIND_LABELS, LEVEL_LABELS
from crm.policies.models import ServicePackage
from crm.policies.package_views import pdf_download, unavailable
from crm.policies.packages import PackageError, acknowledge
from crm.policies.queries import match_firm, street_names
from crm.workcal.services import today

bp = Blueprint("portal_packages", __name__, url_prefix="/portal")

PER_PAGE = 20
# What a firm is shown of its matches: what it may get, and what it nearly gets.
SHOWN_OUTCOMES = (matching.ELIGIBLE, matching.PENDING_REVIEW, matching.NEAR_MISS)


class AcknowledgeForm(FlaskForm):
    """签收: the firm says it received the package; a note is optional."""

    class Meta:
        csrf = False  # the app-wide CSRFProtect checks every post

    note = StringField(
        _l("Note (optional)"),
        validators=[Optional(), Length(max=200)],
        description=_l("For example who received it, or a question for your commissioner."),
    )


@bp.context_processor
def _labels() -> dict:
    return {
        "channel_labels": CHANNEL_LABELS,
        "kind_labels": KIND_LABELS,
        "level_labels": LEVEL_LABELS,
        "outcome_labels": matching.OUTCOME_LABELS,
        "status_labels": matching.STATUS_LABELS,
    }


def _firm() -> Firm:
    firm = db.session.scalar(
        select(Firm).where(Firm.id == current_user.firm_id).options(selectinload(Firm.street))
    )
    if firm is None:
        deny("firm user without a firm")
    return firm


def _package(package_id: int) -> ServicePackage:
    """The firm's own package; 404 for anyone else's, so nothing is learnt about it."""
    package = db.session.scalar(
        select(ServicePackage).where(
            ServicePackage.id == package_id, ServicePackage.firm_id == current_user.firm_id
        )
    )
    if package is None:
        abort(404)
    return package


# -- packages -------------------------------------------------------------------------------


@bp.route("/packages")
@roles_required(FIRM)
def packages():
    stmt = (
        select(ServicePackage)
        .where(ServicePackage.firm_id == current_user.firm_id)
        .order_by(ServicePackage.issued_at.desc(), ServicePackage.id.desc())
    )
    page = db.paginate(stmt, per_page=PER_PAGE, max_per_page=100, error_out=False)
    return render_template("portal/packages.html", page=page)


def _render_package(package: ServicePackage, form=None, *, error=None, status=200):
    if form is None and package.acknowledged_at is None:
        form = AcknowledgeForm(formdata=None)
    return render_template("portal/package.html", package=package, form=form, error=error), status


@bp.route("/packages/<int:package_id>")
@roles_required(FIRM)
def package(package_id: int):
    return _render_package(_package(package_id))


@bp.route("/packages/<int:package_id>/pdf")
@roles_required(FIRM)
def package_pdf(package_id: int):
    try:
        return pdf_download(_package(package_id))
    except pdf.RenderError:
        return unavailable()


@bp.route("/packages/<int:package_id>/acknowledge", methods=["POST"])
@roles_required(FIRM)
def package_acknowledge(package_id: int):
    package = _package(package_id)
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        return _render_package(package, form, status=422)
    try:
        acknowledge(package, by=current_user, note=form.note.data or "")
    except PackageError as exc:
        db.session.rollback()
        return _render_package(_package(package_id), None, error=exc.message, status=409)
    db.session.commit()
    flash(_("Thank you: the package is acknowledged as received."), "success")
    return redirect(url_for("portal_packages.package", package_id=package_id))


# -- policies for us ------------------------------------------------------------------------


@bp.route("/policies")
@roles_required(FIRM)
def policies():
    firm = _firm()
    outcome = request.args.get("outcome", "")
    if outcome not in SHOWN_OUTCOMES:
        outcome = ""
    on = today()
    matches = [m for m in match_firm(firm, on) if m.outcome in SHOWN_OUTCOMES]
    counts = {o: sum(m.outcome == o for m in matches) for o in SHOWN_OUTCOMES}
    if outcome:
        matches = [m for m in matches if m.outcome == outcome]
    streets = street_names()
    shown = [
        (
            m,
            matching.summary(m, streets=streets),
            [(r.status, matching.explain(r, streets=streets)) for r in m.reasons],
        )
        for m in matches
    ]
    return render_template(
        "portal/policies.html",
        firm=firm,
        on=on,
        matches=shown,
        counts=counts,
        outcome=outcome,
        outcomes=SHOWN_OUTCOMES,
    )
