"""Searching the audit log. Read-only: the log has no edit or delete, here or anywhere."""

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from flask_wtf import FlaskForm
from sqlalchemy import Select, select
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from crm.audit.labels import action_label
from crm.audit.models import AuditLog
from crm.auth.permissions import ADMIN, roles_required
from crm.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

RESULTS = {"success": _l("Success"), "failure": _l("Failure"), "denied": _l("Denied")}
# Where an audited object can be looked at: object_type -> (endpoint, its id argument).
OBJECT_PAGES = {
    "users": ("admin.user_edit", "user_id"),
    "streets": ("admin.street_edit", "street_id"),
    "departments": ("admin.department_edit", "department_id"),
    "firms": ("firms.detail", "firm_id"),
}
_FIRST_DAY, _LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _sane_date(form, field):
    if field.data is not None and not _FIRST_DAY <= field.data <= _LAST_DAY:
        raise ValidationError(_l("Enter a date between 2000-01-01 and 2099-12-31."))


class AuditFilterForm(FlaskForm):
    """The log's filters, read from the query string. Dates are days in Asia/Shanghai."""

    class Meta:
        csrf = False

    username = StringField(_l("User name"), validators=[Optional(), Length(max=64)])
    action = SelectField(_l("Action"), validators=[Optional()])
    object_type = SelectField(_l("Object type"), validators=[Optional()])
    object_id = IntegerField(
        _l("Object id"), validators=[Optional(), NumberRange(min=1, max=2**31 - 1)]
    )
    result = SelectField(_l("Result"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional(), _sane_date])
    date_to = DateField(_l("To"), validators=[Optional(), _sane_date])

    def __init__(self, *args, actions=(), object_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.action.choices = [("", everything)] + [(a, action_label(a)) for a in actions]
        self.object_type.choices = [("", everything)] + [(t, t) for t in object_types]
        self.result.choices = [("", everything), *RESULTS.items()]

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


def _start_of_day_utc(day: date) -> datetime:
    """The UTC moment a day in the display time zone (Asia/Shanghai) begins."""
    return to_utc(datetime.combine(day, time.min))


def audit_query(form: AuditFilterForm) -> Select:
    """Records matching the (validated) filters, newest first."""
    stmt = select(AuditLog)
    if name := (form.username.data or "").strip():
        stmt = stmt.where(AuditLog.username.icontains(name, autoescape=True))
    if form.action.data:
        stmt = stmt.where(AuditLog.action == form.action.data)
    if form.object_type.data:
        stmt = stmt.where(AuditLog.object_type == form.object_type.data)
    if form.object_id.data is not None:
        stmt = stmt.where(AuditLog.object_id == form.object_id.data)
    if form.result.data:
        stmt = stmt.where(AuditLog.result == form.result.data)
    if form.date_from.data:
        stmt = stmt.where(AuditLog.at >= _start_of_day_utc(form.date_from.data))
    if form.date_to.data:
        stmt = stmt.where(AuditLog.at < _start_of_day_utc(form.date_to.data + timedelta(days=1)))
    return stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())


def compact_json(detail: Any) -> str:
    if not detail:
        return ""
    return json.dumps(detail, ensure_ascii=False, separators=(", ", ": "), default=str)


def _present(column) -> list[str]:
    return list(db.session.scalars(select(column).distinct().where(column != "").order_by(column)))


@bp.route("/")
@roles_required(ADMIN)
def index():
    form = AuditFilterForm(
        request.args, actions=_present(AuditLog.action), object_types=_present(AuditLog.object_type)
    )
    # A filter that cannot be read shows no records: a search that silently dropped it
    # would show records the investigator did not ask for.
    page = None
    if form.validate():
        page = db.paginate(
            audit_query(form),
            per_page=request.args.get("per_page", type=int) or 50,
            max_per_page=200,
            error_out=False,
        )
    return render_template(
        "audit/index.html",
        form=form,
        page=page,
        results=RESULTS,
        object_pages=OBJECT_PAGES,
        compact_json=compact_json,
        action_label=action_label,
    )
