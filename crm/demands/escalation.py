"""The escalation ladder (DESIGN §8): which steps a deadline has reached on a given day.

Pure rules over a working-day calendar, no database. A deadline ``due_on`` is the end of
that working day (Asia/Shanghai); ``today`` is the day the sweep judges it on.

- due soon (临期提醒): not yet overdue, and at most ``DUE_SOON_DAYS_LEFT`` working days left;
- reminder (催办): overdue, that is ``today > due_on``;
- supervision (督办): ``SUPERVISION_DAYS_OVERDUE`` working days overdue, to the unit's head;
- bulletin (通报): ``BULLETIN_DAYS_OVERDUE`` working days overdue, listed in the next bulletin.

"Working days overdue" is ``working_days_between(due_on, today)``: the working days after
the deadline up to and including today. A deadline first seen late reaches several steps
at once (a demand six working days overdue is reminded, supervised and listed together).

``steps_due`` answers for one deadline; ``Cutoffs`` turns the same rules into date
thresholds, computed once per sweep, so the database can pick the deadlines of each step
with plain date comparisons instead of the calendar being asked once per row.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

DUE_SOON = "due_soon"
REMINDER = "reminder"
SUPERVISION = "supervision"
BULLETIN = "bulletin"
STEPS = (DUE_SOON, REMINDER, SUPERVISION, BULLETIN)  # in the ladder's order
# The acceptance deadline (1 working day by default) gets no due-soon warning: the
# dispatchers were told of the new demand when it came in, which is warning enough.
ACCEPTANCE_STEPS = (REMINDER, SUPERVISION, BULLETIN)

# Working days left, at most, for a deadline not yet passed to be "due soon": 1 means the
# warning comes on the last working day before the deadline's day, or on that day itself.
DUE_SOON_DAYS_LEFT = 1
# Working days overdue from which supervision (督办) goes to the unit's head.
SUPERVISION_DAYS_OVERDUE = 3
# Working days overdue from which the demand is listed in the next bulletin (通报).
BULLETIN_DAYS_OVERDUE = 5


class Calendar(Protocol):
    def add_working_days(self, start: date, n: int): ...  # -> Due(day, verified)

    def working_days_between(self, start: date, end: date) -> int: ...


def days_left(due_on: date, today: date, cal: Calendar) -> int:
    """Working days from today to the deadline (negative once it has passed)."""
    return cal.working_days_between(today, due_on)


def days_overdue(due_on: date, today: date, cal: Calendar) -> int:
    """Working days past the deadline, today included; 0 while it has not passed."""
    return max(cal.working_days_between(due_on, today), 0)


def steps_due(due_on: date, today: date, cal: Calendar) -> tuple[str, ...]:
    """Every step ``due_on`` has reached on ``today``, in the ladder's order."""
    if today <= due_on:
        return (DUE_SOON,) if days_left(due_on, today, cal) <= DUE_SOON_DAYS_LEFT else ()
    overdue = days_overdue(due_on, today, cal)
    steps = [REMINDER]
    if overdue >= SUPERVISION_DAYS_OVERDUE:
        steps.append(SUPERVISION)
    if overdue >= BULLETIN_DAYS_OVERDUE:
        steps.append(BULLETIN)
    return tuple(steps)


def passed_at_least(today: date, days: int, cal: Calendar) -> date:
    """The first date ``d`` with fewer than ``days`` working days in ``(d, today]``.

    So ``working_days_between(d, today) >= days`` exactly when ``d`` is before it: the
    cut-off for "``days`` working days ago or earlier". It is the ``days``-th working day
    counting back from today, today included.
    """
    if days <= 0:
        raise ValueError("days must be positive")
    return cal.add_working_days(today + timedelta(days=1), -days).day


@dataclass(frozen=True)
class Cutoffs:
    """The ladder's thresholds on one day, as dates.

    A deadline ``due_on`` is
    - due soon when ``today <= due_on <= due_soon_until``;
    - reminded when ``due_on < today``;
    - supervised when ``due_on < supervision_before``;
    - listed when ``due_on < bulletin_before``.
    """

    today: date
    due_soon_until: date
    supervision_before: date
    bulletin_before: date

    @classmethod
    def on(cls, today: date, cal: Calendar) -> "Cutoffs":
        # The last day with at most DUE_SOON_DAYS_LEFT working days after today: the day
        # before the next working day beyond them.
        beyond = cal.add_working_days(today, DUE_SOON_DAYS_LEFT + 1).day
        return cls(
            today=today,
            due_soon_until=beyond - timedelta(days=1),
            supervision_before=passed_at_least(today, SUPERVISION_DAYS_OVERDUE, cal),
            bulletin_before=passed_at_least(today, BULLETIN_DAYS_OVERDUE, cal),
        )

    def window(self, step: str) -> tuple[date | None, date]:
        """``(first, before)``: the deadlines at ``step`` are ``first <= due_on < before``
        (``first`` None: no lower bound)."""
        if step == DUE_SOON:
            return self.today, self.due_soon_until + timedelta(days=1)
        if step == REMINDER:
            return None, self.today
        if step == SUPERVISION:
            return None, self.supervision_before
        if step == BULLETIN:
            return None, self.bulletin_before
        raise ValueError(f"unknown step {step!r}")

    def steps(self, due_on: date) -> tuple[str, ...]:
        """The same answer as ``steps_due(due_on, today, cal)``, by date comparisons only."""
        found = []
        for step in STEPS:
            first, before = self.window(step)
            if (first is None or first <= due_on) and due_on < before:
                found.append(step)
        return tuple(found)
