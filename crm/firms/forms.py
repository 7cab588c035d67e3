from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from crm import labels
from crm.firms.industries import is_valid_code


def _choices(table: dict, blank: str | None = None) -> list[tuple[str, str]]:
    head = [("", blank)] if blank is not None else []
    return head + [(k, v) for k, v in table.items()]


def _coerce_int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class IndustryCode:
    def __call__(self, form, field):
        code = (field.data or "").strip().upper()
        field.data = code
        if code and not is_valid_code(code):
            raise ValidationError(
                _l("Use a GB/T 4754 code: a section letter and 2 to 4 digits, e.g. I65 or I6513.")
            )


class FirmForm(FlaskForm):
    name = StringField(_l("Firm name"), validators=[DataRequired(), Length(max=128)])
    uscc = StringField(
        _l("Unified social credit code"),
        validators=[DataRequired(), Length(min=18, max=24)],
        description=_l("18 characters, as on the business licence."),
    )
    legal_representative = StringField(_l("Legal representative"), validators=[Length(max=64)])
    industry_code = StringField(
        _l("Industry (GB/T 4754)"),
        validators=[Optional(), IndustryCode()],
        description=_l("e.g. I65 software and IT services"),
    )
    size = SelectField(_l("Size"), choices=[], validators=[Optional()])
    registered_capital = DecimalField(
        _l("Registered capital (10,000 yuan)"),
        places=2,
        validators=[Optional(), NumberRange(min=0, max=1e11)],
    )
    employees = IntegerField(
        _l("Employees"), validators=[Optional(), NumberRange(min=0, max=10**7)]
    )
    revenue_band = SelectField(_l("Annual revenue"), choices=[], validators=[Optional()])
    established_on = DateField(_l("Date established"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_coerce_int_or_none, validators=[DataRequired()])
    address = StringField(_l("Address"), validators=[Length(max=200)])
    high_tech = BooleanField(_l("High-tech enterprise"))
    foreign_invested = BooleanField(_l("Foreign-invested"))
    tier = SelectField(_l("Key-firm tier"), choices=[], validators=[Optional()])
    leader_id = SelectField(
        _l("Linked district leader"), coerce=_coerce_int_or_none, validators=[Optional()]
    )
    tags = StringField(
        _l("Tags"), validators=[Length(max=300)], description=_l("Separate tags with commas.")
    )
    status = SelectField(_l("Status"), choices=[], validators=[DataRequired()])
    version = HiddenField()

    def __init__(self, *args, streets=(), leaders=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.size.choices = _choices(labels.SIZES, "—")
        self.revenue_band.choices = _choices(labels.REVENUE_BANDS, "—")
        self.tier.choices = _choices(labels.TIERS, _l("None"))
        self.status.choices = _choices(labels.STATUSES)
        self.street_id.choices = [(s.id, s.name) for s in streets]
        self.leader_id.choices = [(None, "—")] + [(u.id, u.display_name) for u in leaders]

    def firm_data(self) -> dict:
        data = {
            name: self[name].data
            for name in (
                "name",
                "uscc",
                "legal_representative",
                "industry_code",
                "registered_capital",
                "employees",
                "established_on",
                "street_id",
                "address",
                "high_tech",
                "foreign_invested",
                "leader_id",
            )
        }
        for name in ("size", "revenue_band", "tier", "status"):
            data[name] = self[name].data or None
        data["tags"] = [t for t in (self.tags.data or "").replace("，", ",").split(",")]
        return data


class ContactForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=64)])
    title = StringField(_l("Position"), validators=[Length(max=64)])
    phone = StringField(
        _l("Phone"),
        validators=[
            Optional(),
            Regexp(r"^[0-9+\-() ]{5,32}$", message=_l("Digits, spaces, + - ( ) only.")),
        ],
    )
    email = StringField(_l("Email"), validators=[Optional(), Email(), Length(max=120)])
    is_primary = BooleanField(_l("Main contact"))


class AssignForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[])
    commissioner_id = SelectField(_l("Commissioner"), coerce=_coerce_int_or_none)
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])

    def __init__(self, *args, commissioners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _choices(labels.ASSIGNMENT_ROLES)
        self.commissioner_id.choices = [(None, _l("Nobody (end the assignment)"))] + [
            (u.id, u.display_name) for u in commissioners
        ]


class ReassignForm(FlaskForm):
    leaving_id = SelectField(
        _l("Commissioner leaving"), coerce=_coerce_int_or_none, validators=[DataRequired()]
    )
    successor_id = SelectField(
        _l("Commissioner taking over"), coerce=_coerce_int_or_none, validators=[DataRequired()]
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=200)])

    def __init__(self, *args, leaving=(), successors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.leaving_id.choices = [(u.id, _commissioner_label(u)) for u in leaving]
        self.successor_id.choices = [(u.id, _commissioner_label(u)) for u in successors]


def _commissioner_label(user) -> str:
    label = f"{user.display_name}（{user.street.name if user.street else ''}）"
    return label if user.active else f"{label} · {_l('disabled')}"


class FirmFilterForm(FlaskForm):
    """The firm list's filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Name or code"))
    street_id = SelectField(_l("Street"), coerce=_coerce_int_or_none, validators=[Optional()])
    tier = SelectField(_l("Tier"), validators=[Optional()])
    industry = StringField(_l("Industry code"), validators=[Optional(), Length(max=5)])
    size = SelectField(_l("Size"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    commissioner_id = SelectField(
        _l("Commissioner"), coerce=_coerce_int_or_none, validators=[Optional()]
    )

    def __init__(self, *args, streets=(), commissioners=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.street_id.choices = [(None, everything)] + [(s.id, s.name) for s in streets]
        self.tier.choices = [*_choices(labels.TIERS, everything), ("none", _l("No tier"))]
        self.size.choices = _choices(labels.SIZES, everything)
        self.status.choices = _choices(labels.STATUSES, everything)
        self.commissioner_id.choices = [(None, everything)] + [
            (u.id, u.display_name) for u in commissioners
        ]
