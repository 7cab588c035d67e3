from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from crm.auth.passwords import policy_errors


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class PolicyPassword:
    """WTForms validator: the password policy, naming every rule the password breaks."""

    def __init__(self, username_field: str | None = None):
        self.username_field = username_field

    def __call__(self, form, field):
        username = ""
        if self.username_field:
            username = form[self.username_field].data or ""
        elif getattr(form, "username_hint", None):
            username = form.username_hint
        errors = policy_errors(field.data or "", username=username)
        if errors:
            raise ValidationError(" ".join(str(e) for e in errors))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=128), PolicyPassword()]
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two entries differ."))],
    )
