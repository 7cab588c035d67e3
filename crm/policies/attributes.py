"""The firm attributes a policy's machine criteria may test (DESIGN §7), the operators
each allows, how a criterion's value is checked when it is entered, and how values are
shown to people.

Plain Python: no database, no request. ``crm.policies.matching`` evaluates criteria with
``holds``; the editor, the Excel import and the API validate them with ``clean_value``.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from crm import labels
from crm.firms.models import REVENUE_BANDS, SIZES, TIERS

NO_TIER = "none"  # a firm outside the three tiers, as a criterion value
TIER_VALUES = (*TIERS, NO_TIER)

OPERATORS: dict[str, Any] = {
    "eq": _l("is"),
    "ne": _l("is not"),
    "in": _l("is one of"),
    "not_in": _l("is none of"),
    "gte": _l("at least"),
    "lte": _l("at most"),
    "between": _l("between"),
    "prefix": _l("starts with one of"),
    "not_prefix": _l("starts with none of"),
    "has": _l("has the tag"),
    "has_any": _l("has any of the tags"),
    "has_none": _l("has none of the tags"),
}
LIST_OPERATORS = ("in", "not_in", "prefix", "not_prefix", "has_any", "has_none")
NUMBER_OPERATORS = ("gte", "lte", "between")
CHOICE_OPERATORS = ("eq", "ne", "in", "not_in")


@dataclass(frozen=True)
class Attribute:
    key: str
    label: Any  # a lazy string
    kind: str  # code, choice, street, bool, number, band, tags
    operators: tuple[str, ...]
    unit: Any = ""
    choices: tuple[str, ...] = ()


ATTRIBUTES: dict[str, Attribute] = {
    a.key: a
    for a in (
        Attribute("industry", _l("Industry (GB/T 4754)"), "code", ("prefix", "not_prefix")),
        Attribute("size", _l("Size class"), "choice", CHOICE_OPERATORS, choices=SIZES),
        Attribute("street", _l("Street"), "street", CHOICE_OPERATORS),
        Attribute("tier", _l("Key-firm tier"), "choice", CHOICE_OPERATORS, choices=TIER_VALUES),
        Attribute("high_tech", _l("High-tech enterprise"), "bool", ("eq",)),
        Attribute("foreign_invested", _l("Foreign-invested"), "bool", ("eq",)),
        Attribute("age", _l("Years since establishment"), "number", NUMBER_OPERATORS, _l("years")),
        Attribute("employees", _l("Employees"), "number", NUMBER_OPERATORS, _l("people")),
        Attribute(
            "revenue",
            _l("Annual revenue band"),
            "band",
            (*NUMBER_OPERATORS, "in"),
            choices=REVENUE_BANDS,
        ),
        Attribute(
            "registered_capital",
            _l("Registered capital"),
            "number",
            NUMBER_OPERATORS,
            _l("10k yuan"),
        ),
        Attribute("tags", _l("Tags"), "tags", ("has", "has_any", "has_none")),
    )
}


class CriterionError(ValueError):
    """A criterion that cannot be checked: an unknown attribute or operator, or a value of
    the wrong shape. ``message`` is for the person who typed it."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = str(message)


# -- checking a criterion as it is entered ------------------------------------------------


def clean_value(attribute: str, operator: str, value: Any, *, streets: Mapping[int, str]) -> Any:
    """The stored form of ``value`` for ``attribute operator value``; ``CriterionError``
    when it cannot be used. Lists may come as lists or as text separated by commas,
    semicolons or spaces (the Excel import); numbers as numbers or text."""
    spec = ATTRIBUTES.get(attribute)
    if spec is None:
        raise CriterionError(_l("Unknown attribute %(name)s.", name=attribute))
    if operator not in spec.operators:
        raise CriterionError(
            _l(
                "%(attribute)s cannot be tested with “%(operator)s”.",
                attribute=spec.label,
                operator=OPERATORS.get(operator, operator),
            )
        )
    if spec.kind == "bool":
        return _clean_bool(value)
    if operator == "between":
        items = _items(value)
        if len(items) != 2:
            raise CriterionError(_l("“between” needs two values: the lowest and the highest."))
        low, high = (_clean_one(spec, v, streets) for v in items)
        if _order(spec, low) > _order(spec, high):
            raise CriterionError(_l("The lowest value is above the highest."))
        return [low, high]
    if operator in LIST_OPERATORS:
        items = [_clean_one(spec, v, streets) for v in _items(value)]
        if not items:
            raise CriterionError(_l("Give at least one value."))
        return list(dict.fromkeys(items))
    items = _items(value)
    if len(items) != 1:
        raise CriterionError(_l("Give exactly one value."))
    return _clean_one(spec, items[0], streets)


def _items(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None and str(v).strip() != ""]
    if isinstance(value, str):
        for sep in (";", "；", "，", "、", "\n"):
            value = value.replace(sep, ",")
        parts = value.split(",") if "," in value else value.split()
        return [p.strip() for p in parts if p.strip()]
    return [value]


def _clean_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是"):
        return True
    if text in ("0", "false", "no", "n", "否"):
        return False
    raise CriterionError(_l("Answer yes or no."))


