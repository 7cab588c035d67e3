"""Prospects not yet registered, and their registration as firms."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BuildError

from crm.assistance import prospect_services as services
from crm.assistance.models import Prospect
from crm.assistance.prospect_forms import (
    STATE_LABELS,
    DropForm,
    ProspectFilterForm,
    ProspectForm,
    RegisterForm,
)
from crm.auth.permissions import (
    COMMISSIONER,
    OFFICE,
    STREET,
    can_edit_prospect,
    can_view_prospect,
    deny,
    roles_required,
)
from crm.extensions import db
from crm.org.services import streets_for

bp = Blueprint("prospects", __name__, url_prefix="/prospects")

# DESIGN §2: prospects are worked by the office and by each street's people.
WORKERS = (OFFICE, STREET, COMMISSIONER)
PER_PAGE = 25


def optional_url(endpoint: str, **values) -> str | None:
    """A link to another area's page, or None while that page does not exist."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


@bp.context_processor
def _helpers() -> dict:
    return {
        "state_labels": STATE_LABELS,
        "optional_url": optional_url,
        "can_edit_prospect": can_edit_prospect,
    }


def _load(prospect_id: int, *, for_edit: bool = False) -> Prospect:
    prospect = db.session.scalar(
        select(Prospect)
        .where(Prospect.id == prospect_id)
        .options(
            selectinload(Prospect.street),
            selectinload(Prospect.owner),
            selectinload(Prospect.firm),
            selectinload(Prospect.created_by),
        )
    )
    if prospect is None:
        abort(404)
    check = can_edit_prospect if for_edit else can_view_prospect
    if not check(current_user, prospect):
        deny("prospect out of scope")
    return prospect


def _streets(keep=None) -> list:
    """The streets the user may choose, with ``keep`` (a record's current one) kept."""
    streets = streets_for(current_user)
    if keep is not None and all(s.id != keep.id for s in streets):
        streets.append(keep)
    return streets


def _owners(keep=None) -> list:
    owners = services.owner_choices(current_user)
    if keep is not None and all(u.id != keep.id for u in owners):
        owners.append(keep)
    return owners


@bp.route("/")
@roles_required(*WORKERS)
def index():
    owners = services.owner_choices(current_user)
    form = ProspectFilterForm(request.args, streets=streets_for(current_user), owners=owners)
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    filters = services.ProspectFilter(
        q=(ok(form.q) or "").strip(),
        state=ok(form.state) or None,
        street_id=ok(form.street_id),
        owner_id=ok(form.owner_id),
    )
    page = db.paginate(
        services.prospect_query(current_user, filters),
        per_page=request.args.get("per_page", type=int) or PER_PAGE,
        max_per_page=200,
        error_out=False,
    )
    return render_template(
        "assistance/prospects/index.html",
        page=page,
        form=form,
        counts=services.case_counts([p.id for p in page.items]),
        filtered=filters != services.ProspectFilter(),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*WORKERS)
def new():
    form = ProspectForm(streets=_streets(), owners=_owners())
    if request.method == "GET":
        form.owner_id.data = current_user.id
        if current_user.street_id is not None:
            form.street_id.data = current_user.street_id
    if form.validate_on_submit():
        try:
            prospect = services.create_prospect(form.prospect_data(), actor=current_user)
        except services.ProspectError as exc:
            db.session.rollback()
            form[exc.field or "name"].errors.append(exc.message)
        else:
            db.session.commit()
            flash(_("Prospect %(name)s recorded.", name=prospect.name), "success")
            return redirect(url_for("prospects.detail", prospect_id=prospect.id))
    status = 422 if form.errors else 200
    return render_template("assistance/prospects/form.html", form=form, prospect=None), status


@bp.route("/<int:prospect_id>")
@roles_required(*WORKERS)
def detail(prospect_id: int):
    return _detail(_load(prospect_id))


def _detail(prospect: Prospect, *, drop_form: DropForm | None = None, status: int = 200):
    if drop_form is None:
        drop_form = DropForm(formdata=None, prefix="drop")
        drop_form.version.data = str(prospect.version)
    return render_template(
        "assistance/prospects/detail.html",
        prospect=prospect,
        cases=services.prospect_cases(prospect),
        drop_form=drop_form,
    ), status


