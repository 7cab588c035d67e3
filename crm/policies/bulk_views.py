"""Bulk issuance of packages to a tier or a street, with its progress and one download.

Starting one returns at once: the packages are issued and rendered by a background job
(``crm.policies.bulk``), and the issuance's page follows it.
"""

from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import deny, roles_required
from crm.extensions import db
from crm.org.services import streets_for
from crm.policies import bulk as service
from crm.policies.bulk_forms import STATUS_LABELS, BulkIssuanceForm
from crm.policies.labels import CHANNEL_LABELS
from crm.policies.models import BulkIssuance
from crm.workcal.services import today

bp = Blueprint("bulk_packages", __name__, url_prefix="/packages/bulk")

PER_PAGE = 25
QUEUE_DOWN = _l("The job could not be queued: resume it once the background workers are back.")


@bp.context_processor
def _labels() -> dict:
    return {"channel_labels": CHANNEL_LABELS, "status_labels": STATUS_LABELS}


def _load(bulk_id: int) -> BulkIssuance:
    bulk = db.session.scalar(
        select(BulkIssuance)
        .where(BulkIssuance.id == bulk_id)
        .options(selectinload(BulkIssuance.street), selectinload(BulkIssuance.created_by))
    )
    if bulk is None:
        abort(404)
    if not service.can_view_bulk(current_user, bulk):
        deny("bulk issuance out of scope")
    return bulk


@bp.route("/")
@roles_required(*service.ROLES)
def index():
    status = request.args.get("status", "")
    query = (
        select(BulkIssuance)
        .where(service.bulk_scope(current_user))
        .options(selectinload(BulkIssuance.street), selectinload(BulkIssuance.created_by))
        .order_by(BulkIssuance.id.desc())
    )
    if status in STATUS_LABELS:
        query = query.where(BulkIssuance.status == status)
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=100, error_out=False)
    return render_template(
        "packages/bulk_index.html",
        page=page,
        status=status if status in STATUS_LABELS else "",
        resumable=service.resumable,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*service.ROLES)
def new():
    street_user = current_user.role == service.STREET
    form = BulkIssuanceForm(streets=streets_for(current_user), any_street=not street_user)
    if request.method == "GET":
        form.as_of.data = today()
        form.channel.data = "in_person"
        if street_user:
            form.street_id.data = current_user.street_id
    if form.validate_on_submit():
        try:
            bulk = service.start(
                tier=form.tier.data or None,
                street_id=form.street_id.data,
                as_of=form.as_of.data,
                channel=form.channel.data,
                actor=current_user,
            )
        except service.BulkError as exc:
            db.session.rollback()
            form[exc.field or "street_id"].errors.append(exc.message)
        else:
            db.session.commit()
            if service.launch(bulk) is None:
                flash(QUEUE_DOWN, "warning")
            else:
                flash(_("Bulk issuance to %(n)s firms started.", n=bulk.total), "success")
            return redirect(url_for("bulk_packages.detail", bulk_id=bulk.id))
    status = 422 if form.errors else 200
    return render_template("packages/bulk_new.html", form=form), status


@bp.route("/<int:bulk_id>")
@roles_required(*service.ROLES)
def detail(bulk_id: int):
    return _detail(_load(bulk_id))


def _detail(bulk: BulkIssuance, *, problem: str = "", status: int = 200):
    return render_template(
        "packages/bulk_detail.html",
        bulk=bulk,
        progress=service.progress_of(bulk),
        skipped=service.skipped_firms(bulk) if bulk.status == "done" else [],
        ready=service.ready_to_download(bulk),
        problem=problem,
    ), status


@bp.route("/<int:bulk_id>/status")
@roles_required(*service.ROLES)
def status(bulk_id: int):
    bulk = _load(bulk_id)
    return jsonify(
        id=bulk.id,
        **service.progress_of(bulk).as_dict(),
        status_label=str(STATUS_LABELS.get(bulk.status, bulk.status)),
    )


@bp.route("/<int:bulk_id>/resume", methods=["POST"])
@roles_required(*service.ROLES)
def resume(bulk_id: int):
    bulk = _load(bulk_id)
    if not service.requeue(bulk, actor=current_user):
        db.session.rollback()
        return _detail(
            bulk,
            problem=_("This issuance is not stopped: it is running, or done, already."),
            status=409,
        )
    db.session.commit()
    if service.launch(bulk) is None:
        flash(QUEUE_DOWN, "warning")
    else:
        flash(_("The issuance resumes where it stopped."), "success")
    return redirect(url_for("bulk_packages.detail", bulk_id=bulk.id))


@bp.route("/<int:bulk_id>/download")
@roles_required(*service.ROLES)
def download(bulk_id: int):
    bulk = _load(bulk_id)
    if not service.ready_to_download(bulk):
        return _detail(
            bulk,
            problem=_("The PDFs can be downloaded once every package is rendered."),
            status=409,
        )
    name = f"{_('Service packages')}-{bulk.id}-{bulk.as_of.isoformat()}.zip"
    response = send_file(service.write_zip(bulk), mimetype="application/zip", max_age=0)
    # The name in the user's language, an ASCII one for the few that ignore filename*.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"packages-{bulk.id}.zip\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
