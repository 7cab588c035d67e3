"""A firm's service packages, for staff: compose, issue, read, download, acknowledge.

Composing shows what matching finds today (or on the day chosen); issuing freezes it
(``crm.policies.packages.issue``). An issued package is always shown and printed from its
snapshot, never matched again, so the page and the PDF show what the firm received.
"""

import io
import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import deny, roles_required
from crm.extensions import db
from crm.firms.models import Firm
from crm.policies import matching, package_forms, packages, pdf
from crm.policies.labels import CHANNEL_LABELS, LEVEL_LABELS
from crm.policies.models import ServicePackage
from crm.policies.package_permissions import (
    ISSUERS,
    READERS,
    can_issue_package,
    can_read_packages,
)
from crm.policies.queries import street_names
from crm.workcal.services import today

bp = Blueprint("packages", __name__, url_prefix="/packages")

PER_PAGE = 20
# Characters a file name may not hold on the systems people download to.
_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@bp.context_processor
def _helpers() -> dict:
    return {
        "channel_labels": CHANNEL_LABELS,
        "outcome_labels": matching.OUTCOME_LABELS,
        "status_labels": matching.STATUS_LABELS,
        "level_labels": LEVEL_LABELS,
        "can_issue_package": can_issue_package,
    }


@bp.app_template_global("firm_packages")
def firm_packages(firm: Firm) -> dict | None:
    """The firm page's packages card: the latest package and how many versions there are,
    or None for a user who may not read them. ``{% include "packages/_firm_packages.html" %}``
    """
    if not current_user.is_authenticated or not can_read_packages(current_user, firm):
        return None
    count, latest_id = db.session.execute(
        select(func.count(ServicePackage.id), func.max(ServicePackage.id)).where(
            ServicePackage.firm_id == firm.id
        )
    ).one()
    latest = db.session.get(ServicePackage, latest_id) if latest_id else None
    return {
        "count": count,
        "latest": latest,
        "can_issue": can_issue_package(current_user, firm),
    }


# -- loading, with the permission checks -------------------------------------------------


def _firm(firm_id: int, *, to_issue: bool = False) -> Firm:
    firm = db.session.get(Firm, firm_id)
    if firm is None:
        abort(404)
    check = can_issue_package if to_issue else can_read_packages
    if not check(current_user, firm):
        deny("firm's packages out of scope")
    return firm


def _package(package_id: int, *, to_issue: bool = False) -> ServicePackage:
    package = db.session.scalar(
        select(ServicePackage)
        .where(ServicePackage.id == package_id)
        .options(
            selectinload(ServicePackage.firm),
            selectinload(ServicePackage.issued_by),
            selectinload(ServicePackage.acknowledged_by),
        )
    )
    if package is None:
        abort(404)
    check = can_issue_package if to_issue else can_read_packages
    if not check(current_user, package.firm):
        deny("package out of scope")
    return package


# -- a firm's packages --------------------------------------------------------------------


