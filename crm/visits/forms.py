"""The visit form (with its repeatable participant and demand rows), the cadence form and
the filters of the visits ledger and the overdue list."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm import labels
from crm.demands import labels as demand_labels
from crm.demands.models import URGENCIES
from crm.visits.models import CADENCE_TIERS, METHODS, NO_TIER, PARTICIPANT_LEVELS
from crm.visits.services import MAX_COURTESY_LIMIT, MAX_INTERVAL_DAYS

METHOD_LABELS = {
    "on_site": _l("On site"),
    "phone": _l("Phone"),
    "online": _l("Online"),
    "meeting": _l("Meeting"),
}
LEVEL_LABELS = {
    "district": _l("District"),
    "street": _l("Street"),
    "department": _l("Department"),
    "other": _l("Other"),
}
TIER_LABELS = {**labels.TIERS, NO_TIER: _l("No tier")}
MAX_PARTICIPANTS = 30
MAX_DEMANDS = 20


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class ParticipantRow(Form):
    """Someone else on the visit: a member of staff, or a name and unit written in."""

    user_id = SelectField(_l("Member of staff"), coerce=_int_or_none, validators=[Optional()])
    name = StringField(_l("Or a name"), validators=[Length(max=64)])
    unit = StringField(_l("Unit"), validators=[Length(max=64)])
    level = SelectField(_l("Level"), default="other", validators=[Optional()])
    department_id = SelectField(_l("Department"), coerce=_int_or_none, validators=[Optional()])

    def is_blank(self) -> bool:
        return not (self.user_id.data or (self.name.data or "").strip())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        wrote_unit = (self.unit.data or "").strip() or self.department_id.data
        if self.is_blank() and wrote_unit:
            self.name.errors = [*self.name.errors, _l("Give the person's name.")]
            return False
        return ok


class DemandRow(Form):
    """A demand the firm raised during the visit."""

    category_id = SelectField(_l("Category"), coerce=_int_or_none, validators=[Optional()])
    title = StringField(_l("Title"), validators=[Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    urgency = SelectField(_l("Urgency"), validators=[Optional()])

    def is_blank(self) -> bool:
        return not (
            (self.title.data or "").strip()
            or (self.description.data or "").strip()
            or self.category_id.data
        )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.is_blank():
            return ok
        required = (
            (self.category_id, _l("Choose a category.")),
            (self.title, _l("Give the demand a title.")),
            (self.description, _l("Describe the demand.")),
        )
        for field, message in required:
            if not (field.data.strip() if isinstance(field.data, str) else field.data):
                field.errors = [*field.errors, message]
                ok = False
        return ok


class VisitForm(FlaskForm):
    visited_on = DateField(_l("Date of the visit"), validators=[InputRequired()])
    method = SelectField(_l("Method"), validators=[DataRequired()])
    summary = TextAreaField(
        _l("Summary"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("What was discussed, what the firm said, what was agreed."),
    )
    service_request_id = SelectField(
        _l("The firm asked for this visit"),
        coerce=_int_or_none,
        validators=[Optional()],
        description=_l(
            "A visit the firm asked for through the portal is not counted against the "
            "courtesy limit; the request is marked done with this summary."
        ),
    )
    participants = FieldList(FormField(ParticipantRow), min_entries=1, max_entries=MAX_PARTICIPANTS)
    demands = FieldList(FormField(DemandRow), min_entries=1, max_entries=MAX_DEMANDS)
    courtesy_override = StringField(
        _l("Record anyway because…"), validators=[Optional(), Length(max=200)]
    )
    # For an edit: what the form was loaded from (see services.fingerprint).
    loaded = HiddenField()
    # For a new visit: the form's one-time key (a form sent twice records one visit).
    submission_key = HiddenField(validators=[Optional(), Length(max=64)])

    def __init__(
        self, *args, staff=(), departments=(), categories=(), requests=(), **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.method.choices = [(m, METHOD_LABELS[m]) for m in METHODS]
        if self.service_request_id is not None:
            self.service_request_id.choices = [(None, _l("No: our own initiative"))] + [
                (r.id, request_label(r)) for r in requests
            ]
        staff_choices = [(None, _l("Not a user: write the name"))] + [
            (u.id, staff_label(u)) for u in staff
        ]
        department_choices = [(None, "—")] + [(d.id, d.name) for d in departments]
        for row in self.participants:
            row.form.user_id.choices = staff_choices
            row.form.level.choices = [(lv, LEVEL_LABELS[lv]) for lv in PARTICIPANT_LEVELS]
            row.form.department_id.choices = department_choices
        category_choices = [(None, _l("Choose a category"))] + [(c.id, c.name) for c in categories]
        for row in self.demands or ():
            row.form.category_id.choices = category_choices
            row.form.urgency.choices = [(u, demand_labels.URGENCIES[u]) for u in URGENCIES]

    def participant_rows(self) -> list[dict]:
        return [
            {
                "user_id": row.form.user_id.data,
                "name": row.form.name.data,
                "unit": row.form.unit.data,
                "level": row.form.level.data,
                "department_id": row.form.department_id.data,
            }
            for row in self.participants
        ]

    def demand_rows(self) -> list[dict]:
        return [
            {
                "category_id": row.form.category_id.data,
                "title": row.form.title.data,
                "description": row.form.description.data,
                "urgency": row.form.urgency.data,
            }
            for row in self.demands
        ]


def staff_label(user) -> str:
    unit = user.department.name if user.department else user.street.name if user.street else ""
    role = labels.ROLES.get(user.role, user.role)
    return f"{user.display_name} · {unit or role}"


def request_label(req) -> str:
    from crm.portal.staff_forms import SERVICE_KIND_LABELS, SERVICE_STATE_LABELS

    when = req.preferred_date.isoformat() if req.preferred_date else ""
    parts = [str(SERVICE_KIND_LABELS.get(req.kind, req.kind)), when, req.details[:40]]
    state = str(SERVICE_STATE_LABELS.get(req.state, req.state))
    return f"#{req.id} {' · '.join(p for p in parts if p)} ({state})"


class EditVisitForm(VisitForm):
    """The same form without the demands: those are followed on their own pages."""

    demands = None
    service_request_id = None


# -- cadence ----------------------------------------------------------------------------------


class CadenceForm(FlaskForm):
    """Each tier's longest interval and courtesy limit, one pair of fields per tier."""

    @classmethod
    def field_names(cls, tier: str) -> tuple[str, str]:
        return f"{tier}_interval", f"{tier}_limit"


