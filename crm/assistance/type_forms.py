"""Forms of the case type editor: plain fields a person in the office fills in."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from crm.assistance.case_labels import TALENT_ROUTES as TALENT_ROUTE_LABELS
from crm.assistance.models import KINDS

KIND_LABELS = {
    "registration": _l("Business registration"),
    "site": _l("Office site"),
    "hiring": _l("Hiring"),
    "financing": _l("Financing"),
    "talent": _l("Talent settlement"),
    "housing": _l("Talent housing"),
    "other": _l("Other"),
}
ROUTE_LABELS = TALENT_ROUTE_LABELS
DIRECTION_LABELS = {"up": _l("Up"), "down": _l("Down")}


def _yes(value) -> bool:
    return value in (True, "1", "True", "true")


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class CaseTypeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    kind = SelectField(
        _l("Kind"),
        validators=[DataRequired()],
        description=_l("Decides the extra parts of a case: bank referrals, the talent route."),
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=500)])
    # A choice, not a checkbox: a post without the field keeps the type as it is.
    active = SelectField(
        _l("Status"),
        coerce=_yes,
        description=_l("Types no longer in use cannot be chosen for new cases."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k, KIND_LABELS[k]) for k in KINDS]
        self.active.choices = [("1", _l("In use")), ("0", _l("No longer in use"))]

    def type_data(self) -> dict:
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "description": self.description.data or "",
            "active": self.active.data,
        }


class NewCaseTypeForm(CaseTypeForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=16),
            Regexp(
                r"^[A-Za-z][A-Za-z0-9_]*$",
                message=_l("Letters, digits and _ only, starting with a letter."),
            ),
        ],
        description=_l("A short code for links and exports, e.g. LEASE. It cannot change later."),
    )
    stages = TextAreaField(
        _l("Stages"),
        validators=[DataRequired()],
        description=_l("One stage per line, in order: at least two."),
    )

    def stage_names(self) -> list[str]:
        return (self.stages.data or "").splitlines()


class InlineForm(FlaskForm):
    """One of the many small forms on the editor page, each under its own prefix."""

    class Meta:
        csrf = False  # the app-wide CSRFProtect checks every post


class StageForm(InlineForm):
    name = StringField(_l("Stage name"), validators=[DataRequired(), Length(max=64)])


class MoveForm(InlineForm):
    direction = SelectField(_l("Direction"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.direction.choices = list(DIRECTION_LABELS.items())


class ChecklistItemForm(InlineForm):
    label = StringField(_l("Item"), validators=[DataRequired(), Length(max=120)])
    stage_id = SelectField(
        _l("Stage"),
        coerce=_int_or_none,
        validators=[Optional()],
        description=_l("To be ticked before the case leaves this stage; empty: before it lands."),
    )
    route = SelectField(
        _l("Talent route"),
        validators=[Optional()],
        description=_l("Materials needed on one route only; empty: every route."),
    )

    def __init__(self, *args, case_type=None, **kwargs):
        super().__init__(*args, **kwargs)
        stages = case_type.stages if case_type is not None else []
        self.stage_id.choices = [(None, _l("Any stage (before landing)"))] + [
            (s.id, s.name) for s in stages
        ]
        self.route.choices = [("", _l("Every route")), *ROUTE_LABELS.items()]

    def item_data(self) -> dict:
        return {
            "label": self.label.data,
            "stage_id": self.stage_id.data,
            "route": self.route.data or None,
        }