@bp.route("/firm/<int:firm_id>")
@roles_required(*READERS)
def firm_index(firm_id: int):
    firm = _firm(firm_id)
    page = db.paginate(
        select(ServicePackage)
        .where(ServicePackage.firm_id == firm.id)
        .options(selectinload(ServicePackage.issued_by))
        .order_by(ServicePackage.number.desc()),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template("packages/firm.html", firm=firm, page=page)


# -- composing and issuing ----------------------------------------------------------------


@bp.route("/firm/<int:firm_id>/new", methods=["GET", "POST"])
@roles_required(*ISSUERS)
def compose(firm_id: int):
    firm = _firm(firm_id, to_issue=True)
    if request.method == "POST":
        form = package_forms.IssueForm()
        day_form = package_forms.AsOfForm(data={"as_of": form.as_of.data})
    else:
        day_form = package_forms.AsOfForm(request.args)
        day_form.validate()
        form = package_forms.IssueForm(data={"as_of": day_form.as_of.data or today()})
    on = min(form.as_of.data or today(), today())
    composition = packages.compose(firm, on)
    form.offer(composition.proposed)
    problem = ""
    if form.validate_on_submit():
        try:
            package = packages.issue(
                firm,
                by=current_user,
                on=form.as_of.data,
                channel=form.channel.data,
                confirmed=form.confirmed.data or (),
                note=form.note.data or "",
            )
        except packages.PackageError as exc:
            db.session.rollback()
            if exc.field in form:
                form[exc.field].errors = [*form[exc.field].errors, exc.message]
            else:
                problem = exc.message
            # What the page showed has changed: show the proposals as they are now.
            composition = packages.compose(firm, on)
            form.offer(composition.proposed)
        else:
            db.session.commit()
            flash(
                _("Package version %(n)s issued to %(firm)s.", n=package.number, firm=firm.name),
                "success",
            )
            return redirect(url_for("packages.detail", package_id=package.id))
    refused = bool(problem or form.errors or day_form.errors)
    return render_template(
        "packages/compose.html",
        firm=firm,
        composition=composition,
        interaction=packages.interaction_part(firm),
        form=form,
        day_form=day_form,
        problem=problem,
        streets=street_names(),
        explain=matching.explain,
        summary=matching.summary,
        previous=db.session.scalar(
            select(func.max(ServicePackage.number)).where(ServicePackage.firm_id == firm.id)
        ),
    ), (422 if refused else 200)


# -- one package ----------------------------------------------------------------------------


@bp.route("/<int:package_id>")
@roles_required(*READERS)
def detail(package_id: int):
    package = _package(package_id)
    return _detail(package, package_forms.AcknowledgeForm(formdata=None))


def _detail(package: ServicePackage, form: package_forms.AcknowledgeForm, status: int = 200):
    return render_template(
        "packages/detail.html",
        package=package,
        p=package.snapshot,
        form=form,
        chinese_date=pdf.chinese_date,
        latest=db.session.scalar(
            select(func.max(ServicePackage.number)).where(ServicePackage.firm_id == package.firm_id)
        ),
    ), status


def download_name(package: ServicePackage) -> str:
    """服务包 file name: the firm's name as issued, the version, with nothing a file system
    refuses."""
    name = _UNSAFE_IN_NAME.sub("_", package.snapshot["firm"]["name"]).strip(" ._") or "企业"
    return f"{name[:80]}-企业服务包-第{package.number}版.pdf"


def pdf_download(package: ServicePackage) -> Response:
    """The package's PDF as a download, rendered and kept on first use (committed);
    ``pdf.RenderError`` (rolled back) when it cannot be produced now. Staff, portal and
    API downloads all answer with this."""
    try:
        document = pdf.document_for(package)
    except pdf.RenderError:
        db.session.rollback()
        raise
    db.session.commit()
    response = send_file(
        io.BytesIO(document.pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=download_name(package),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def unavailable():
    """The page for a PDF that could not be produced (503): try again shortly."""
    message = _("The PDF could not be produced just now. Try again in a minute.")
    return render_template("errors/error.html", code=503, message=message), 503


@bp.route("/<int:package_id>.pdf")
@roles_required(*READERS)
def download(package_id: int):
    try:
        return pdf_download(_package(package_id))
    except pdf.RenderError:
        return unavailable()


@bp.route("/<int:package_id>/acknowledge", methods=["POST"])
@roles_required(*ISSUERS)
def acknowledge(package_id: int):
    package = _package(package_id, to_issue=True)
    form = package_forms.AcknowledgeForm()
    if not form.validate_on_submit():
        return _detail(package, form, 422)
    try:
        packages.acknowledge(package, by=current_user, note=form.note.data or "")
    except packages.PackageError as exc:
        db.session.rollback()
        form.note.errors = [exc.message]
        return _detail(_package(package_id), form, 409)
    db.session.commit()
    flash(_("The firm's acknowledgement is recorded."), "success")
    return redirect(url_for("packages.detail", package_id=package.id))
