"""The form that starts a bulk issuance, and the labels of its pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired, Optional

from crm.labels import TIERS
from crm.policies.labels import CHANNEL_LABELS
from crm.policies.models import CHANNELS

STATUS_LABELS = {
    "queued": _l("Queued"),
    "running": _l("Running"),
    "done": _l("Done"),
    "failed": _l("Failed"),
}


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class BulkIssuanceForm(FlaskForm):
    """To whom (a tier, a street, or a tier within a street), how, and as of which day."""

    tier = SelectField(_l("Tier"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    channel = SelectField(_l("Handed over"), validators=[DataRequired()])
    as_of = DateField(
        _l("Policies in force on"),
        validators=[DataRequired()],
        description=_l("The packages list the policies in force on this day."),
    )

    def __init__(self, *args, streets=(), any_street: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.tier.choices = [("", _l("Any tier")), *TIERS.items()]
        # A street's centre issues to its own street only: no "any street" to choose.
        every = [(None, _l("Any street"))] if any_street else []
        self.street_id.choices = every + [(s.id, s.name) for s in streets]
        self.channel.choices = [(c, CHANNEL_LABELS[c]) for c in CHANNELS]

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.tier.data and not self.street_id.data:
            self.tier.errors.append(_l("Choose a tier, a street or both."))
            return False
        return True
