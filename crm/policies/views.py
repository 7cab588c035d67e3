"""The policy catalog: list, create, edit, retire, files, import, the editor's preview,
and each policy's candidate list with its Excel export."""

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.permissions import roles_required
from crm.demands import attachments
from crm.extensions import db
from crm.firms.importer import ImportFileError
from crm.policies import candidate_views, catalog, matching, policy_import, queries
from crm.policies.attributes import ATTRIBUTES, OPERATORS, CriterionError, describe
from crm.policies.candidates import (
    preview_counts,
)
from crm.policies.forms import (
    AttachForm,
    EditPolicyForm,
    ImportForm,
    PolicyFilterForm,
    PolicyForm,
    RetireForm,
    editor_spec,
    form_data,
)
from crm.policies.labels import KIND_LABELS, LEVEL_LABELS, TOPIC_LABELS
from crm.policies.models import Policy
from crm.policies.permissions import (
    MANAGERS,
    READERS,
    can_list_candidates,
    can_manage_policies,
)
from crm.spreadsheets import download
from crm.workcal.services import today

bp = Blueprint("policies", __name__, url_prefix="/policies")
PER_PAGE = 25


@bp.context_processor
def _helpers() -> dict:
    return {
        "level_labels": LEVEL_LABELS,
        "kind_labels": KIND_LABELS,
        "topic_labels": TOPIC_LABELS,
        "status_labels": catalog.STATUS_LABELS,
        "outcome_labels": matching.OUTCOME_LABELS,
        "can_manage_policies": can_manage_policies,
        "can_list_candidates": can_list_candidates,
    }


@bp.url_defaults
def _same_policy(endpoint: str, values: dict) -> None:
    """Links within a policy's pages keep its id, so the shared pagination macro, which
    knows only the query string, can page the candidate list."""
    if "policy_id" in values or not request.view_args or "policy_id" not in request.view_args:
        return
    if current_app.url_map.is_endpoint_expecting(endpoint, "policy_id"):
        values["policy_id"] = request.view_args["policy_id"]


def _load(policy_id: int) -> Policy:
    policy = catalog.load_policy(policy_id)
    if policy is None:
        abort(404)
    return policy


# -- the catalog ------------------------------------------------------------------------------


@bp.route("/")
@roles_required(*READERS)
def index():
    form = PolicyFilterForm(request.args)
    form.validate()

    def ok(field) -> Any:
        return None if field.errors else field.data

    filters = catalog.PolicyFilter(
        q=(ok(form.q) or "").strip(),
        kind=ok(form.kind) or None,
        level=ok(form.level) or None,
        topic=ok(form.topic) or None,
        status=ok(form.status) or None,
        no_application=bool(ok(form.no_application)),
    )
    on = today()
    page = db.paginate(
        catalog.policy_query(filters, on), per_page=PER_PAGE, max_per_page=200, error_out=False
    )
    return render_template(
        "policies/index.html",
        page=page,
        form=form,
        on=on,
        status_of=catalog.status_of,
        filtered=filters != catalog.PolicyFilter(),
    )


@bp.route("/<int:policy_id>")
@roles_required(*READERS)
def detail(policy_id: int):
    return _detail(_load(policy_id))


def _detail(
    policy: Policy,
    *,
    retire_form: RetireForm | None = None,
    attach_form: AttachForm | None = None,
    status: int = 200,
):
    if retire_form is None:
        retire_form = RetireForm(formdata=None)
    retire_form.version.data = str(policy.version)
    streets = queries.street_names()
    return render_template(
        "policies/detail.html",
        policy=policy,
        status=catalog.status_of(policy, today()),
        sentences=[
            describe(c.attribute, c.operator, c.value, streets=streets) for c in policy.criteria
        ],
        retire_form=retire_form,
        attach_form=attach_form or AttachForm(formdata=None),
        max_mb=f"{attachments.max_mb():g}",
    ), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new():
    streets = queries.street_names()
    form = PolicyForm()
    if request.method == "POST":
        criteria, failed = _checked(form, streets)
        if not failed:
            try:
                policy = catalog.create_policy(form.policy_data(), criteria, actor=current_user)
            except catalog.PolicyError as exc:
                db.session.rollback()
                _blame(form, exc)
            else:
                db.session.commit()
                flash(_("Policy %(title)s added to the catalog.", title=policy.title), "success")
                return redirect(url_for("policies.detail", policy_id=policy.id))
    return _editor(form, None, streets)


