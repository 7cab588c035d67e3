"""Pipeline figures: cases and expected value by type and stage, landed, days to land."""

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from crm.assistance import pipeline
from crm.assistance.models import AssistanceCase
from crm.assistance.prospect_views import optional_url
from crm.auth.permissions import (
    COMMISSIONER,
    LEADER,
    OFFICE,
    STREET,
    pipeline_scope,
    roles_required,
)
from crm.org.services import streets_for
from crm.workcal.services import today

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")

VIEWERS = (OFFICE, STREET, COMMISSIONER, LEADER)
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


class PipelineFilterForm(FlaskForm):
    """The period and street, from the query string; a wrong value is shown and ignored."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional(), _plausible_year])
    end = DateField(_l("To"), validators=[Optional(), _plausible_year])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])

    def __init__(self, *args, streets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.street_id.choices = [(None, _l("All streets"))] + [(s.id, s.name) for s in streets]

    def validate_end(self, field):
        start = self.start.data
        if field.data and start and not self.start.errors and field.data < start:
            raise ValidationError(_l("The end date is before the start date."))


@bp.route("/")
@roles_required(*VIEWERS)
def index():
    on = today()
    # A street's people see their street; a leader its firms: no street to choose.
    streets = streets_for(current_user) if current_user.role == OFFICE else []
    form = PipelineFilterForm(request.args, streets=streets)
    form.validate()
    default = pipeline.Period.this_year(on)
    start = form.start.data if form.start.data and not form.start.errors else default.start
    end = form.end.data if form.end.data and not form.end.errors else default.end
    if form.end.errors:
        start, end = default.start, default.end
    where = pipeline_scope(current_user)
    street_id = None if form.street_id.errors else form.street_id.data
    if street_id:
        where = and_(where, AssistanceCase.street_id == street_id)
    figures = pipeline.pipeline(where, pipeline.Period(start, end))

    def board_url(**args):
        """The cases board narrowed to one number's cases, once that page exists."""
        if street_id:
            args["street_id"] = street_id
        return optional_url("cases.board", **args)

    return render_template(
        "assistance/pipeline.html",
        form=form,
        figures=figures,
        board_url=board_url,
        show_streets=bool(streets),
    )
