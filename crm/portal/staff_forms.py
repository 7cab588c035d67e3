"""The staff's portal forms: list filters, and one small form per answer to a firm.

Answer forms have no CSRF field of their own (the app-wide ``CSRFProtect`` checks every
post and the page renders the token), as on the demand page. Service requests carry their
``version``, passed to the service as ``expected_version``.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from crm.portal.models import SERVICE_KINDS, SERVICE_STATES
from crm.workcal.services import today

# -- display names of the portal's codes ------------------------------------------------------

SERVICE_KIND_LABELS = {
    "appointment": _l("Appointment at the service centre"),
    "onsite": _l("On-site visit"),
    "errand": _l("Errand handling"),
}
SERVICE_STATE_LABELS = {
    "requested": _l("Requested"),
    "scheduled": _l("Scheduled"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}
SLOT_LABELS = {"morning": _l("Morning"), "afternoon": _l("Afternoon")}
REVIEW_STATE_LABELS = {
    "pending": _l("Pending"),
    "approved": _l("Approved"),
    "rejected": _l("Refused"),
}
INVITATION_STATE_LABELS = {
    "live": _l("Waiting to be used"),
    "used": _l("Used"),
    "revoked": _l("Revoked"),
    "expired": _l("Expired"),
}
# The profile fields a firm may propose (crm.portal.services.PROPOSABLE), as the firm
# form names them.
FIELD_LABELS = {
    "name": _l("Firm name"),
    "legal_representative": _l("Legal representative"),
    "address": _l("Address"),
    "industry_code": _l("Industry (GB/T 4754)"),
    "size": _l("Size"),
    "registered_capital": _l("Registered capital (10,000 yuan)"),
    "employees": _l("Employees"),
    "revenue_band": _l("Annual revenue"),
    "established_on": _l("Date established"),
    "high_tech": _l("High-tech enterprise"),
    "foreign_invested": _l("Foreign-invested"),
}


# -- list filters (GET) ------------------------------------------------------------------------


class _FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form


class ServiceFilterForm(_FilterForm):
    q = StringField(_l("Firm"), validators=[Optional(), Length(max=100)])
    state = SelectField(_l("State"), validators=[Optional()])
    kind = SelectField(_l("Kind"), validators=[Optional()])
    commissioner = SelectField(_l("Commissioner"), validators=[Optional()])

    def __init__(self, *args, commissioners=(), mine: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [("open", _l("Open")), ("all", _l("All states"))] + [
            (code, SERVICE_STATE_LABELS[code]) for code in SERVICE_STATES
        ]
        self.kind.choices = [("", _l("All kinds"))] + [
            (code, SERVICE_KIND_LABELS[code]) for code in SERVICE_KINDS
        ]
        head = [("all", _l("All commissioners"))]
        if mine:
            head.append(("mine", _l("Mine")))
        head.append(("none", _l("No commissioner")))
        self.commissioner.choices = head + [(str(u.id), u.display_name) for u in commissioners]


class ReviewFilterForm(_FilterForm):
    """Profile changes and sign-ups: by state, pending first."""

    state = SelectField(_l("State"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [("", _l("All states")), *REVIEW_STATE_LABELS.items()]


class InvitationFilterForm(_FilterForm):
    state = SelectField(_l("State"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [("", _l("All states")), *INVITATION_STATE_LABELS.items()]


# -- answers (POST) ---------------------------------------------------------------------------


class AnswerForm(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect checks every post; see the module's docstring


class ServiceActionForm(AnswerForm):
    # Required: a post without it could not be checked against concurrent changes.
    version = HiddenField(validators=[InputRequired()])

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class ScheduleForm(ServiceActionForm):
    day = DateField(_l("Date"), validators=[InputRequired(_l("Give a date."))])
    time = TimeField(_l("Time"), validators=[InputRequired(_l("Give a time."))])
    note = TextAreaField(
        _l("Note to the firm (optional)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Who comes, where to meet, what to bring."),
    )

    def validate_day(self, field) -> None:
        if field.data is not None and field.data < today():
            raise ValidationError(_l("The date is in the past."))


class CompleteForm(ServiceActionForm):
    outcome = TextAreaField(_l("What was done"), validators=[DataRequired(), Length(max=2000)])


class CancelForm(ServiceActionForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=500)],
        description=_l("The firm sees this reason."),
    )


class ApproveForm(AnswerForm):
    note = TextAreaField(
        _l("Note to the firm (optional)"), validators=[Optional(), Length(max=1000)]
    )


class RefuseForm(AnswerForm):
    note = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("The firm sees this reason."),
    )


class InvitationForm(FlaskForm):
    person_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    email = StringField(_l("Email"), validators=[Optional(), Email(), Length(max=120)])
