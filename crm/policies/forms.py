"""Forms of the policy pages: a policy with its criteria rows, the list's filters,
retiring, files, the Excel import and the candidate list's filters."""

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import TextInput

from crm.policies.attributes import ATTRIBUTES, OPERATORS, show_value
from crm.policies.catalog import POLICY_FIELDS, STATUS_LABELS, CriterionInput
from crm.policies.labels import KIND_LABELS, LEVEL_LABELS, TOPIC_LABELS
from crm.policies.matching import ELIGIBLE, NEAR_MISS, OUTCOME_LABELS, PENDING_REVIEW

# The outcomes a candidate list shows: the firms the policy finds, and those one step away.
CANDIDATE_OUTCOMES = (ELIGIBLE, PENDING_REVIEW, NEAR_MISS)
BLANK_ROWS = 2  # empty criterion rows under the filled ones, for the form without script


def _version(field) -> int | None:
    try:
        return int(field.data)
    except (TypeError, ValueError):
        return None


class ValuesField(Field):
    """A criterion's value: one text box (several values separated by commas), or the
    editor's inputs (a multi-select, the two ends of a range) posted under one name."""

    widget = TextInput()

    def process_data(self, value: Any) -> None:
        self.data = [str(v) for v in value] if value else []

    def process_formdata(self, valuelist: list) -> None:
        self.data = [v.strip() for v in valuelist if v and v.strip()]

    def _value(self) -> str:
        return ", ".join(self.data or [])

    @property
    def raw(self) -> Any:
        """One text to be split by ``clean_value``, or the list the inputs gave."""
        return self.data[0] if len(self.data) == 1 else list(self.data)


