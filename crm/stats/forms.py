"""The dashboard's filters, read from the query string: the window, the as-of moment and the
slice. The same form reads the address of a drill-down page, so a number and the rows
behind it are counted from the same values.

A wrong value is shown with its error and replaced by its default; it never fails the page.
The dimensions a user may not change (a street's centre its street) are not fields at all:
``crm.stats.scope.scoped`` fixes them whatever the address says.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional, ValidationError

from crm.demands import labels as demand_labels
from crm.stats.definitions import ALL_TIME_START, DIMENSIONS, Slice, Window
from crm.timeutil import SHANGHAI, utcnow
from crm.visits.forms import TIER_LABELS

LAST_YEAR = 2100  # past this a typed date is a typing error
# "2026-03-01", "2026-03-01 14:30", "2026-03-01T14:30" or with seconds: what people type
# and what a browser's datetime-local field sends.
_MOMENT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def _plausible_year(form, field):
    if field.data and not ALL_TIME_START.year <= field.data.year <= LAST_YEAR:
        raise ValidationError(
            _l("Enter a date between %(a)s and %(b)s.", a=ALL_TIME_START.year, b=LAST_YEAR)
        )


def parse_moment(text: str) -> datetime:
    """A Shanghai date with an optional time as a naive UTC moment. A date alone is the end
    of that day: "as of 1 March" includes what happened on 1 March."""
    match = _MOMENT.match(text.strip())
    if not match:
        raise ValueError(text)
    day = date.fromisoformat(match.group(1))
    if match.group(2) is None:
        local = datetime.combine(day + timedelta(days=1), time(), SHANGHAI)
        local -= timedelta(microseconds=1)
    else:
        clock = time(int(match.group(2)), int(match.group(3)), int(match.group(4) or 0))
        local = datetime.combine(day, clock, SHANGHAI)
    return (local - local.utcoffset()).replace(tzinfo=None)


class StatsFilterForm(FlaskForm):
    """Window, as-of moment and slice; fields named as the address spells them."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), name="from", validators=[Optional(), _plausible_year])
    end = DateField(_l("To"), name="to", validators=[Optional(), _plausible_year])
    as_of = StringField(
        _l("As of"),
        validators=[Optional()],
        description=_l(
            "Beijing time, e.g. 2026-03-31 or 2026-03-31 18:00 (a date alone is the end of "
            "that day). Empty: now."
        ),
    )
    street_id = SelectField(_l("Street"), coerce=_int_or_none, validators=[Optional()])
    department_id = SelectField(_l("Department"), coerce=_int_or_none, validators=[Optional()])
    category_id = SelectField(_l("Category"), coerce=_int_or_none, validators=[Optional()])
    tier = SelectField(_l("Tier"), validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])

    def __init__(
        self, *args, streets=(), departments=(), categories=(), fixed=(), today=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.today = today or date.today()
        self.moment: datetime | None = None
        everything = _l("All")
        self.street_id.choices = [(None, everything), *_named(streets)]
        self.department_id.choices = [(None, everything), *_named(departments)]
        self.category_id.choices = [(None, everything), *_named(categories)]
        self.tier.choices = [("", everything), *TIER_LABELS.items()]
        self.channel.choices = [("", everything), *demand_labels.CHANNELS.items()]
        self.street_choices = self.street_id.choices
        # A street's centre has its street fixed: no field, whatever the address says.
        if "street" in fixed:
            del self.street_id

    def validate_start(self, field):
        if field.data and not field.errors and field.data > self.today:
            raise ValidationError(_l("The start date is after today."))

    def validate_end(self, field):
        start = self.start.data
        if field.data and start and not self.start.errors and field.data < start:
            raise ValidationError(_l("The end date is before the start date."))

    def validate_as_of(self, field):
        if not field.data:
            return
        try:
            moment = parse_moment(field.data)
        except ValueError:
            raise ValidationError(
                _l("Enter a date, or a date and time, such as 2026-03-31 18:00.")
            ) from None
        if moment > utcnow():
            # Later today is now; a day to come has no figures yet.
            if date.fromisoformat(field.data.strip()[:10]) > self.today:
                raise ValidationError(_l("The as-of time is in the future."))
            moment = None
        self.moment = moment


def _named(rows) -> list[tuple[int, str]]:
    return [
        (r.id, r.name if r.active else _l("%(name)s (no longer in use)", name=r.name)) for r in rows
    ]


@dataclass(frozen=True)
class Filters:
    """What the form asked for, errors left out: the window and the slice asked."""

    window: Window
    asked: Slice


def read_filters(form: StatsFilterForm) -> Filters:
    """The form's valid values; a field with an error gives way to its default. The window
    defaults to this year up to today, the moment to now."""
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    end = ok(form.end) or form.today
    start = ok(form.start) or date(end.year, 1, 1)
    if start > end:
        start, end = date(form.today.year, 1, 1), form.today
    street = form.street_id if "street_id" in form else None
    asked = Slice(
        street_id=ok(street) if street is not None else None,
        department_id=ok(form.department_id),
        category_id=ok(form.category_id),
        tier=ok(form.tier) or None,
        channel=ok(form.channel) or None,
    )
    moment = None if form.as_of.errors else form.moment
    return Filters(Window(start, end, moment), asked)


def query_args(form: StatsFilterForm, exclude=()) -> dict:
    """The form's valid values as address arguments, for the links between the pages."""
    args = {}
    for field in form:
        if field.name in exclude or field.errors or field.data in (None, ""):
            continue
        value = field.data.isoformat() if isinstance(field.data, date) else field.data
        args[field.name] = value
    return args


class RowsFilterForm(StatsFilterForm):
    """The dashboard's filters and the breakdown cell a number stands for: ``dim`` and
    ``key`` (a month "YYYY-MM", an id, a tier or a channel code)."""

    dim = SelectField(_l("Breakdown"), validators=[Optional()])
    key = StringField(_l("Row"))  # checked against the breakdown, even when empty

    def __init__(self, *args, dimensions=DIMENSIONS, **kwargs):
        super().__init__(*args, **kwargs)
        self.dim.choices = [("", _l("None")), *((d, d) for d in dimensions)]
        self.cell_key = None

    def validate_key(self, field):
        dim = None if self.dim.errors else self.dim.data
        if not dim:
            return
        if not field.data:
            raise ValidationError(_l("Say which row of the breakdown."))
        key = _cell_key(self, dim, field.data.strip())
        if key is None:
            raise ValidationError(_l("There is no such row in this breakdown."))
        self.cell_key = key


def _cell_key(form: RowsFilterForm, dim: str, text: str):
    """The key of breakdown ``dim`` that ``text`` spells, or None when there is none."""
    if dim == "month":
        if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
            return None
        return text
    if dim in ("street", "department", "category"):
        field = {
            "street": form.street_choices,
            "department": form.department_id.choices,
            "category": form.category_id.choices,
        }[dim]
        ids = {value for value, _label in field if value is not None}
        return int(text) if text.isdigit() and int(text) in ids else None
    labels = TIER_LABELS if dim == "tier" else demand_labels.CHANNELS
    return text if text in labels else None


def read_cell(form: RowsFilterForm) -> tuple[str, object] | None:
    """The breakdown cell asked for, once the form is read: (dimension, key) or None."""
    if form.dim.errors or form.key.errors or not form.dim.data:
        return None
    return form.dim.data, form.cell_key