@bp.route("/<int:prospect_id>/edit", methods=["GET", "POST"])
@roles_required(*WORKERS)
def edit(prospect_id: int):
    prospect = _load(prospect_id, for_edit=True)
    form = ProspectForm(
        obj=prospect, streets=_streets(prospect.street), owners=_owners(prospect.owner)
    )
    stale = False
    if request.method == "GET" and prospect.contact_phone:
        services.reveal_phone(prospect, actor=current_user)
        db.session.commit()
    if form.validate_on_submit():
        try:
            services.update_prospect(
                prospect,
                form.prospect_data(),
                actor=current_user,
                expected_version=form.expected_version,
            )
            db.session.commit()
        except (services.StaleProspect, StaleDataError):
            db.session.rollback()
            stale = True
        except services.ProspectError as exc:
            db.session.rollback()
            form[exc.field or "name"].errors.append(exc.message)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("prospects.detail", prospect_id=prospect.id))
    status = 409 if stale else 422 if form.errors else 200
    if stale:
        prospect = _load(prospect_id, for_edit=True)
    return render_template(
        "assistance/prospects/form.html", form=form, prospect=prospect, stale=stale
    ), status


@bp.route("/<int:prospect_id>/drop", methods=["POST"])
@roles_required(*WORKERS)
def drop(prospect_id: int):
    prospect = _load(prospect_id, for_edit=True)
    form = DropForm(prefix="drop")
    if not form.validate_on_submit():
        return _detail(prospect, drop_form=form, status=422)
    try:
        services.drop_prospect(
            prospect,
            actor=current_user,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )
        db.session.commit()
    except (services.StaleProspect, StaleDataError):
        db.session.rollback()
        form.reason.errors.append(str(services.StaleProspect()))
        return _detail(_load(prospect_id), drop_form=form, status=409)
    except services.ProspectError as exc:
        db.session.rollback()
        form.reason.errors.append(exc.message)
        return _detail(_load(prospect_id), drop_form=form, status=409)
    flash(_("Prospect %(name)s dropped.", name=prospect.name), "success")
    return redirect(url_for("prospects.detail", prospect_id=prospect.id))


@bp.route("/<int:prospect_id>/register", methods=["GET", "POST"])
@roles_required(*WORKERS)
def register(prospect_id: int):
    prospect = _load(prospect_id, for_edit=True)
    form = RegisterForm(streets=_streets(prospect.street))
    if request.method == "GET":
        if prospect.state != "open":
            flash(_("Only a prospect still being followed up can register."), "info")
            return redirect(url_for("prospects.detail", prospect_id=prospect.id))
        form.name.data = prospect.name
        form.street_id.data = prospect.street_id
        form.industry_code.data = prospect.industry_code
        form.version.data = str(prospect.version)
    status = 200
    if form.validate_on_submit():
        try:
            firm, linked = services.register_prospect(
                prospect,
                actor=current_user,
                data=form.registration_data(),
                expected_version=form.expected_version,
            )
            db.session.commit()
        except (services.StaleProspect, StaleDataError):
            db.session.rollback()
            form.uscc.errors.append(str(services.StaleProspect()))
            status = 409
        except services.ProspectError as exc:
            db.session.rollback()
            form[exc.field if exc.field in form else "uscc"].errors.append(exc.message)
            status = 422 if exc.field else 409
        except IntegrityError:
            # The same code registered by someone else a moment ago, past the check.
            db.session.rollback()
            form.uscc.errors.append(_("Another firm already has this code."))
            status = 409
        else:
            if linked:
                message = _(
                    "%(name)s is linked to the firm on file, %(firm)s; its cases moved there.",
                    name=prospect.name,
                    firm=firm.name,
                )
            else:
                message = _(
                    "%(firm)s is registered; the prospect's cases moved to it.", firm=firm.name
                )
            flash(message, "success")
            return redirect(url_for("firms.detail", firm_id=firm.id))
    elif request.method == "POST":
        status = 422
    if status != 200:
        prospect = _load(prospect_id, for_edit=True)
    return render_template(
        "assistance/prospects/register.html", form=form, prospect=prospect
    ), status
