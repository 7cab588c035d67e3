"""Firm import (Excel/CSV, previewed before writing) and export (the filtered list to Excel)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from crm.audit.services import record
from crm.auth.permissions import COMMISSIONER, LEADER, OFFICE, STREET, deny, roles_required
from crm.extensions import db
from crm.firms import exporter, importer
from crm.firms.views import filter_form, read_filters
from crm.org.services import streets_for
from crm.spreadsheets import download
from crm.timeutil import utcnow

import_bp = Blueprint("firms_import", __name__, url_prefix="/firms/import")
export_bp = Blueprint("firms_export", __name__, url_prefix="/firms")

IMPORTERS = (OFFICE, STREET)
EXPORTERS = (OFFICE, STREET, COMMISSIONER, LEADER)
PREVIEW_LIMIT = 500  # firms listed per group on the preview; rejected rows are all listed


class ImportForm(FlaskForm):
    file = FileField(
        _l("Excel workbook or CSV file"),
        validators=[FileRequired(_l("Choose a file to import."))],
        description=_l(".xlsx or .csv, with the column headers in row 1."),
    )


@import_bp.route("/", methods=["GET", "POST"])
@roles_required(*IMPORTERS)
def upload():
    form = ImportForm()
    if form.validate_on_submit():
        try:
            parsed = importer.read_upload(form.file.data.filename, form.file.data.stream)
        except importer.ImportFileError as exc:
            form.file.errors.append(str(exc))
        else:
            token = importer.store(parsed, current_user)
            return redirect(url_for(".preview", token=token))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "firms/import_upload.html",
        form=form,
        columns=importer.COLUMNS,
        required=importer.REQUIRED_FOR_NEW,
        max_rows=importer.MAX_ROWS,
    ), status


@import_bp.route("/template.xlsx")
@roles_required(*IMPORTERS)
def template():
    streets = streets_for(current_user)
    out = exporter.template_workbook(streets[0].name if streets else "某某街道")
    return download(out, "企业导入模板.xlsx", "firm-import-template.xlsx")


@import_bp.route("/<token>")
@roles_required(*IMPORTERS)
def preview(token: str):
    try:
        upload = importer.load(token, current_user)
    except importer.NotYours:
        deny("import of another user")
    except importer.UploadGone:
        flash(
            _("This import has expired or was already confirmed. Upload the file again."), "warning"
        )
        return redirect(url_for(".upload"))
    plan = importer.plan_import(upload, current_user)
    return render_template(
        "firms/import_preview.html",
        plan=plan,
        token=token,
        limit=PREVIEW_LIMIT,
        show=importer.format_value,
        columns=importer.BY_FIELD,
    )


@import_bp.route("/<token>/confirm", methods=["POST"])
@roles_required(*IMPORTERS)
def confirm(token: str):
    try:
        with importer.claim(token, current_user) as upload:
            plan = importer.apply_import(
                importer.plan_import(upload, current_user), actor=current_user
            )
            db.session.commit()
    except importer.NotYours:
        deny("import of another user")
    except importer.UploadGone:
        flash(
            _("This import was already confirmed or has expired: nothing more was written."),
            "warning",
        )
        return redirect(url_for("firms.index"))
    return render_template("firms/import_result.html", plan=plan, limit=PREVIEW_LIMIT)


@export_bp.route("/export.xlsx")
@roles_required(*EXPORTERS)
def export():
    out, count = exporter.export_firms(current_user, read_filters(filter_form(request.args)))
    # A whole list leaving the system is worth a line in the log.
    record(
        "firm.export",
        object_type="firms",
        detail={"count": count, "filters": request.args.to_dict()},
    )
    db.session.commit()
    day = to_user_timezone(utcnow()).date().isoformat()
    return download(out, f"企业名单-{day}.xlsx", f"firms-{day}.xlsx")
