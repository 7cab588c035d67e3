"""Matching firms and policies (DESIGN §7): plain Python, no database, no request.

One firm against every policy in force on a date (``match_firm``), or one policy
against every firm (``candidates``). Each result has the policy's outcome and the reason
of every machine criterion:

- met; unmet, with the firm's value; unknown, because the firm's data is missing;
- eligible: every criterion met and nothing for a person to judge;
- eligible pending review: no criterion unmet, but a reviewed condition to judge or a
  criterion unknown (someone must look at the missing data);
- near miss: exactly one criterion unmet (whatever else is unknown);
- not eligible: two or more unmet.

Results are computed on demand from the firm's data and the policies as they are now,
so they are always current; only an issued package keeps a copy.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from flask_babel import lazy_gettext as _l

from crm.policies.attributes import ATTRIBUTES, NO_TIER, describe, predicate, show_value

MET, UNMET, UNKNOWN = "met", "unmet", "unknown"
ELIGIBLE, PENDING_REVIEW, NEAR_MISS, NOT_ELIGIBLE = (
    "eligible",
    "pending_review",
    "near_miss",
    "not_eligible",
)
OUTCOMES = (ELIGIBLE, PENDING_REVIEW, NEAR_MISS, NOT_ELIGIBLE)
OUTCOME_LABELS = {
    ELIGIBLE: _l("Eligible"),
    PENDING_REVIEW: _l("Eligible pending review"),
    NEAR_MISS: _l("Near miss"),
    NOT_ELIGIBLE: _l("Not eligible"),
}
NO_STREETS: Mapping[int, str] = MappingProxyType({})
STATUS_LABELS = {MET: _l("Met"), UNMET: _l("Not met"), UNKNOWN: _l("Unknown")}


@dataclass(frozen=True, slots=True)
class FirmFacts:
    """What matching knows of a firm; ``None`` (and an empty industry) means not on
    record. A firm outside the tiers has ``tier`` None, which criteria see as "none"."""

    id: int
    name: str = ""
    industry_code: str = ""
    size: str | None = None
    street_id: int | None = None
    tier: str | None = None
    high_tech: bool = False
    foreign_invested: bool = False
    established_on: date | None = None
    employees: int | None = None
    revenue_band: str | None = None
    registered_capital: Decimal | float | None = None
    tags: tuple[str, ...] = ()

    FIELDS = (
        "id",
        "name",
        "industry_code",
        "size",
        "street_id",
        "tier",
        "high_tech",
        "foreign_invested",
        "established_on",
        "employees",
        "revenue_band",
        "registered_capital",
        "tags",
    )

    @classmethod
    def of(cls, firm: Any) -> "FirmFacts":
        """From anything with the firm's attributes (a ``Firm``, a result row)."""
        values = {name: getattr(firm, name) for name in cls.FIELDS}
        values["tags"] = tuple(values["tags"] or ())
        values["industry_code"] = values["industry_code"] or ""
        return cls(**values)

    @classmethod
    def from_row(cls, row: Sequence) -> "FirmFacts":
        """From a row of the ``FIELDS`` columns, in that order (the fast way for lists)."""
        *values, tags = row
        values[2] = values[2] or ""  # industry_code
        return cls(*values, tuple(tags or ()))

    def value(self, attribute: str, on: date) -> Any:
        """The firm's value of a criterion attribute on ``on``; None when unknown."""
        return GETTERS[attribute](self, on)


def _capital(facts: FirmFacts, on: date) -> int | float | None:
    if facts.registered_capital is None:
        return None
    capital = Decimal(facts.registered_capital)
    return int(capital) if capital == capital.to_integral_value() else float(capital)


