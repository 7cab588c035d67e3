"""Forms of the staff package pages: composing and issuing, and the acknowledgement."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from crm.policies.labels import CHANNEL_LABELS
from crm.policies.models import CHANNELS
from crm.workcal.services import today


class NotInFuture:
    """A package records what was matched on a day that has come: not a day to come."""

    def __call__(self, form, field) -> None:
        if field.data and field.data > today():
            raise ValidationError(_l("Choose today or an earlier day."))


class AsOfForm(FlaskForm):
    """The day to match on, chosen before composing (a GET form, no token)."""

    class Meta:
        csrf = False

    as_of = DateField(
        _l("Policies in force on"),
        validators=[Optional(), NotInFuture()],
        description=_l("Today, unless the package records one handed over earlier."),
    )


class IssueForm(FlaskForm):
    # The day the proposals on the page were matched on, carried over from AsOfForm.
    as_of = DateField(validators=[DataRequired(), NotInFuture()])
    # Checked proposals (policy ids). Their choices are the proposals of the moment; one
    # that stopped matching since the page was shown is refused by ``issue``, by name.
    confirmed = SelectMultipleField(
        _l("Individual policies to include"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    channel = SelectField(_l("Handed over"), validators=[DataRequired()])
    note = TextAreaField(
        _l("Note"),
        validators=[Length(max=500)],
        description=_l("Kept with the package for staff; not printed on it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.confirmed.choices = []
        self.channel.choices = [(c, CHANNEL_LABELS[c]) for c in CHANNELS]

    def offer(self, proposals) -> None:
        """The proposals to confirm, as matched for the day the form is about."""
        self.confirmed.choices = [(m.rule.policy_id, m.rule.policy.title) for m in proposals]


class AcknowledgeForm(FlaskForm):
    note = StringField(
        _l("How the firm acknowledged it"),
        validators=[Length(max=200)],
        description=_l("e.g. the signed receipt was collected"),
    )
