"""The case pages' forms: opening a case, the board's filters, and one small form per
action on a case's page.

Forms on the case page carry the case's ``version`` where the change touches the case
itself (moves, details, departments) and have no CSRF field of their own: the app-wide
``CSRFProtect`` checks every post, and one page shows many forms under their own prefix.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm.assistance.case_labels import REFERRAL_OUTCOMES as REFERRAL_OUTCOME_LABELS
from crm.assistance.case_labels import STATES as STATE_LABELS
from crm.assistance.case_labels import TALENT_ROUTES as TALENT_ROUTE_LABELS
from crm.assistance.models import REFERRAL_OUTCOMES, TALENT_ROUTES

MAX_AMOUNT = 10**11  # 万元: far above any real case, below the column's 14 digits


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def _amount_field(label, description=None):
    return DecimalField(
        label,
        places=2,
        validators=[Optional(), NumberRange(min=0, max=MAX_AMOUNT)],
        description=description,
    )


class _NoCsrf(FlaskForm):
    class Meta:
        csrf = False  # the app-wide CSRFProtect checks the post


class _Versioned(_NoCsrf):
    version = HiddenField(validators=[DataRequired()])

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None

    def validate_version(self, field) -> None:
        if self.expected_version is None:
            raise ValueError(_l("The form was incomplete: reload the page."))


def _jobs_field():
    return IntegerField(
        _l("Expected jobs"), validators=[Optional(), NumberRange(min=0, max=10_000_000)]
    )


class NewCaseForm(FlaskForm):
    firm_id = SelectField(_l("Firm"), coerce=_int_or_none, validate_choice=False)
    case_type_id = SelectField(
        _l("Case type"), coerce=_int_or_none, validators=[DataRequired()], validate_choice=False
    )
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("What the firm needs, in a few words."),
    )
    owner_id = SelectField(
        _l("Owner"), coerce=_int_or_none, validators=[DataRequired()], validate_choice=False
    )
    # The expected value: 万元, people.
    expected_investment = _amount_field(_l("Expected investment (10,000 yuan)"))
    registered_capital = _amount_field(_l("Registered capital (10,000 yuan)"))
    expected_jobs = _jobs_field()
    department_ids = SelectMultipleField(
        _l("Departments involved"),
        coerce=int,
        validate_choice=False,
        description=_l("They see the case and may add notes to it."),
    )
    talent_route = SelectField(
        _l("Talent settlement route"),
        choices=[],
        validators=[Optional()],
        description=_l("Talent settlement cases only."),
    )

    def __init__(self, *args, firms=(), types=(), owners=(), departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.firm_id.choices = [(None, _l("Choose a firm"))] + [
            (f.id, f"{f.name} ({f.uscc})") for f in firms
        ]
        self.case_type_id.choices = [(None, _l("Choose a type"))] + [(t.id, t.name) for t in types]
        self.owner_id.choices = [(None, _l("Choose the owner"))] + [
            (u.id, _owner_label(u)) for u in owners
        ]
        self.department_ids.choices = [(d.id, d.name) for d in departments]
        self.talent_route.choices = route_choices()


class CaseFilterForm(FlaskForm):
    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    state = SelectField(_l("State"), choices=[], validators=[Optional()])
    street_id = SelectField(
        _l("Street"), coerce=_int_or_none, validators=[Optional()], validate_choice=False
    )
    owner_id = SelectField(
        _l("Owner"), coerce=_int_or_none, validators=[Optional()], validate_choice=False
    )
    mine = BooleanField(_l("My cases"))

    class Meta:
        csrf = False  # a GET form

    def __init__(self, *args, streets=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = list(STATE_LABELS.items())
        self.street_id.choices = [(None, _l("All streets"))] + [(s.id, s.name) for s in streets]
        self.owner_id.choices = [(None, _l("All owners"))] + [
            (u.id, _owner_label(u)) for u in owners
        ]


def _owner_label(user) -> str:
    return f"{user.display_name}（{user.street.name}）" if user.street else user.display_name


def route_choices() -> list[tuple[str, str]]:
    return [("", _l("Not chosen yet"))] + [(r, TALENT_ROUTE_LABELS[r]) for r in TALENT_ROUTES]


# -- the case page's forms -------------------------------------------------------------------


class MoveForm(_Versioned):
    """Advance, move back, land, reopen: nothing to fill in but the version."""


class DropForm(_Versioned):
    reason = StringField(_l("Why is it dropped?"), validators=[DataRequired(), Length(max=200)])


class TickForm(_NoCsrf):
    done = RadioField(_l("Done"), choices=[], validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.done.choices = [("1", _l("Done")), ("0", _l("Not done"))]


class NoteForm(_NoCsrf):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=5000)])


class DepartmentsForm(_Versioned):
    department_ids = SelectMultipleField(
        _l("Departments involved"), coerce=int, validate_choice=False
    )

    def __init__(self, *args, departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.department_ids.choices = [(d.id, d.name) for d in departments]


class DetailsForm(_Versioned):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    owner_id = SelectField(
        _l("Owner"), coerce=_int_or_none, validators=[DataRequired()], validate_choice=False
    )
    expected_investment = _amount_field(_l("Expected investment (10,000 yuan)"))
    registered_capital = _amount_field(_l("Registered capital (10,000 yuan)"))
    expected_jobs = _jobs_field()
    talent_route = SelectField(_l("Talent settlement route"), choices=[], validators=[Optional()])

    def __init__(self, *args, owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = [(None, _l("Choose the owner"))] + [
            (u.id, _owner_label(u)) for u in owners
        ]
        self.talent_route.choices = route_choices()


class ReferralForm(_NoCsrf):
    bank = StringField(_l("Bank"), validators=[DataRequired(), Length(max=64)])
    referred_on = DateField(_l("Referred on"), validators=[Optional()])
    amount_requested = DecimalField(
        _l("Amount requested (10,000 yuan)"),
        places=2,
        validators=[InputRequired(), NumberRange(min=0.01, max=MAX_AMOUNT)],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class ReferralOutcomeForm(_NoCsrf):
    outcome = SelectField(_l("Outcome"), choices=[], validators=[DataRequired()])
    amount_granted = DecimalField(
        _l("Amount granted (10,000 yuan)"),
        places=2,
        validators=[Optional(), NumberRange(min=0.01, max=MAX_AMOUNT)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome.choices = [(o, REFERRAL_OUTCOME_LABELS[o]) for o in REFERRAL_OUTCOMES]