# How each attribute is read off a firm on a day (None: not on record).
GETTERS: dict[str, Callable[[FirmFacts, date], Any]] = {
    "industry": lambda f, on: f.industry_code or None,
    "size": lambda f, on: f.size,
    "street": lambda f, on: f.street_id,
    "tier": lambda f, on: f.tier or NO_TIER,
    "high_tech": lambda f, on: bool(f.high_tech),
    "foreign_invested": lambda f, on: bool(f.foreign_invested),
    "age": lambda f, on: years_between(f.established_on, on) if f.established_on else None,
    "employees": lambda f, on: f.employees,
    "revenue": lambda f, on: f.revenue_band,
    "registered_capital": _capital,
    "tags": lambda f, on: list(f.tags),
}


def years_between(start: date, on: date) -> int:
    """Whole years from ``start`` to ``on`` (0 before the first anniversary or before
    ``start``)."""
    years = on.year - start.year - ((on.month, on.day) < (start.month, start.day))
    return max(years, 0)


@dataclass(frozen=True, slots=True)
class Criterion:
    attribute: str
    operator: str
    value: Any


@dataclass(frozen=True)
class Rule:
    """A policy as matching sees it. ``policy`` carries the source object along for the
    caller and takes no part in matching."""

    policy_id: int
    kind: str
    criteria: tuple[Criterion, ...]
    review_conditions: tuple[str, ...] = ()
    effective_from: date = date.min
    effective_to: date | None = None
    retired: bool = False
    policy: Any = field(default=None, compare=False, repr=False)
    # Each criterion with its getter and its prepared test, made once per rule.
    checks: tuple = field(init=False, default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        checks = tuple(
            (c, GETTERS[c.attribute], predicate(c.attribute, c.operator, c.value))
            for c in self.criteria
        )
        object.__setattr__(self, "checks", checks)

    @classmethod
    def of(cls, policy: Any) -> "Rule":
        return cls(
            policy_id=policy.id,
            kind=policy.kind,
            criteria=tuple(Criterion(c.attribute, c.operator, c.value) for c in policy.criteria),
            review_conditions=tuple(c for c in (policy.review_conditions or ()) if c.strip()),
            effective_from=policy.effective_from,
            effective_to=policy.effective_to,
            retired=policy.retired_at is not None,
            policy=policy,
        )

    def in_force(self, on: date) -> bool:
        return (
            not self.retired
            and self.effective_from <= on
            and (self.effective_to is None or on <= self.effective_to)
        )


@dataclass(frozen=True, slots=True)
class Reason:
    criterion: Criterion
    status: str  # met, unmet, unknown
    firm_value: Any


@dataclass(frozen=True)
class Match:
    rule: Rule
    firm: FirmFacts
    outcome: str
    reasons: tuple[Reason, ...]

    @property
    def unmet(self) -> list[Reason]:
        return [r for r in self.reasons if r.status == UNMET]

    @property
    def unknown(self) -> list[Reason]:
        return [r for r in self.reasons if r.status == UNKNOWN]

    @property
    def qualifies(self) -> bool:
        """Eligible, or eligible once a person has judged what is left."""
        return self.outcome in (ELIGIBLE, PENDING_REVIEW)


# -- evaluating ---------------------------------------------------------------------------


def check(criterion: Criterion, facts: FirmFacts, on: date) -> Reason:
    firm_value = facts.value(criterion.attribute, on)
    if firm_value is None:
        return Reason(criterion, UNKNOWN, None)
    met = predicate(criterion.attribute, criterion.operator, criterion.value)(firm_value)
    return Reason(criterion, MET if met else UNMET, firm_value)


def outcome_of(reasons: Iterable[Reason], review_conditions: tuple[str, ...]) -> str:
    unmet = unknown = 0
    for reason in reasons:
        if reason.status == UNMET:
            unmet += 1
        elif reason.status == UNKNOWN:
            unknown += 1
    if unmet >= 2:
        return NOT_ELIGIBLE
    if unmet == 1:
        return NEAR_MISS
    if unknown or review_conditions:
        return PENDING_REVIEW
    return ELIGIBLE


def evaluate(rule: Rule, facts: FirmFacts, on: date) -> Match:
    """One firm against one policy, whether or not the policy is in force on ``on``."""
    reasons = []
    for criterion, get, test in rule.checks:
        value = get(facts, on)
        if value is None:
            reasons.append(Reason(criterion, UNKNOWN, None))
        else:
            reasons.append(Reason(criterion, MET if test(value) else UNMET, value))
    return Match(rule, facts, outcome_of(reasons, rule.review_conditions), tuple(reasons))


def _order(match: Match) -> tuple:
    policy = match.rule.policy
    title = getattr(policy, "title", "") if policy is not None else ""
    return (OUTCOMES.index(match.outcome), len(match.unmet), title, match.rule.policy_id)


def match_firm(facts: FirmFacts, rules: Iterable[Rule], on: date) -> list[Match]:
    """The firm against every policy in force on ``on``: eligible first, then pending
    review, near misses and the rest."""
    return sorted((evaluate(r, facts, on) for r in rules if r.in_force(on)), key=_order)


def candidates(
    rule: Rule, firms: Iterable[FirmFacts], on: date, *, outcomes: tuple[str, ...] = OUTCOMES
) -> list[Match]:
    """The policy against every firm, keeping the outcomes asked for; nothing when the
    policy is not in force on ``on``."""
    if not rule.in_force(on):
        return []
    kept = []
    for facts in firms:
        match = evaluate(rule, facts, on)
        if match.outcome in outcomes:
            kept.append(match)
    return kept


# -- explaining ---------------------------------------------------------------------------


def criterion_text(criterion: Criterion, *, streets: Mapping[int, str] = NO_STREETS) -> str:
    return describe(criterion.attribute, criterion.operator, criterion.value, streets=streets)


def explain(reason: Reason, *, streets: Mapping[int, str] = NO_STREETS) -> str:
    """The reason as a sentence: what was asked, and what the firm has."""
    spec = ATTRIBUTES[reason.criterion.attribute]
    asked = criterion_text(reason.criterion, streets=streets)
    if reason.status == UNKNOWN:
        return str(
            _l(
                "%(criterion)s: unknown, the firm's %(attribute)s is not on record",
                criterion=asked,
                attribute=spec.label,
            )
        )
    shown = show_value(reason.criterion.attribute, reason.firm_value, streets=streets)
    if spec.kind == "tags" and not reason.firm_value:
        shown = str(_l("no tags"))
    if reason.status == MET:
        return str(_l("%(criterion)s: met (the firm: %(value)s)", criterion=asked, value=shown))
    return str(
        _l(
            "%(criterion)s: not met, the firm's %(attribute)s is %(value)s",
            criterion=asked,
            attribute=spec.label,
            value=shown,
        )
    )


def summary(match: Match, *, streets: Mapping[int, str] = NO_STREETS) -> str:
    """One line on why the outcome is what it is."""
    if match.outcome == ELIGIBLE:
        return str(_l("Every criterion is met."))
    if match.outcome == NEAR_MISS:
        return str(
            _l(
                "One criterion is not met: %(criterion)s.",
                criterion=criterion_text(match.unmet[0].criterion, streets=streets),
            )
        )
    if match.outcome == NOT_ELIGIBLE:
        return str(_l("%(n)s criteria are not met.", n=len(match.unmet)))
    parts = []
    if match.unknown:
        parts.append(
            str(
                _l(
                    "The firm's data is missing for: %(attributes)s.",
                    attributes="、".join(
                        str(ATTRIBUTES[r.criterion.attribute].label) for r in match.unknown
                    ),
                )
            )
        )
    if match.rule.review_conditions:
        parts.append(
            str(
                _l(
                    "To be reviewed: %(conditions)s.",
                    conditions="；".join(match.rule.review_conditions),
                )
            )
        )
    return " ".join(parts)
