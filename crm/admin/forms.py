from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from crm import labels
from crm.auth.forms import PolicyPassword

SPECIALTY_LABELS = {"talent": _l("Talent commissioner")}
_PHONE = Regexp(r"^[0-9+\-() ]{5,32}$", message=_l("Digits, spaces, + - ( ) only."))


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class UserFilterForm(FlaskForm):
    """The user list's filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("User name or display name"), validators=[Length(max=64)])
    role = SelectField(_l("Role"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    department_id = SelectField(_l("Department"), coerce=_int_or_none, validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    locked = SelectField(_l("Locked"), validators=[Optional()])

    def __init__(self, *args, streets=(), departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.role.choices = [("", everything), *labels.ROLES.items()]
        self.street_id.choices = [(None, everything)] + [(s.id, s.name) for s in streets]
        self.department_id.choices = [(None, everything)] + [(d.id, d.name) for d in departments]
        self.status.choices = [
            ("", everything),
            ("active", _l("Active")),
            ("disabled", _l("Disabled")),
        ]
        self.locked.choices = [("", everything), ("yes", _l("Locked")), ("no", _l("Not locked"))]


class UserForm(FlaskForm):
    username = StringField(
        _l("User name"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$",
                message=_l(
                    "3 to 64 characters: letters, digits and . _ - @, starting with a "
                    "letter or digit."
                ),
            ),
        ],
        description=_l("Used to log in."),
    )
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    street_id = SelectField(
        _l("Street"),
        coerce=_int_or_none,
        validators=[Optional()],
        description=_l("For street and commissioner accounts."),
    )
    department_id = SelectField(
        _l("Department"),
        coerce=_int_or_none,
        validators=[Optional()],
        description=_l("For department accounts."),
    )
    firm_uscc = StringField(
        _l("Firm (USCC)"),
        validators=[Optional(), Length(max=24)],
        description=_l("For firm accounts: the firm's unified social credit code."),
    )
    specialty = SelectField(
        _l("Specialty"), validators=[Optional()], description=_l("Commissioners only.")
    )
    phone = StringField(_l("Phone"), validators=[Optional(), _PHONE])
    email = StringField(_l("Email"), validators=[Optional(), Email(), Length(max=120)])

    def __init__(self, *args, streets=(), departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = list(labels.ROLES.items())
        self.street_id.choices = [(None, "—")] + [(s.id, s.name) for s in streets]
        self.department_id.choices = [(None, "—")] + [(d.id, d.name) for d in departments]
        self.specialty.choices = [("", _l("None")), *SPECIALTY_LABELS.items()]

    def user_data(self) -> dict:
        """The fields a person may set, units still as ids (the view loads them)."""
        return {
            "username": self.username.data,
            "display_name": self.display_name.data,
            "role": self.role.data,
            "firm_uscc": self.firm_uscc.data or "",
            "phone": self.phone.data or "",
            "email": self.email.data or "",
            "specialty": self.specialty.data or "",
        }


_POLICY_HELP = _l(
    "At least 8 characters, with three of: lower-case letters, upper-case "
    "letters, digits, symbols. Common passwords are refused."
)


class NewUserForm(UserForm):
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(max=128), PolicyPassword("username")],
        description=_POLICY_HELP,
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two entries differ."))],
    )


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=128), PolicyPassword()],
        description=_POLICY_HELP,
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two entries differ."))],
    )

    def __init__(self, *args, username: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.username_hint = username  # read by PolicyPassword


class StreetForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    service_centre_address = StringField(_l("Service centre address"), validators=[Length(max=200)])
    service_centre_phone = StringField(_l("Service centre phone"), validators=[Optional(), _PHONE])


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    phone = StringField(_l("Phone"), validators=[Optional(), _PHONE])