@bp.route("/<int:policy_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit(policy_id: int):
    policy = _load(policy_id)
    streets = queries.street_names()
    form = EditPolicyForm(data=form_data(policy, streets))
    stale = False
    if request.method == "POST":
        criteria, failed = _checked(form, streets)
        if not failed:
            try:
                changed = catalog.update_policy(
                    policy,
                    form.policy_data(),
                    criteria,
                    actor=current_user,
                    expected_version=form.expected_version,
                )
                db.session.commit()
            except (catalog.StalePolicy, StaleDataError):
                db.session.rollback()
                stale = True
            except catalog.PolicyError as exc:
                db.session.rollback()
                _blame(form, exc)
            else:
                flash(_("Saved.") if changed else _("Nothing to save: no change."), "success")
                return redirect(url_for("policies.detail", policy_id=policy.id))
    if stale:
        policy = _load(policy_id)
    return _editor(form, policy, streets, stale=stale)


def _checked(form: PolicyForm, streets: dict[int, str]) -> tuple[list, bool]:
    """Validate the form and its criteria rows together, so every error shows at once;
    the cleaned criteria, and whether anything failed."""
    failed = not form.validate_on_submit()
    rows = form.filled_rows()
    try:
        criteria = catalog.clean_criteria([r for _e, r in rows], streets=streets)
    except catalog.CriteriaError as exc:
        for position, message in exc.errors.items():
            entry = rows[position][0]
            entry.value.errors = [*entry.value.errors, message]
        return [], True
    except catalog.PolicyError as exc:
        _blame(form, exc)
        return [], True
    return criteria, failed


def _blame(form: PolicyForm, exc: catalog.PolicyError) -> None:
    name = exc.field if exc.field in form and exc.field != "criteria" else "title"
    form[name].errors = [*form[name].errors, exc.message]


def _editor(form: PolicyForm, policy: Policy | None, streets: dict[int, str], stale=False):
    failed = request.method == "POST"  # a post that reaches the page again was refused
    form.add_blank_rows()
    return render_template(
        "policies/form.html",
        form=form,
        policy=policy,
        stale=stale,
        spec=editor_spec(streets),
    ), (409 if stale else 422 if failed else 200)


@bp.route("/<int:policy_id>/retire", methods=["POST"])
@roles_required(*MANAGERS)
def retire(policy_id: int):
    policy = _load(policy_id)
    form = RetireForm()
    if not form.validate_on_submit():
        return _detail(policy, retire_form=form, status=422)
    try:
        catalog.retire_policy(
            policy,
            actor=current_user,
            reason=form.reason.data,
            expected_version=form.expected_version,
        )
        db.session.commit()
    except (catalog.StalePolicy, StaleDataError):
        db.session.rollback()
        form.reason.errors = [str(catalog.StalePolicy())]
        return _detail(_load(policy_id), retire_form=form, status=409)
    except catalog.PolicyError as exc:
        db.session.rollback()
        form.reason.errors = [exc.message]
        return _detail(_load(policy_id), retire_form=form, status=409)
    flash(_("Policy %(title)s retired: it no longer applies to any firm.", title=policy.title))
    return redirect(url_for("policies.detail", policy_id=policy.id))


@bp.route("/<int:policy_id>/reinstate", methods=["POST"])
@roles_required(*MANAGERS)
def reinstate(policy_id: int):
    policy = _load(policy_id)
    try:
        catalog.reinstate_policy(policy, actor=current_user)
        db.session.commit()
    except catalog.PolicyError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        flash(_("Policy %(title)s is back in the catalog.", title=policy.title), "success")
    return redirect(url_for("policies.detail", policy_id=policy_id))


# -- the editor's preview ---------------------------------------------------------------------


@bp.route("/preview", methods=["POST"])
@roles_required(*MANAGERS)
def preview():
    """How many active firms each criterion being edited keeps, alone and with the rows
    above it. Takes the editor's form as it is; answers JSON."""
    form = PolicyForm()
    streets = queries.street_names()
    names, criteria, errors = [], [], []
    for entry in form.criteria:
        row = entry.form
        if row.blank:
            continue
        names.append(entry.name)
        try:
            attribute, operator, value = catalog.clean_criterion(
                catalog.CriterionInput(row.attribute.data, row.operator.data, row.value.raw),
                streets=streets,
            )
        except CriterionError as exc:
            criteria.append(None)
            errors.append(exc.message)
        else:
            criteria.append(matching.Criterion(attribute, operator, value))
            errors.append(None)
    total, counts = preview_counts(criteria, today())
    rows = []
    for name, count, error in zip(names, counts, errors, strict=True):
        row = {"row": name, "error": error}
        if count is not None:
            row.update(kept=count.kept, unknown=count.unknown, remaining=count.remaining)
        rows.append(row)
    return jsonify(total=total, rows=rows)


# -- files ------------------------------------------------------------------------------------


@bp.route("/<int:policy_id>/attachments", methods=["POST"])
@roles_required(*MANAGERS)
def attach(policy_id: int):
    policy = _load(policy_id)
    form = AttachForm()
    try:
        uploads = attachments.check_uploads(request.files.getlist(form.files.name))
        rows = catalog.store_attachments(policy, uploads, actor=current_user)
    except attachments.AttachmentError as exc:
        db.session.rollback()
        form.files.errors = [exc.message]
        return _detail(_load(policy_id), attach_form=form, status=exc.status)
    except catalog.PolicyError as exc:
        db.session.rollback()
        form.files.errors = [exc.message]
        return _detail(_load(policy_id), attach_form=form, status=422)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        catalog.discard(rows)
        raise
    flash(_("%(n)s files attached.", n=len(rows)), "success")
    return redirect(url_for("policies.detail", policy_id=policy_id) + "#files")


def _attachment(policy_id: int, file_id: int):
    row = next((a for a in _load(policy_id).attachments if a.id == file_id), None)
    if row is None:
        abort(404)
    return row


@bp.route("/<int:policy_id>/attachments/<int:file_id>")
@roles_required(*READERS)
def attachment(policy_id: int, file_id: int):
    row = _attachment(policy_id, file_id)
    path = catalog.path_of(row)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=row.filename, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:policy_id>/attachments/<int:file_id>/delete", methods=["POST"])
@roles_required(*MANAGERS)
def attachment_delete(policy_id: int, file_id: int):
    row = _attachment(policy_id, file_id)
    name = row.filename
    path = catalog.delete_attachment(row, actor=current_user)
    db.session.commit()
    path.unlink(missing_ok=True)
    flash(_("%(name)s deleted.", name=name), "success")
    return redirect(url_for("policies.detail", policy_id=policy_id) + "#files")


# -- import -----------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def import_policies():
    form = ImportForm()
    if form.validate_on_submit():
        try:
            rows = policy_import.read_rows(form.file.data.filename, form.file.data.stream)
        except ImportFileError as exc:
            form.file.errors.append(str(exc))
        else:
            result = policy_import.import_policies(
                rows, actor=current_user, streets=queries.street_names()
            )
            db.session.commit()
            return render_template("policies/import_result.html", result=result)
    return render_template(
        "policies/import.html",
        form=form,
        columns=policy_import.COLUMNS,
        required=policy_import.REQUIRED_FOR_NEW,
        attribute_words=policy_import.ATTRIBUTE_WORDS,
        operator_words=policy_import.OPERATOR_WORDS,
        attributes=ATTRIBUTES,
        operators=OPERATORS,
        max_rows=policy_import.MAX_ROWS,
    ), (422 if request.method == "POST" else 200)


@bp.route("/import/template.xlsx")
@roles_required(*MANAGERS)
def import_template():
    return download(policy_import.template_workbook(), "政策导入模板.xlsx", "policy-template.xlsx")


# The candidate list and its export live in crm.policies.candidate_views.
for rule, view in candidate_views.ROUTES:
    bp.add_url_rule(rule, view_func=view)
