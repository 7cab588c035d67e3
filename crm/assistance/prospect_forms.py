"""Forms of the prospect pages: the record, its list filters, dropping and registering."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from crm.firms.forms import IndustryCode

STATE_LABELS = {
    "open": _l("Following up"),
    "registered": _l("Registered"),
    "dropped": _l("Dropped"),
}


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def _owner_label(user) -> str:
    street = f"（{user.street.name}）" if user.street is not None else ""
    return f"{user.display_name}{street}"


class ProspectForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=128)],
        description=_l("The firm's intended name, or the investor's name."),
    )
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[DataRequired()])
    industry_code = StringField(
        _l("Industry (GB/T 4754)"),
        validators=[Optional(), IndustryCode()],
        description=_l("e.g. I65 software and IT services"),
    )
    contact_name = StringField(_l("Contact person"), validators=[Length(max=64)])
    contact_phone = StringField(
        _l("Contact phone"),
        validators=[
            Optional(),
            Regexp(r"^[0-9+\-() ]{5,32}$", message=_l("Digits, spaces, + - ( ) only.")),
        ],
    )
    source = StringField(
        _l("Source"),
        validators=[Length(max=120)],
        description=_l("How it came to us: an investment fair, a referral, a visit …"),
    )
    owner_id = SelectField(_l("Followed by"), coerce=_int_or_none, validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])
    version = HiddenField()

    def __init__(self, *args, streets=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.street_id.choices = [(s.id, s.name) for s in streets]
        self.owner_id.choices = [(None, "—")] + [(u.id, _owner_label(u)) for u in owners]

    def prospect_data(self) -> dict:
        return {
            name: self[name].data
            for name in (
                "name",
                "street_id",
                "industry_code",
                "contact_name",
                "contact_phone",
                "source",
                "notes",
                "owner_id",
            )
        }

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class ProspectFilterForm(FlaskForm):
    """The list's filters, read from the query string; a wrong value is ignored."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Length(max=100)])
    state = SelectField(_l("State"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    owner_id = SelectField(_l("Followed by"), coerce=_int_or_none, validators=[Optional()])

    def __init__(self, *args, streets=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.state.choices = [("", everything), *STATE_LABELS.items()]
        self.street_id.choices = [(None, everything)] + [(s.id, s.name) for s in streets]
        self.owner_id.choices = [(None, everything)] + [(u.id, _owner_label(u)) for u in owners]


class DropForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])
    version = HiddenField()

    class Meta:
        csrf = False  # the app-wide CSRFProtect checks every post

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class RegisterForm(FlaskForm):
    """The firm the prospect became: as on its business licence."""

    uscc = StringField(
        _l("Unified social credit code"),
        validators=[DataRequired(), Length(max=24)],
        description=_l(
            "18 characters, as on the business licence. If the firm is on file already, "
            "the prospect is linked to it."
        ),
    )
    name = StringField(_l("Registered name"), validators=[DataRequired(), Length(max=128)])
    legal_representative = StringField(_l("Legal representative"), validators=[Length(max=64)])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[DataRequired()])
    industry_code = StringField(_l("Industry (GB/T 4754)"), validators=[Optional(), IndustryCode()])
    registered_capital = DecimalField(
        _l("Registered capital (10,000 yuan)"),
        places=2,
        validators=[Optional(), NumberRange(min=0, max=1e11)],
    )
    established_on = DateField(_l("Date established"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[Length(max=200)])
    version = HiddenField()

    def __init__(self, *args, streets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.street_id.choices = [(s.id, s.name) for s in streets]

    def registration_data(self) -> dict:
        return {
            name: self[name].data
            for name in (
                "uscc",
                "name",
                "legal_representative",
                "street_id",
                "industry_code",
                "registered_capital",
                "established_on",
                "address",
            )
        }

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None
