"""Visit cadence rules (DESIGN §5), with no database: when a firm is next due for a
visit, whether it is overdue, and whether one more visit would break the courtesy limit.

有呼必应、无事不扰: visit each firm at least every ``longest_interval_days`` of its tier,
but not more than ``courtesy_limit`` times within 30 days unless the firm asked. The
cadence that applies is always the firm's current tier's: when a firm changes tier, its
next due date moves with the new interval, counted from the same last visit.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from crm.visits.models import COURTESY_WINDOW_DAYS, NO_TIER

# The courtesy check looks at visits this close to the new one, before and after it.
COURTESY_REACH_DAYS = COURTESY_WINDOW_DAYS - 1


@dataclass(frozen=True)
class Cadence:
    longest_interval_days: int
    courtesy_limit: int


def cadence_key(tier: str | None) -> str:
    """The cadence row for a firm's tier; firms without a tier have their own row."""
    return tier or NO_TIER


def since(primary_assigned_on: date | None, created_on: date) -> date:
    """The day a firm came under the cadence: when its current primary commissioner took
    it on, or else when it was recorded. A never-visited firm is due counting from here."""
    return primary_assigned_on or created_on


def due_on(last_visited_on: date | None, cadence: Cadence, *, since: date) -> date:
    """The day by which the firm must be visited next.

    A firm never visited is due from ``since`` (the day it came under the cadence: its
    assignment or registration), so a new firm is not overdue on its first day.
    """
    start = last_visited_on or since
    return start + timedelta(days=cadence.longest_interval_days)


def is_overdue(last_visited_on: date | None, cadence: Cadence, *, since: date, on: date) -> bool:
    return on > due_on(last_visited_on, cadence, since=since)


def days_overdue(last_visited_on: date | None, cadence: Cadence, *, since: date, on: date) -> int:
    return max(0, (on - due_on(last_visited_on, cadence, since=since)).days)


def visits_in_window(visit_dates: Iterable[date], on: date) -> int:
    """Visits within the 30 days that end on ``on`` (both ends counted)."""
    start = on - timedelta(days=COURTESY_WINDOW_DAYS - 1)
    return sum(1 for d in visit_dates if start <= d <= on)


def breaks_courtesy(unrequested_visit_dates: Iterable[date], cadence: Cadence, *, on: date) -> bool:
    """Would one more unrequested visit on ``on`` exceed the courtesy limit?

    Only visits the firm did not ask for count, before and after ``on``: a visit within
    30 days either side shares a window with it.
    """
    dates = sorted(unrequested_visit_dates)
    # Every 30-day window that contains ``on``: it starts between on-29 and on.
    for offset in range(COURTESY_WINDOW_DAYS):
        window_end = on + timedelta(days=offset)
        if visits_in_window(dates, window_end) + 1 > cadence.courtesy_limit:
            return True
    return False


def courtesy_span(on: date) -> tuple[date, date]:
    """The visits ``breaks_courtesy`` needs for a visit ``on``: those within 29 days of it."""
    return on - timedelta(days=COURTESY_REACH_DAYS), on + timedelta(days=COURTESY_REACH_DAYS)
