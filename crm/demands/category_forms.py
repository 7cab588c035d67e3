"""The forms of the time-limit pages: a category's name, kind and limits."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from crm.demands import labels
from crm.demands.categories import MAX_DAYS, MIN_DAYS

_DAYS = NumberRange(
    min=MIN_DAYS,
    max=MAX_DAYS,
    message=_l("Enter %(a)s to %(b)s working days.", a=MIN_DAYS, b=MAX_DAYS),
)


def _days(label, description) -> IntegerField:
    return IntegerField(
        label,
        validators=[InputRequired(_l("Enter a number of working days.")), _DAYS],
        description=description,
        render_kw={"min": MIN_DAYS, "max": MAX_DAYS, "inputmode": "numeric"},
    )


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    accept_days = _days(
        _l("Accept within (working days)"),
        _l("From the day a demand comes in to its acceptance."),
    )
    resolve_days = _days(
        _l("Resolve within, levels 1 and 2 (working days)"),
        _l("From dispatch to resolution, for demands the street handles."),
    )
    level3_days = _days(
        _l("Resolve within, level 3 (working days)"),
        _l("From dispatch to resolution, for demands district departments handle jointly."),
    )
    active = BooleanField(
        _l("In use"),
        description=_l("A category no longer in use cannot be chosen for new demands."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = list(labels.CATEGORY_KINDS.items())

    def category_data(self) -> dict:
        return {
            name: self[name].data
            for name in ("name", "kind", "accept_days", "resolve_days", "level3_days", "active")
        }


class NewCategoryForm(CategoryForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[A-Za-z][A-Za-z0-9_]{0,15}$",
                message=_l("1 to 16 letters, digits or _, starting with a letter."),
            ),
        ],
        description=_l("A short fixed code, e.g. TALENT. It cannot be changed later."),
    )

    def category_data(self) -> dict:
        return {**super().category_data(), "code": self.code.data}