for _tier in CADENCE_TIERS:
    _interval, _limit = CadenceForm.field_names(_tier)
    setattr(
        CadenceForm,
        _interval,
        IntegerField(
            _l("Longest interval (days)"),
            validators=[InputRequired(), NumberRange(min=1, max=MAX_INTERVAL_DAYS)],
        ),
    )
    setattr(
        CadenceForm,
        _limit,
        IntegerField(
            _l("Courtesy limit (visits in 30 days)"),
            validators=[InputRequired(), NumberRange(min=1, max=MAX_COURTESY_LIMIT)],
        ),
    )


# -- filters ------------------------------------------------------------------------------------


class VisitFilterForm(FlaskForm):
    """The visits ledger's filters, from the query string; a wrong value is left out."""

    class Meta:
        csrf = False

    q = StringField(_l("Firm name"), validators=[Length(max=100)])
    visited_from = DateField(_l("Visited from"), validators=[Optional()])
    visited_to = DateField(_l("Visited to"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    commissioner_id = SelectField(_l("Commissioner"), coerce=_int_or_none, validators=[Optional()])
    method = SelectField(_l("Method"), validators=[Optional()])
    tier = SelectField(_l("Tier"), validators=[Optional()])
    joint = BooleanField(_l("Joint visits only"))

    def __init__(self, *args, streets=(), commissioners=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.street_id.choices = [(None, everything)] + [(s.id, s.name) for s in streets]
        self.commissioner_id.choices = [(None, everything)] + [
            (u.id, u.display_name) for u in commissioners
        ]
        self.method.choices = [("", everything), *METHOD_LABELS.items()]
        self.tier.choices = [("", everything), *TIER_LABELS.items()]


class OverdueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    commissioner = SelectField(_l("Commissioner"), validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    tier = SelectField(_l("Tier"), validators=[Optional()])

    def __init__(self, *args, streets=(), commissioners=(), mine=False, **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        head = [("", _l("All commissioners"))]
        if mine:
            head.append(("mine", _l("My firms")))
        head.append(("none", _l("No commissioner")))
        self.commissioner.choices = head + [(str(u.id), u.display_name) for u in commissioners]
        self.street_id.choices = [(None, everything)] + [(s.id, s.name) for s in streets]
        self.tier.choices = [("", everything), *TIER_LABELS.items()]
