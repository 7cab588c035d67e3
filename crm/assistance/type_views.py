"""Case types: the office edits stage templates and checklists."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm.assistance import type_services as services
from crm.assistance.models import CaseStage, CaseType, ChecklistTemplateItem
from crm.assistance.type_forms import (
    KIND_LABELS,
    ROUTE_LABELS,
    CaseTypeForm,
    ChecklistItemForm,
    MoveForm,
    NewCaseTypeForm,
    StageForm,
)
from crm.auth.permissions import OFFICE, roles_required
from crm.extensions import db

bp = Blueprint("case_types", __name__, url_prefix="/case-types")

# DESIGN §6: the office keeps the types, their stages and checklists.
KEEPERS = (OFFICE,)


@bp.context_processor
def _labels() -> dict:
    return {"kind_labels": KIND_LABELS, "route_labels": ROUTE_LABELS}


def _load_type(case_type_id: int) -> CaseType:
    case_type = db.session.scalar(
        select(CaseType)
        .where(CaseType.id == case_type_id)
        .options(
            selectinload(CaseType.stages),
            selectinload(CaseType.checklist).selectinload(ChecklistTemplateItem.stage),
        )
    )
    if case_type is None:
        abort(404)
    return case_type


def _load_stage(case_type: CaseType, stage_id: int) -> CaseStage:
    stage = next((s for s in case_type.stages if s.id == stage_id), None)
    if stage is None:
        abort(404)
    return stage


def _load_item(case_type: CaseType, template_item_id: int) -> ChecklistTemplateItem:
    item = next((i for i in case_type.checklist if i.id == template_item_id), None)
    if item is None:
        abort(404)
    return item


@bp.route("/")
@roles_required(*KEEPERS)
def index():
    return render_template(
        "assistance/types/index.html",
        case_types=services.all_case_types(),
        counts=services.case_counts(),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def new():
    form = NewCaseTypeForm()
    if request.method == "GET":
        form.active.data = True
        form.kind.data = "other"
    if form.validate_on_submit():
        data = {**form.type_data(), "code": form.code.data}
        try:
            case_type = services.create_case_type(data, form.stage_names(), actor=current_user)
            db.session.commit()
        except services.CaseTypeError as exc:
            db.session.rollback()
            form[exc.field or "name"].errors.append(exc.message)
        except IntegrityError:
            db.session.rollback()  # the same code or name saved a moment ago
            form.name.errors.append(_("Another case type already has this name or code."))
        else:
            flash(_("%(name)s created. Add its checklist below.", name=case_type.name), "success")
            return redirect(url_for("case_types.detail", case_type_id=case_type.id))
    status = 422 if form.errors else 200
    return render_template("assistance/types/form.html", form=form, case_type=None), status


@bp.route("/<int:case_type_id>")
@roles_required(*KEEPERS)
def detail(case_type_id: int):
    return _editor(_load_type(case_type_id))


@bp.route("/<int:case_type_id>/edit", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def edit(case_type_id: int):
    case_type = _load_type(case_type_id)
    form = CaseTypeForm(obj=case_type)
    if form.validate_on_submit():
        try:
            services.update_case_type(case_type, form.type_data(), actor=current_user)
            db.session.commit()
        except services.CaseTypeError as exc:
            db.session.rollback()
            form[exc.field or "name"].errors.append(exc.message)
        except IntegrityError:
            db.session.rollback()
            form.name.errors.append(_("Another case type already has this name."))
        else:
            flash(_("Saved. Changes apply to cases opened from now on."), "success")
            return redirect(url_for("case_types.detail", case_type_id=case_type.id))
    status = 422 if form.errors else 200
    return render_template("assistance/types/form.html", form=form, case_type=case_type), status


def _editor(case_type: CaseType, *, posted=None, error: str | None = None, status: int = 200):
    """The type's page: its stages and checklist, each row with its small forms.

    ``posted``: (key, form) of a form that came back refused, shown with what was typed.
    """
    forms = {
        f"stage-{s.id}": StageForm(formdata=None, prefix=f"stage-{s.id}", obj=s)
        for s in case_type.stages
    }
    forms["stage-add"] = StageForm(formdata=None, prefix="stage-add")
    forms["item-add"] = ChecklistItemForm(formdata=None, prefix="item-add", case_type=case_type)
    if posted is not None:
        forms[posted[0]] = posted[1]
    return render_template(
        "assistance/types/detail.html",
        case_type=case_type,
        forms=forms,
        posted_key=posted[0] if posted else None,
        in_use=services.stages_in_use(case_type),
        counts=services.case_counts().get(case_type.id, {"open": 0, "all": 0}),
        error=error,
    ), status


def _done(case_type: CaseType, message: str, anchor: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("case_types.detail", case_type_id=case_type.id) + anchor)


def _refused(case_type: CaseType, exc: services.CaseTypeError, *, posted=None, status=409):
    db.session.rollback()
    if posted is not None and exc.field in posted[1]:
        posted[1][exc.field].errors.append(exc.message)
        return _editor(_load_type(case_type.id), posted=posted, status=422)
    return _editor(_load_type(case_type.id), error=exc.message, status=status)


# -- stages ----------------------------------------------------------------------------------


@bp.route("/<int:case_type_id>/stages", methods=["POST"])
@roles_required(*KEEPERS)
def stage_add(case_type_id: int):
    case_type = _load_type(case_type_id)
    form = StageForm(prefix="stage-add")
    if not form.validate_on_submit():
        return _editor(case_type, posted=("stage-add", form), status=422)
    try:
        stage = services.add_stage(case_type, form.name.data, actor=current_user)
    except services.CaseTypeError as exc:
        return _refused(case_type, exc, posted=("stage-add", form))
    return _done(case_type, _("Stage %(name)s added.", name=stage.name), "#stages")


@bp.route("/<int:case_type_id>/stages/<int:stage_id>/rename", methods=["POST"])
@roles_required(*KEEPERS)
def stage_rename(case_type_id: int, stage_id: int):
    case_type = _load_type(case_type_id)
    stage = _load_stage(case_type, stage_id)
    key = f"stage-{stage.id}"
    form = StageForm(prefix=key)
    if not form.validate_on_submit():
        return _editor(case_type, posted=(key, form), status=422)
    try:
        services.rename_stage(stage, form.name.data, actor=current_user)
    except services.CaseTypeError as exc:
        return _refused(case_type, exc, posted=(key, form))
    return _done(case_type, _("Stage renamed."), "#stages")


@bp.route("/<int:case_type_id>/stages/<int:stage_id>/move", methods=["POST"])
@roles_required(*KEEPERS)
def stage_move(case_type_id: int, stage_id: int):
    case_type = _load_type(case_type_id)
    stage = _load_stage(case_type, stage_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return _editor(case_type, error=_("Choose up or down."), status=422)
    services.move_stage(stage, form.direction.data, actor=current_user)
    return _done(case_type, _("Stage order saved."), "#stages")


@bp.route("/<int:case_type_id>/stages/<int:stage_id>/delete", methods=["POST"])
@roles_required(*KEEPERS)
def stage_delete(case_type_id: int, stage_id: int):
    case_type = _load_type(case_type_id)
    stage = _load_stage(case_type, stage_id)
    name = stage.name
    try:
        services.delete_stage(stage, actor=current_user)
    except services.CaseTypeError as exc:
        return _refused(case_type, exc)
    return _done(case_type, _("Stage %(name)s deleted.", name=name), "#stages")


# -- checklist -------------------------------------------------------------------------------


@bp.route("/<int:case_type_id>/checklist", methods=["POST"])
@roles_required(*KEEPERS)
def item_add(case_type_id: int):
    case_type = _load_type(case_type_id)
    form = ChecklistItemForm(prefix="item-add", case_type=case_type)
    if not form.validate_on_submit():
        return _editor(case_type, posted=("item-add", form), status=422)
    try:
        services.add_item(case_type, form.item_data(), actor=current_user)
    except services.CaseTypeError as exc:
        return _refused(case_type, exc, posted=("item-add", form))
    return _done(case_type, _("Checklist item added."), "#checklist")


@bp.route("/<int:case_type_id>/checklist/<int:template_item_id>/edit", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def item_edit(case_type_id: int, template_item_id: int):
    case_type = _load_type(case_type_id)
    item = _load_item(case_type, template_item_id)
    form = ChecklistItemForm(obj=item, case_type=case_type)
    if request.method == "GET":
        form.route.data = item.route or ""
    if form.validate_on_submit():
        try:
            services.update_item(item, form.item_data(), actor=current_user)
        except services.CaseTypeError as exc:
            db.session.rollback()
            form[exc.field or "label"].errors.append(exc.message)
        else:
            return _done(case_type, _("Checklist item saved."), "#checklist")
    status = 422 if form.errors else 200
    return render_template(
        "assistance/types/item_form.html", form=form, case_type=case_type, item=item
    ), status


@bp.route("/<int:case_type_id>/checklist/<int:template_item_id>/move", methods=["POST"])
@roles_required(*KEEPERS)
def item_move(case_type_id: int, template_item_id: int):
    case_type = _load_type(case_type_id)
    item = _load_item(case_type, template_item_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return _editor(case_type, error=_("Choose up or down."), status=422)
    services.move_item(item, form.direction.data, actor=current_user)
    return _done(case_type, _("Checklist order saved."), "#checklist")


@bp.route("/<int:case_type_id>/checklist/<int:template_item_id>/delete", methods=["POST"])
@roles_required(*KEEPERS)
def item_delete(case_type_id: int, template_item_id: int):
    case_type = _load_type(case_type_id)
    item = _load_item(case_type, template_item_id)
    label = item.label
    services.delete_item(item, actor=current_user)
    return _done(case_type, _("Checklist item %(label)s deleted.", label=label), "#checklist")
