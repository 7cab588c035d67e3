"""The ledger (台账) page and its Excel export: one filter form, read by one parser."""

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.permissions import COMMISSIONER, DEPARTMENT, LEADER, OFFICE, STREET, roles_required
from crm.demands import labels, ledger, ledger_export
from crm.demands.models import DemandCategory
from crm.extensions import db
from crm.org.models import Department
from crm.org.services import streets_for
from crm.spreadsheets import download
from crm.workcal.services import today

bp = Blueprint("ledger", __name__, url_prefix="/ledger")

VIEWERS = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER)
PER_PAGE = 25
FIRST_YEAR, LAST_YEAR = 2000, 2100  # outside these a typed date is a typing error


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def _plausible_year(form, field):
    if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(
            _l("Enter a date between %(a)s and %(b)s.", a=FIRST_YEAR, b=LAST_YEAR)
        )


class LedgerFilterForm(FlaskForm):
    """The ledger's filters, read from the query string. A wrong value is shown with its
    error and left out of the query; it never fails the page."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Length(max=100)])
    state = SelectField(_l("State"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    department_id = SelectField(_l("Department"), coerce=_int_or_none, validators=[Optional()])
    category_id = SelectField(_l("Category"), coerce=_int_or_none, validators=[Optional()])
    level = SelectField(_l("Level"), coerce=_int_or_none, validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    deadline = SelectField(_l("Deadline"), validators=[Optional()])
    submitted_from = DateField(_l("Submitted from"), validators=[Optional(), _plausible_year])
    submitted_to = DateField(_l("Submitted to"), validators=[Optional(), _plausible_year])

    def __init__(self, *args, streets=(), departments=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.state.choices = [
            ("", everything),
            (ledger.OPEN_GROUP, _l("Open (any state before resolution)")),
            *labels.STATES.items(),
        ]
        self.street_id.choices = [(None, everything)] + [(s.id, s.name) for s in streets]
        self.department_id.choices = [(None, everything)] + [(d.id, d.name) for d in departments]
        self.category_id.choices = [(None, everything)] + [
            (c.id, c.name if c.active else _l("%(name)s (no longer in use)", name=c.name))
            for c in categories
        ]
        self.level.choices = [(None, everything), *labels.SHORT_LEVELS.items()]
        self.channel.choices = [("", everything), *labels.CHANNELS.items()]
        self.deadline.choices = [
            ("", everything),
            (ledger.OVERDUE, _l("Overdue: open past its deadline")),
            (ledger.RESOLVED_LATE, _l("Resolved after its deadline")),
        ]

    def validate_submitted_to(self, field):
        start = self.submitted_from.data
        if field.data and start and not self.submitted_from.errors and field.data < start:
            raise ValidationError(_l("The end date is before the start date."))


def filter_form(args, user: User) -> LedgerFilterForm:
    """The ledger's filters for ``user``, shared by the page and its export."""
    departments = db.session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.code)
    ).all()
    categories = db.session.scalars(
        select(DemandCategory).order_by(DemandCategory.active.desc(), DemandCategory.code)
    ).all()
    return LedgerFilterForm(
        args, streets=streets_for(user), departments=departments, categories=categories
    )


def read_filters(form: LedgerFilterForm) -> ledger.LedgerFilter:
    """The form's valid values as a filter; a field with an error is left out."""
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    return ledger.LedgerFilter(
        q=(ok(form.q) or "").strip(),
        state=ok(form.state) or None,
        street_id=ok(form.street_id),
        department_id=ok(form.department_id),
        category_id=ok(form.category_id),
        level=ok(form.level),
        channel=ok(form.channel) or None,
        lateness=ok(form.deadline) or None,
        submitted_from=ok(form.submitted_from),
        submitted_to=ok(form.submitted_to),
    )


@bp.route("/")
@roles_required(*VIEWERS)
def index():
    form = filter_form(request.args, current_user)
    on = today()
    filters = read_filters(form)
    stmt = ledger.ledger_query(current_user, filters, today=on)
    page = db.paginate(
        ledger.with_ledger_loading(stmt),
        per_page=request.args.get("per_page", type=int) or PER_PAGE,
        max_per_page=200,
        error_out=False,
    )
    export_args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
    return render_template(
        "ledger/index.html",
        page=page,
        form=form,
        today=on,
        overdue=ledger.overdue,
        current_lead=ledger.current_lead,
        demand_labels=labels,
        export_args=export_args,
        filtered=filters != ledger.LedgerFilter(),
    )


@bp.route("/export.xlsx")
@roles_required(*VIEWERS)
def export():
    filters = read_filters(filter_form(request.args, current_user))
    out, count = ledger_export.export_demands(current_user, filters, today=today())
    # A whole list leaving the system is worth a line in the log.
    record(
        "demand.export",
        object_type="demands",
        detail={"count": count, "filters": request.args.to_dict()},
    )
    db.session.commit()
    day = today().isoformat()
    return download(out, f"诉求台账-{day}.xlsx", f"demands-{day}.xlsx")
