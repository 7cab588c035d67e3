"""The demand pages' forms: intake, and one small form per action on a demand.

Action forms carry the demand's ``version`` (passed to the service as
``expected_version``) and have no CSRF field of their own: the app-wide ``CSRFProtect``
checks every post, and one demand page shows many forms, each under its own prefix.
"""

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm.demands import labels
from crm.demands.models import LEVELS, RATINGS, STAFF_CHANNELS, URGENCIES
from crm.demands.services import MAX_EXTENSION_DAYS


def _coerce_int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class DemandForm(FlaskForm):
    """Intake by staff: visit, hotline 12345 or walk-in."""

    firm_id = SelectField(
        _l("Firm"), coerce=_coerce_int_or_none, validators=[DataRequired()], validate_choice=False
    )
    category_id = SelectField(
        _l("Category"), coerce=_coerce_int_or_none, validators=[DataRequired()]
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(
        _l("Description"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("What the firm asks for, in its own words, and what it has tried."),
    )
    urgency = SelectField(_l("Urgency"), choices=[], validators=[DataRequired()])
    channel = SelectField(_l("Channel"), choices=[], validators=[DataRequired()])
    attachments = MultipleFileField(_l("Attachments"))
    # One per rendered form: a double-clicked or re-sent form creates one demand.
    submission_key = HiddenField()

    def __init__(self, *args, firms=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.firm_id.choices = [(None, _l("Choose a firm"))] + [
            (f.id, f"{f.name} ({f.uscc})") for f in firms
        ]
        self.category_id.choices = [(None, _l("Choose a category"))] + [
            (c.id, c.name) for c in categories
        ]
        self.urgency.choices = [(u, labels.URGENCIES[u]) for u in URGENCIES]
        self.channel.choices = [(c, labels.CHANNELS[c]) for c in STAFF_CHANNELS]
        if not self.submission_key.data:
            self.submission_key.data = uuid.uuid4().hex


class DemandFilterForm(FlaskForm):
    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    state = SelectField(_l("State"), choices=[], validators=[Optional()])
    mine = BooleanField(_l("My demands"))

    class Meta:
        csrf = False  # a GET form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [("", _l("All states")), ("open", _l("Open"))] + [
            (code, text) for code, text in labels.STATES.items()
        ]


class ActionForm(FlaskForm):
    # Required: a post without it could not be checked against concurrent changes.
    version = HiddenField(validators=[InputRequired()])

    class Meta:
        csrf = False  # CSRFProtect checks every post; see the module's docstring

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class AcceptForm(ActionForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])


class ReasonForm(ActionForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class RejectForm(ReasonForm):
    pass


class ReturnTaskForm(ReasonForm):
    pass


class PauseForm(ReasonForm):
    reason = TextAreaField(
        _l("What the firm must provide"), validators=[DataRequired(), Length(max=200)]
    )


class MergeForm(ActionForm):
    into = StringField(
        _l("Number of the demand it repeats"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("A demand of the same firm, e.g. SQ20261123000042."),
    )
    reason = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])


class DispatchForm(ActionForm):
    level = SelectField(
        _l("Level"), coerce=_coerce_int_or_none, validators=[DataRequired()], choices=[]
    )
    lead = SelectField(_l("Lead unit"), validators=[DataRequired()], choices=[])
    co_units = SelectMultipleField(
        _l("Co-handling units"),
        choices=[],
        validators=[Optional()],
        description=_l("Level 3 only. Hold Ctrl (or ⌘) to choose several."),
    )
    note = TextAreaField(_l("Instructions (optional)"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, units=(), **kwargs):
        """``units``: (key, name) pairs, key ``d<id>`` for a department, ``s<id>`` a street."""
        super().__init__(*args, **kwargs)
        self.level.choices = [(None, _l("Choose a level"))] + [
            (n, labels.LEVELS[n]) for n in LEVELS
        ]
        self.lead.choices = [("", _l("Choose the lead unit")), *units]
        self.co_units.choices = list(units)


class ResolveTaskForm(ActionForm):
    resolution = TextAreaField(
        _l("Reply"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("What was done: the lead unit's reply goes to the firm."),
    )


class ProgressForm(ActionForm):
    message = TextAreaField(_l("Progress"), validators=[DataRequired(), Length(max=2000)])
    internal = BooleanField(_l("Internal: not shown to the firm"))


class ExtensionForm(ActionForm):
    days = IntegerField(
        _l("Extra working days"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_EXTENSION_DAYS)],
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class DecideExtensionForm(ActionForm):
    decision = SelectField(_l("Decision"), choices=[], validators=[DataRequired()])
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.decision.choices = [("approve", _l("Approve")), ("decline", _l("Decline"))]


class ResumeForm(ActionForm):
    pass


class WithdrawForm(ActionForm):
    reason = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=200)])


class RateForm(ActionForm):
    rating = SelectField(_l("Your rating"), choices=[], validators=[DataRequired()])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=1000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rating.choices = [("", _l("Choose"))] + [(r, labels.RATINGS[r]) for r in RATINGS]


class FollowUpForm(ActionForm):
    message = TextAreaField(_l("What was said"), validators=[DataRequired(), Length(max=2000)])
    rating = SelectField(_l("Rating given on the phone"), choices=[], validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rating.choices = [("", _l("None given"))] + [(r, labels.RATINGS[r]) for r in RATINGS]


class NoteForm(ActionForm):
    message = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=2000)])
    internal = BooleanField(_l("Internal: not shown to the firm"), default=True)


class AttachForm(ActionForm):
    files = MultipleFileField(_l("Files"))
    internal = BooleanField(_l("Internal: not shown to the firm"))