def _clean_one(spec: Attribute, raw: Any, streets: Mapping[int, str]) -> Any:
    text = str(raw).strip()
    if spec.kind == "number":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CriterionError(_l("%(value)s is not a number.", value=text)) from None
        if not number.is_finite() or number < 0:
            raise CriterionError(_l("%(value)s is not a number of zero or more.", value=text))
        return int(number) if number == number.to_integral_value() else float(number)
    if spec.kind == "code":
        code = text.upper()
        if not (
            1 <= len(code) <= 5 and code[0].isalpha() and (code[1:].isdigit() or len(code) == 1)
        ):
            raise CriterionError(
                _l("%(value)s is not an industry code such as I or I65.", value=text)
            )
        return code
    if spec.kind in ("choice", "band"):
        if text in spec.choices:
            return text
        table = labels.REVENUE_BANDS if spec.kind == "band" else _choice_labels(spec)
        by_label = {str(label): code for code, label in table.items()}
        if text in by_label:
            return by_label[text]
        raise CriterionError(
            _l(
                "%(value)s is not one of: %(choices)s.",
                value=text,
                choices=", ".join(spec.choices),
            )
        )
    if spec.kind == "street":
        if text.isdigit() and int(text) in streets:
            return int(text)
        by_name = {name: street_id for street_id, name in streets.items()}
        if text in by_name:
            return by_name[text]
        raise CriterionError(_l("%(value)s is not a street of the district.", value=text))
    if spec.kind == "tags":
        if len(text) > 32:
            raise CriterionError(_l("A tag has at most 32 characters."))
        return text
    raise CriterionError(_l("Unknown attribute %(name)s.", name=spec.key))  # pragma: no cover


def _choice_labels(spec: Attribute) -> dict:
    if spec.key == "size":
        return labels.SIZES
    return {**labels.TIERS, NO_TIER: _l("No tier")}


def _order(spec: Attribute, value: Any) -> Any:
    if spec.kind == "band":
        return REVENUE_BANDS.index(value)
    return value


# -- evaluating ---------------------------------------------------------------------------


def predicate(attribute: str, operator: str, value: Any) -> Callable[[Any], bool]:
    """A test of a firm's known value (never None) against ``attribute operator value``,
    with the criterion's value prepared once: matching runs it for every firm."""
    spec = ATTRIBUTES[attribute]
    if spec.kind == "band":
        rank = REVENUE_BANDS.index
        if operator == "in":
            bands = frozenset(value)
            return lambda v: v in bands
        if operator == "between":
            low, high = rank(value[0]), rank(value[1])
            return lambda v: low <= rank(v) <= high
        bound = rank(value)
        if operator == "gte":
            return lambda v: rank(v) >= bound
        if operator == "lte":
            return lambda v: rank(v) <= bound
    elif operator == "eq":
        return lambda v: v == value
    elif operator == "ne":
        return lambda v: v != value
    elif operator in ("in", "not_in", "has_any", "has_none"):
        values = frozenset(value)
        if operator == "in":
            return lambda v: v in values
        if operator == "not_in":
            return lambda v: v not in values
        if operator == "has_any":
            return lambda v: not values.isdisjoint(v)
        return lambda v: values.isdisjoint(v)
    elif operator == "gte":
        return lambda v: v >= value
    elif operator == "lte":
        return lambda v: v <= value
    elif operator == "between":
        low, high = value
        return lambda v: low <= v <= high
    elif operator in ("prefix", "not_prefix"):
        prefixes = tuple(value)
        if operator == "prefix":
            return lambda v: v.startswith(prefixes)
        return lambda v: not v.startswith(prefixes)
    elif operator == "has":
        return lambda v: value in v
    raise CriterionError(_l("Unknown operator %(name)s.", name=operator))


def holds(attribute: str, operator: str, value: Any, firm_value: Any) -> bool:
    """Whether a firm's known value (never None) meets ``attribute operator value``."""
    return predicate(attribute, operator, value)(firm_value)


# -- showing values -----------------------------------------------------------------------


def show_value(attribute: str, value: Any, *, streets: Mapping[int, str]) -> str:
    """A criterion's value, or a firm's, as a person reads it."""
    spec = ATTRIBUTES[attribute]
    if isinstance(value, list):
        return "、".join(show_value(attribute, v, streets=streets) for v in value)
    if spec.kind == "bool":
        return str(_l("yes")) if value else str(_l("no"))
    if spec.kind == "choice":
        return labels.label(_choice_labels(spec), value)
    if spec.kind == "band":
        return labels.label(labels.REVENUE_BANDS, value)
    if spec.kind == "street":
        return streets.get(value, str(value))
    if spec.kind == "number":
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
        return f"{shown} {spec.unit}" if spec.unit else shown
    return str(value)


def describe(attribute: str, operator: str, value: Any, *, streets: Mapping[int, str]) -> str:
    """A criterion as a sentence fragment: “Employees at least 50 people”."""
    spec = ATTRIBUTES[attribute]
    if operator == "between":
        shown = str(
            _l(
                "%(low)s to %(high)s",
                low=show_value(attribute, value[0], streets=streets),
                high=show_value(attribute, value[1], streets=streets),
            )
        )
    else:
        shown = show_value(attribute, value, streets=streets)
    return str(
        _l(
            "%(attribute)s %(operator)s %(value)s",
            attribute=spec.label,
            operator=OPERATORS[operator],
            value=shown,
        )
    )
