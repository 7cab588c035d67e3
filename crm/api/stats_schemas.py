"""The figures of DESIGN §9 (``crm.stats.definitions``): what GET /stats/demands and
/stats/visits accept and answer.

The queries forbid unknown parameters: a misspelt filter (``?steet_id=3``) would otherwise
widen the report to the whole district without a word, and a figure that looks right but
counts the wrong demands is the worst answer a report can give. ``lang`` is therefore a
declared parameter, not a tolerated extra.
"""

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from crm.api.schemas import Answer, Id, Request, UtcTime
from crm.demands.models import CHANNELS
from crm.firms.models import TIERS
from crm.stats.definitions import ALL_TIME_START, DIMENSIONS, NO_TIER

TIER_VALUES = (*TIERS, NO_TIER)
VISIT_DIMENSIONS = ("month", "street")
# Days outside these are not figures anyone asks for, and near the ends of the calendar the
# conversion of a day to UTC instants would overflow.
FIRST_DAY = ALL_TIME_START
LAST_DAY = date(2999, 12, 31)
MAX_YEARS = 10

Rate = float | None
# "2026-03-31T18:00:00+08:00" sent without percent-encoding the "+" arrives with a space.
_SPACED_OFFSET = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


# -- queries --------------------------------------------------------------------------------


class _WindowQuery(Request):
    start: date | None = Field(
        None,
        alias="from",
        ge=FIRST_DAY,
        le=LAST_DAY,
        description=(
            "First day of the period (Asia/Shanghai), included; default 1 January of the "
            "year of `to`. From 2000-01-01."
        ),
    )
    to: date | None = Field(
        None,
        ge=FIRST_DAY,
        le=LAST_DAY,
        description=(
            "Last day of the period (Asia/Shanghai), included; default today. At most "
            f"{MAX_YEARS} years after `from`."
        ),
    )
    as_of: datetime | None = Field(
        None,
        description=(
            "The moment the figures are taken at, e.g. 2026-03-31T18:00:00+08:00 (encode "
            "the + as %2B; a time without an offset is Asia/Shanghai). Default now. The same "
            "as_of in the past always gives the same figures."
        ),
    )
    street_id: Id | None = Field(
        None,
        description=(
            "Only this street. A street's user sees its own street whatever is asked, and "
            "asking for another street is refused (403)."
        ),
    )
    tier: Literal[TIER_VALUES] | None = Field(
        None, description="Only firms of this tier (their tier now); none: firms without one."
    )
    lang: Literal["zh_CN", "en"] | None = Field(
        None, description="The language of labels and definitions; default Chinese."
    )

    @field_validator("as_of", mode="before")
    @classmethod
    def _plus_as_space(cls, value: Any) -> Any:
        if isinstance(value, str) and (found := _SPACED_OFFSET.match(value.strip())):
            return f"{found[1]}+{found[2]}"
        return value


class DemandStatsQuery(_WindowQuery):
    department_id: Id | None = Field(
        None, description="Only demands with a task (lead or co-handling) for this department."
    )
    category_id: Id | None = Field(None, description="Only demands of this category.")
    channel: Literal[CHANNELS] | None = Field(
        None, description="Only demands that came in by this channel."
    )
    group_by: Literal[DIMENSIONS] | None = Field(
        None,
        description=(
            "Also answer `groups`: the figures of each month (of submission, Asia/Shanghai), "
            "street, department, category, tier or channel. A demand with tasks for several "
            "departments counts in each of them, so department groups may add up to more "
            "than the total."
        ),
    )


class VisitStatsQuery(_WindowQuery):
    """Visits have a street and a firm (with its tier), nothing more: department, category
    and channel are not parameters here."""

    group_by: Literal[VISIT_DIMENSIONS] | None = Field(
        None, description="Also answer `groups`: the visits of each month or street."
    )


# -- answers --------------------------------------------------------------------------------


class WindowOut(Answer):
    from_: date = Field(alias="from", description="First day, included (Asia/Shanghai).")
    to: date = Field(description="Last day, included (Asia/Shanghai).")
    as_of: UtcTime = Field(description="The moment the figures were taken at, in UTC.")


class SliceOut(Answer):
    """The slice counted: what was asked, narrowed to what the caller may see."""

    street_id: int | None
    department_id: int | None
    category_id: int | None
    tier: Literal[TIER_VALUES] | None
    channel: Literal[CHANNELS] | None
    leader_id: int | None = Field(description="A leader's own figures: the firms linked to it.")


def _rate(description: str):
    return Field(ge=0, le=1, description=f"{description}; null when the divisor is 0.")


class DemandFiguresOut(Answer):
    collected: int = Field(ge=0)
    resolved: int = Field(ge=0)
    resolved_on_time: int = Field(ge=0)
    rated: int = Field(ge=0)
    satisfied: int = Field(ge=0, description="Satisfied or basically satisfied.")
    not_satisfied: int = Field(ge=0)
    accepted_in_time: int = Field(ge=0)
    overdue: int = Field(ge=0)
    supervised: int = Field(ge=0)
    resolution_rate: Rate = _rate("resolved ÷ collected")
    on_time_rate: Rate = _rate("resolved on time ÷ resolved")
    satisfaction_rate: Rate = _rate("satisfied ÷ rated")
    response_rate: Rate = _rate("accepted in time ÷ collected")


class DemandGroup(Answer):
    key: str | int = Field(
        description=(
            "month: YYYY-MM; street, department, category: the id; tier: district, sector, "
            "local or none; channel: its code."
        )
    )
    label: str = Field(description="The key as a person reads it, in the request's language.")
    figures: DemandFiguresOut


class DemandStats(Answer):
    window: WindowOut
    slice: SliceOut
    figures: DemandFiguresOut
    definitions: dict[str, str] = Field(
        description="What each figure counts, in the request's language (统计口径)."
    )
    groups: list[DemandGroup] | None = Field(None, description="Only with group_by.")


class CoverageOut(Answer):
    visited: int = Field(ge=0, description="Active firms of the tier visited at least once.")
    firms: int = Field(ge=0, description="Active firms of the tier.")
    rate: Rate = _rate("visited ÷ firms")


class VisitFiguresOut(Answer):
    visits: int = Field(ge=0)
    firms_visited: int = Field(ge=0)
    coverage: dict[Literal[TIER_VALUES], CoverageOut] = Field(
        description="Per tier (none: firms without a tier)."
    )


class VisitGroup(Answer):
    key: str | int = Field(description="month: YYYY-MM; street: the street's id.")
    label: str
    visits: int = Field(ge=0)


class VisitStats(Answer):
    window: WindowOut
    slice: SliceOut
    figures: VisitFiguresOut
    definitions: dict[str, str]
    groups: list[VisitGroup] | None = Field(None, description="Only with group_by.")
