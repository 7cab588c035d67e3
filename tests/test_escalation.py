"""The escalation ladder's rules (crm.demands.escalation): plain tests on the real calendar.

2026 in the calendar library: Labour Day is Friday 1 May to Tuesday 5 May, with Saturday
9 May a make-up workday; 13 to 20 March is an ordinary week.
"""

from datetime import date, timedelta

import pytest

from crm.demands.escalation import (
    BULLETIN,
    BULLETIN_DAYS_OVERDUE,
    DUE_SOON,
    DUE_SOON_DAYS_LEFT,
    REMINDER,
    SUPERVISION,
    SUPERVISION_DAYS_OVERDUE,
    Cutoffs,
    days_overdue,
    passed_at_least,
    steps_due,
)
from crm.workcal.calendar import WorkCalendar

CAL = WorkCalendar()
D = date.fromisoformat


def test_the_thresholds_are_those_of_the_design():
    assert (DUE_SOON_DAYS_LEFT, SUPERVISION_DAYS_OVERDUE, BULLETIN_DAYS_OVERDUE) == (1, 3, 5)


@pytest.mark.parametrize(
    ("due_on", "today", "steps"),
    [
        # An ordinary week: due Monday 16 March.
        ("2026-03-16", "2026-03-12", ()),  # Thursday: two working days left
        ("2026-03-16", "2026-03-13", (DUE_SOON,)),  # Friday: one left, across the weekend
        ("2026-03-16", "2026-03-14", (DUE_SOON,)),  # Saturday
        ("2026-03-16", "2026-03-16", (DUE_SOON,)),  # the day itself: not yet overdue
        ("2026-03-16", "2026-03-17", (REMINDER,)),  # 1 working day overdue
        ("2026-03-16", "2026-03-18", (REMINDER,)),  # 2
        ("2026-03-16", "2026-03-19", (REMINDER, SUPERVISION)),  # 3
        ("2026-03-16", "2026-03-20", (REMINDER, SUPERVISION)),  # 4
        ("2026-03-16", "2026-03-22", (REMINDER, SUPERVISION)),  # Sunday: still 4
        ("2026-03-16", "2026-03-23", (REMINDER, SUPERVISION, BULLETIN)),  # 5
        # Due Friday 13 March: the weekend does not count as overdue days.
        ("2026-03-13", "2026-03-14", (REMINDER,)),  # Saturday: late, 0 working days
        ("2026-03-13", "2026-03-17", (REMINDER,)),  # Tuesday: 2
        ("2026-03-13", "2026-03-18", (REMINDER, SUPERVISION)),  # Wednesday: 3
        # Due Thursday 30 April, before the Labour Day holiday (1 to 5 May).
        ("2026-04-30", "2026-04-28", ()),
        ("2026-04-30", "2026-04-29", (DUE_SOON,)),
        ("2026-04-30", "2026-05-05", (REMINDER,)),  # a holiday: late, 0 working days
        ("2026-04-30", "2026-05-07", (REMINDER,)),  # 6 and 7 May: 2
        ("2026-04-30", "2026-05-08", (REMINDER, SUPERVISION)),  # 3
        ("2026-04-30", "2026-05-09", (REMINDER, SUPERVISION)),  # make-up Saturday: 4
        ("2026-04-30", "2026-05-10", (REMINDER, SUPERVISION)),  # Sunday: 4
        ("2026-04-30", "2026-05-11", (REMINDER, SUPERVISION, BULLETIN)),  # 5
        # Due Wednesday 6 May, the first working day after the holiday.
        ("2026-05-06", "2026-04-29", ()),  # 30 April and 6 May: two left
        ("2026-05-06", "2026-04-30", (DUE_SOON,)),  # the holiday days are no working days
        ("2026-05-06", "2026-05-02", (DUE_SOON,)),
    ],
)
def test_steps_at_the_thresholds(due_on, today, steps):
    assert steps_due(D(due_on), D(today), CAL) == steps
    assert Cutoffs.on(D(today), CAL).steps(D(due_on)) == steps


def test_days_overdue_counts_working_days_only():
    assert days_overdue(D("2026-04-30"), D("2026-04-29"), CAL) == 0
    assert days_overdue(D("2026-04-30"), D("2026-05-05"), CAL) == 0
    assert days_overdue(D("2026-04-30"), D("2026-05-09"), CAL) == 4


def test_passed_at_least_is_the_cut_off_of_working_days_between():
    today = D("2026-05-11")
    cut = passed_at_least(today, 5, CAL)
    assert cut == D("2026-05-06")  # 6, 7, 8, 9 (make-up) and 11 May
    assert CAL.working_days_between(cut - timedelta(days=1), today) == 5
    assert CAL.working_days_between(cut, today) == 4
    with pytest.raises(ValueError):
        passed_at_least(today, 0, CAL)


def test_cutoffs_on_a_holiday():
    cut = Cutoffs.on(D("2026-05-03"), CAL)  # Sunday in the Labour Day holiday
    assert cut.due_soon_until == D("2026-05-06")  # the next working day
    assert cut.window(DUE_SOON) == (D("2026-05-03"), D("2026-05-07"))
    assert cut.window(REMINDER) == (None, D("2026-05-03"))
    assert cut.supervision_before == D("2026-04-28")  # 28, 29, 30 April
    assert cut.bulletin_before == D("2026-04-24")  # 24, 27, 28, 29, 30 April
    with pytest.raises(ValueError):
        cut.window("nothing")


@pytest.mark.parametrize(
    ("calendar", "first"),
    [
        (CAL, D("2026-01-01")),  # the library's year, all its holidays
        (WorkCalendar(), D("2030-12-01")),  # a year nobody knows: Monday to Friday
        (WorkCalendar({D("2026-06-03"): False, D("2026-06-07"): True}), D("2026-05-20")),
    ],
)
def test_cutoffs_agree_with_the_rule_for_every_day(calendar, first):
    """What the sweep selects with dates is exactly what the rule says, day by day."""
    for offset in range(0, 370 if first.year == 2026 and first.month == 1 else 40):
        today = first + timedelta(days=offset)
        cutoffs = Cutoffs.on(today, calendar)
        for delta in range(-20, 12):
            due_on = today + timedelta(days=delta)
            assert cutoffs.steps(due_on) == steps_due(due_on, today, calendar), (today, due_on)