class CriterionRow(Form):
    # Unknown choices are reported by clean_value, with a message a person understands.
    attribute = SelectField(_l("Firm attribute"), validate_choice=False)
    operator = SelectField(_l("Comparison"), validate_choice=False)
    value = ValuesField(_l("Value"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attribute.choices = [("", "—"), *((k, a.label) for k, a in ATTRIBUTES.items())]
        self.operator.choices = [("", "—"), *OPERATORS.items()]

    @property
    def blank(self) -> bool:
        return not self.attribute.data and not self.value.data


class PolicyForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    issuer = StringField(
        _l("Issuer"),
        validators=[Length(max=100)],
        description=_l("The authority that issued it, e.g. 区科学技术委员会"),
    )
    doc_number = StringField(
        _l("Document number (文号)"),
        validators=[Length(max=64)],
        description=_l("e.g. 沪科规〔2026〕3号"),
    )
    level = SelectField(_l("Level"), default="district")
    topic = SelectField(_l("Topic"), default="other")
    kind = SelectField(_l("Kind"), default="universal")
    effective_from = DateField(_l("In force from"), validators=[DataRequired()])
    effective_to = DateField(
        _l("In force until"),
        validators=[Optional()],
        description=_l("Leave empty for a policy without an end date."),
    )
    no_application = BooleanField(_l("No application needed (免申即享)"))
    benefits = TextAreaField(_l("Benefits"), validators=[Length(max=5000)])
    how_to_apply = TextAreaField(_l("How to apply"), validators=[Length(max=5000)])
    review_conditions = TextAreaField(
        _l("Conditions a person reviews"),
        validators=[Length(max=5000)],
        description=_l(
            "One per line: what the machine cannot check, e.g. “no serious tax violation "
            "in the last three years”. A firm that meets every criterion is then "
            "“eligible pending review”."
        ),
    )
    criteria = FieldList(FormField(CriterionRow), min_entries=0, max_entries=60)
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.level.choices = list(LEVEL_LABELS.items())
        self.topic.choices = list(TOPIC_LABELS.items())
        self.kind.choices = list(KIND_LABELS.items())

    def add_blank_rows(self, n: int = BLANK_ROWS) -> None:
        for _blank in range(n):
            self.criteria.append_entry()

    def filled_rows(self) -> list:
        """The criterion rows someone filled in, as (form row, input)."""
        return [
            (
                entry,
                CriterionInput(entry.attribute.data, entry.operator.data, entry.value.raw),
            )
            for entry in (e.form for e in self.criteria)
            if not entry.blank
        ]

    def policy_data(self) -> dict:
        return {
            name: self[name].data
            for name in (
                "title",
                "issuer",
                "doc_number",
                "level",
                "topic",
                "kind",
                "effective_from",
                "effective_to",
                "no_application",
                "benefits",
                "how_to_apply",
                "review_conditions",
            )
        }

    @property
    def expected_version(self) -> int | None:
        return _version(self.version)


class EditPolicyForm(PolicyForm):
    # An edit says which version it was made on, so a stale one is refused.
    version = HiddenField(validators=[DataRequired(_l("Reload the page and edit again."))])


class PolicyFilterForm(FlaskForm):
    """The list's filters, read from the query string; a wrong value is ignored."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Length(max=100)])
    kind = SelectField(_l("Kind"), validators=[Optional()])
    level = SelectField(_l("Level"), validators=[Optional()])
    topic = SelectField(_l("Topic"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    no_application = BooleanField(_l("No application needed only"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        everything = ("", _l("All"))
        self.kind.choices = [everything, *KIND_LABELS.items()]
        self.level.choices = [everything, *LEVEL_LABELS.items()]
        self.topic.choices = [everything, *TOPIC_LABELS.items()]
        self.status.choices = [everything, *STATUS_LABELS.items()]


class RetireForm(FlaskForm):
    class Meta:
        csrf = False  # the app-wide CSRFProtect checks every post

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])
    version = HiddenField()

    @property
    def expected_version(self) -> int | None:
        return _version(self.version)


class AttachForm(FlaskForm):
    class Meta:
        csrf = False

    files = MultipleFileField(_l("Files"))


class ImportForm(FlaskForm):
    file = FileField(
        _l("Excel workbook"),
        validators=[FileRequired(_l("Choose a file to import."))],
        description=_l(".xlsx, with the column headers in row 1, as in the template."),
    )


class CandidateFilterForm(FlaskForm):
    class Meta:
        csrf = False

    on = DateField(_l("On"), validators=[Optional()])
    outcome = SelectField(_l("Outcome"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome.choices = [
            ("", _l("All found")),
            *((o, OUTCOME_LABELS[o]) for o in CANDIDATE_OUTCOMES),
        ]


# -- the criteria editor ----------------------------------------------------------------------


def value_texts(attribute: str, value: Any, *, streets: Mapping[int, str]) -> list[str]:
    """A stored criterion value as the editor's inputs hold it: codes, numbers, street
    names, yes or no; a range as its two ends."""
    kind = ATTRIBUTES[attribute].kind
    values = value if isinstance(value, list) else [value]
    if kind == "bool":
        return ["yes" if v else "no" for v in values]
    if kind == "street":
        return [streets.get(v, str(v)) for v in values]
    return [str(v) for v in values]


def form_data(policy: Any, streets: Mapping[int, str]) -> dict:
    """A policy as the editor's form data. Not its version: that comes with each post,
    so a post that does not say which version it edits is refused."""
    data = {name: getattr(policy, name) for name in POLICY_FIELDS}
    data["review_conditions"] = "\n".join(policy.review_conditions or ())
    data["criteria"] = [
        {
            "attribute": c.attribute,
            "operator": c.operator,
            "value": value_texts(c.attribute, c.value, streets=streets),
        }
        for c in policy.criteria
    ]
    return data


def editor_spec(streets: Mapping[int, str]) -> dict:
    """What the editor's script needs to offer fitting inputs: each attribute's kind,
    operators, unit and choices, the streets, and its few words."""
    return {
        "attributes": {
            key: {
                "kind": a.kind,
                "unit": str(a.unit),
                "operators": list(a.operators),
                "choices": [[c, show_value(key, c, streets=streets)] for c in a.choices],
            }
            for key, a in ATTRIBUTES.items()
        },
        "operators": {key: str(label) for key, label in OPERATORS.items()},
        "streets": sorted(([name, name] for name in streets.values()), key=lambda s: s[1]),
        "texts": {
            "yes": _("yes"),
            "no": _("no"),
            "to": _("to"),
            "kept": _("keeps {kept}"),
            "unknown": _("{unknown} without data"),
            "remaining": _("{remaining} left with the rows above"),
            "total": _("{total} active firms in the district"),
            "several": _("Hold Ctrl (⌘ on a Mac) to choose several."),
            "codes": _("Codes separated by commas, e.g. I65, C39"),
            "tags": _("Tags separated by commas"),
            "failed": _("The counts could not be refreshed."),
        },
    }
