"""The portal's forms: what a firm user fills in, and the two ways to get an account.

Action forms on a demand or a service request carry its ``version`` (``ActionForm``) and
have no CSRF field of their own: the app-wide ``CSRFProtect`` checks every post.
"""

import unicodedata
import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from crm import labels
from crm.auth.forms import PolicyPassword
from crm.demands import labels as demand_labels
from crm.demands.forms import ActionForm
from crm.demands.models import RATINGS, URGENCIES
from crm.firms.forms import IndustryCode
from crm.firms.uscc import normalise, uscc_error
from crm.portal.models import SERVICE_KINDS, SLOTS

SERVICE_KIND_LABELS = {
    "appointment": _l("Appointment at the street service centre"),
    "onsite": _l("On-site visit"),
    "errand": _l("Errand handled for you"),
}
SERVICE_KIND_HELP = {
    "appointment": _l("Come to the centre at an agreed time: no queue."),
    "onsite": _l("Your commissioner comes to your firm."),
    "errand": _l("We take your papers through the procedure for you."),
}
SLOT_LABELS = {"morning": _l("Morning"), "afternoon": _l("Afternoon")}
SERVICE_STATE_LABELS = {
    "requested": _l("Requested"),
    "scheduled": _l("Scheduled"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}
REVIEW_STATE_LABELS = {
    "pending": _l("Waiting for review"),
    "approved": _l("Approved"),
    "rejected": _l("Not accepted"),
}


def _coerce_int_or_none(value):
    return None if value in (None, "", "None") else int(value)


PHONE = Regexp(r"^[0-9+\-() ]{5,32}$", message=_l("Digits, spaces, + - ( ) only."))


# -- demands -------------------------------------------------------------------------------


class PortalDemandForm(FlaskForm):
    category_id = SelectField(
        _l("What is it about?"), coerce=_coerce_int_or_none, validators=[DataRequired()]
    )
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("One line, e.g. “Power capacity for the new workshop”."),
    )
    description = TextAreaField(
        _l("Your demand"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("What you need, by when, and what you have tried already."),
    )
    urgency = RadioField(_l("Urgency"), choices=[], default="normal", validators=[DataRequired()])
    attachments = MultipleFileField(_l("Attachments (optional)"))
    # One per rendered form: a double-clicked or re-sent form creates one demand.
    submission_key = HiddenField(validators=[Optional(), Length(max=64)])

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = [(None, _l("Choose"))] + [(c.id, c.name) for c in categories]
        self.urgency.choices = [(u, demand_labels.URGENCIES[u]) for u in URGENCIES]
        if not self.submission_key.data:
            self.submission_key.data = uuid.uuid4().hex


class MessageForm(ActionForm):
    message = TextAreaField(_l("Your message"), validators=[DataRequired(), Length(max=2000)])
    files = MultipleFileField(_l("Files (optional)"))


class WithdrawForm(ActionForm):
    reason = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=200)])


class RateForm(ActionForm):
    rating = RadioField(_l("How satisfied are you with the answer?"), choices=[])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=1000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rating.choices = [(r, demand_labels.RATINGS[r]) for r in RATINGS]

    def validate_rating(self, field) -> None:
        if field.data not in RATINGS:
            raise ValidationError(_l("Choose one of the three answers."))


class DemandFilterForm(FlaskForm):
    state = SelectField(_l("Show"), choices=[], validators=[Optional()])

    class Meta:
        csrf = False  # a GET form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [("", _l("All")), ("open", _l("Open")), ("finished", _l("Finished"))]


# -- service requests ------------------------------------------------------------------------


class ServiceForm(FlaskForm):
    kind = RadioField(_l("Which service?"), choices=[], validators=[DataRequired()])
    details = TextAreaField(
        _l("What you need"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("e.g. “Register two new hires for social insurance”."),
    )
    preferred_date = DateField(_l("Preferred date"), validators=[Optional()])
    preferred_slot = SelectField(_l("Time of day"), choices=[], validators=[Optional()])
    address = StringField(
        _l("Address for an on-site visit"),
        validators=[Optional(), Length(max=200)],
        description=_l("Your firm's address unless you give another."),
    )
    contact_phone = StringField(
        _l("Phone to reach you"), validators=[Optional(), PHONE, Length(max=32)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k, SERVICE_KIND_LABELS[k]) for k in SERVICE_KINDS]
        self.preferred_slot.choices = [("", _l("Either"))] + [(s, SLOT_LABELS[s]) for s in SLOTS]


class CancelServiceForm(ActionForm):
    reason = StringField(_l("Why"), validators=[DataRequired(), Length(max=500)])


# -- the firm's profile ---------------------------------------------------------------------


class ProfileForm(FlaskForm):
    """The fields in ``crm.portal.services.PROPOSABLE``, pre-filled from the profile."""

    name = StringField(_l("Firm name"), validators=[DataRequired(), Length(max=128)])
    legal_representative = StringField(
        _l("Legal representative"), validators=[Optional(), Length(max=64)]
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
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
    high_tech = BooleanField(_l("High-tech enterprise"))
    foreign_invested = BooleanField(_l("Foreign-invested"))
    note = TextAreaField(
        _l("Note for your commissioner (optional)"),
        validators=[Optional(), Length(max=1000)],
        description=_l("e.g. where the new figures come from."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.size.choices = [("", "—"), *labels.SIZES.items()]
        self.revenue_band.choices = [("", "—"), *labels.REVENUE_BANDS.items()]

    def proposed(self, fields) -> dict:
        """The typed values of ``fields``, as ``propose_change`` takes them."""
        values = {name: self[name].data for name in fields}
        for name in ("size", "revenue_band"):
            values[name] = values[name] or None
        return values


# -- getting an account ---------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    """Firm names compared as people type them: full- or half-width, spaces ignored."""

    def plain(s):
        return "".join(unicodedata.normalize("NFKC", s).split()).casefold()

    return plain(a) == plain(b)


class AccountFields(FlaskForm):
    username = StringField(
        _l("User name"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("Letters and digits, no spaces; you log in with it."),
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=128), PolicyPassword("username")]
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two entries differ."))],
    )


class SignupForm(AccountFields):
    uscc = StringField(
        _l("Unified social credit code of your firm"),
        validators=[DataRequired(), Length(max=24)],
        description=_l("18 characters, as on the business licence."),
    )
    firm_name = StringField(
        _l("Firm name (optional)"),
        validators=[Optional(), Length(max=128)],
        description=_l("If you give it, we check it against the code."),
    )
    person_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=64)])
    job_title = StringField(_l("Job title (optional)"), validators=[Optional(), Length(max=64)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), PHONE])
    email = StringField(_l("Email (optional)"), validators=[Optional(), Email(), Length(max=120)])

    def validate_uscc(self, field) -> None:
        field.data = normalise(field.data or "")
        if uscc_error(field.data):
            raise ValidationError(
                _l("This is not a valid code: check the 18 characters on the licence.")
            )

    def name_matches(self, firm_name: str) -> bool:
        return not self.firm_name.data or _same_name(self.firm_name.data, firm_name)


class InvitationForm(AccountFields):
    pass
