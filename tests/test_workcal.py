"""The working-day calendar, pure: 2026 from the library, entered years, unknown years.

2026 as the State Council's notice has it (and chinese_calendar with it):
Spring Festival 15–23 February off, Saturdays 14 and 28 February working;
Mid-Autumn 25–27 September and National Day 1–7 October off, Sunday 20 September and
Saturday 10 October working.
"""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.workcal.calendar import Due, WorkCalendar, library_days, library_years

D = date


@pytest.fixture(scope="module")
def cal():
    return WorkCalendar()


def days(start: date, end: date):
    return [start + timedelta(i) for i in range((end - start).days + 1)]


# -- National Day and Mid-Autumn 2026 --------------------------------------------------------


def test_national_day_2026_is_off(cal):
    assert not any(cal.is_workday(d) for d in days(D(2026, 10, 1), D(2026, 10, 7)))
    assert not any(cal.is_workday(d) for d in days(D(2026, 9, 25), D(2026, 9, 27)))
    assert cal.is_workday(D(2026, 10, 8)) and cal.is_workday(D(2026, 9, 30))


def test_national_day_2026_make_up_workdays(cal):
    assert D(2026, 9, 20).weekday() == 6 and cal.is_workday(D(2026, 9, 20))
    assert D(2026, 10, 10).weekday() == 5 and cal.is_workday(D(2026, 10, 10))
    assert not cal.is_workday(D(2026, 10, 11))  # the Sunday after stays off
    assert not cal.is_workday(D(2026, 9, 19))  # the Saturday before too


@pytest.mark.parametrize(
    ("n", "due"),
    [
        (1, D(2026, 10, 8)),
        (2, D(2026, 10, 9)),
        (3, D(2026, 10, 10)),  # the make-up Saturday counts
        (4, D(2026, 10, 12)),
        (5, D(2026, 10, 13)),
    ],
)
def test_deadlines_across_national_day_2026(cal, n, due):
    assert cal.add_working_days(D(2026, 9, 30), n) == Due(due, True)


def test_make_up_sunday_before_mid_autumn(cal):
    assert cal.add_working_days(D(2026, 9, 18), 1) == Due(D(2026, 9, 20), True)
    assert cal.add_working_days(D(2026, 9, 18), 5) == Due(D(2026, 9, 24), True)
    assert cal.add_working_days(D(2026, 9, 24), 1) == Due(D(2026, 9, 28), True)


# -- Spring Festival 2026 --------------------------------------------------------------------


def test_spring_festival_2026_is_off(cal):
    assert not any(cal.is_workday(d) for d in days(D(2026, 2, 15), D(2026, 2, 23)))
    assert cal.is_workday(D(2026, 2, 13)) and cal.is_workday(D(2026, 2, 24))


def test_spring_festival_2026_make_up_saturdays(cal):
    for saturday in (D(2026, 2, 14), D(2026, 2, 28)):
        assert saturday.weekday() == 5 and cal.is_workday(saturday)
    assert not cal.is_workday(D(2026, 3, 1))


def test_deadlines_across_spring_festival_2026(cal):
    assert cal.add_working_days(D(2026, 2, 13), 1) == Due(D(2026, 2, 14), True)
    assert cal.add_working_days(D(2026, 2, 13), 2) == Due(D(2026, 2, 24), True)
    assert cal.add_working_days(D(2026, 2, 12), 5) == Due(D(2026, 2, 26), True)
    assert cal.add_working_days(D(2026, 2, 27), 1) == Due(D(2026, 2, 28), True)
    assert cal.add_working_days(D(2026, 2, 28), 1) == Due(D(2026, 3, 2), True)


def test_new_year_2026_make_up_sunday(cal):
    assert not any(cal.is_workday(d) for d in days(D(2026, 1, 1), D(2026, 1, 3)))
    assert cal.is_workday(D(2026, 1, 4))  # a Sunday
    assert cal.add_working_days(D(2025, 12, 31), 1) == Due(D(2026, 1, 4), True)


# -- counting between, n = 0 and backwards -------------------------------------------------


def test_working_days_between(cal):
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 12)) == 4
    assert cal.working_days_between(D(2026, 10, 12), D(2026, 9, 30)) == -4
    assert cal.working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6
    assert cal.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0
    assert cal.working_days_between(D(2026, 10, 9), D(2026, 10, 9)) == 0
    # start not counted, end counted
    assert cal.working_days_between(D(2026, 10, 8), D(2026, 10, 9)) == 1


def test_working_days_between_across_years(cal):
    # 2026-12-31 (Thursday), then Monday to Friday of 2027: 1 January 2027 is a Friday.
    assert cal.working_days_between(D(2026, 12, 30), D(2027, 1, 4)) == 3
    # Across three years: the sum of the parts, and of the days one by one.
    whole = cal.working_days_between(D(2024, 12, 31), D(2026, 12, 31))
    parts = cal.working_days_between(D(2024, 12, 31), D(2025, 12, 31)) + (
        cal.working_days_between(D(2025, 12, 31), D(2026, 12, 31))
    )
    assert whole == parts == sum(cal.is_workday(d) for d in days(D(2025, 1, 1), D(2026, 12, 31)))


def test_zero_days(cal):
    assert cal.add_working_days(D(2026, 10, 9), 0) == Due(D(2026, 10, 9), True)
    assert cal.add_working_days(D(2026, 10, 1), 0) == Due(D(2026, 10, 8), True)
    assert cal.add_working_days(D(2026, 10, 10), 0) == Due(D(2026, 10, 10), True)  # make-up
    assert cal.add_working_days(D(2026, 10, 11), 0) == Due(D(2026, 10, 12), True)


def test_counting_backwards(cal):
    assert cal.add_working_days(D(2026, 10, 8), -1) == Due(D(2026, 9, 30), True)
    assert cal.add_working_days(D(2026, 10, 12), -2) == Due(D(2026, 10, 9), True)
    assert cal.add_working_days(D(2026, 2, 24), -1) == Due(D(2026, 2, 14), True)


def test_a_datetime_counts_as_its_day(cal):
    due = cal.add_working_days(datetime(2026, 9, 30, 17, 30), 1)
    assert due == Due(D(2026, 10, 8), True) and type(due.day) is date


# -- years nobody knows ------------------------------------------------------------------------


def test_deadline_into_a_year_without_data_is_unverified(cal):
    assert not cal.is_known(D(2027, 1, 4)) and cal.is_known(D(2026, 12, 31))
    # 31 December 2026, then Friday 1 January 2027 and Monday 4 January, Monday to Friday.
    due = cal.add_working_days(D(2026, 12, 30), 3)
    assert due == Due(D(2027, 1, 4), False)
    # Ending in 2026, it is verified even though 2027 is near.
    assert cal.add_working_days(D(2026, 12, 30), 1) == Due(D(2026, 12, 31), True)


def test_deadline_entirely_in_an_unknown_year(cal):
    due = cal.add_working_days(D(2027, 3, 5), 1)  # a Friday
    assert due == Due(D(2027, 3, 8), False)
    assert cal.add_working_days(D(2027, 3, 6), 0) == Due(D(2027, 3, 8), False)
    assert cal.add_working_days(D(2027, 3, 8), 0) == Due(D(2027, 3, 8), False)


def test_counting_back_into_an_unknown_year(cal):
    # 2 January 2004 (a Friday) is a working day, 1 January the holiday.
    assert cal.add_working_days(D(2004, 1, 5), -2) == Due(D(2003, 12, 31), False)
    assert cal.add_working_days(D(2004, 1, 5), -1) == Due(D(2004, 1, 2), True)  # stays in 2004


def test_an_entered_year_is_verified_and_keeps_its_holidays():
    cal = WorkCalendar(
        {
            D(2027, 1, 1): False,  # New Year's Day, a Friday
            D(2027, 2, 20): True,  # a make-up Saturday
            D(2027, 2, 8): False,
        }
    )
    assert cal.is_known(D(2027, 7, 1))
    assert cal.add_working_days(D(2026, 12, 30), 3) == Due(D(2027, 1, 5), True)
    assert not cal.is_workday(D(2027, 2, 8)) and cal.is_workday(D(2027, 2, 20))
    assert cal.is_workday(D(2027, 2, 9))  # not listed, a Tuesday
    assert not cal.is_workday(D(2027, 2, 21))  # not listed, a Sunday
    assert cal.add_working_days(D(2027, 2, 19), 1) == Due(D(2027, 2, 20), True)
    assert cal.add_working_days(D(2027, 2, 5), 1) == Due(D(2027, 2, 9), True)
    assert cal.source(2027) == "entered"
    assert cal.source(2028) is None


def test_an_entered_year_replaces_the_library():
    cal = WorkCalendar({D(2026, 10, 1): False})
    assert cal.source(2026) == "entered"
    assert cal.is_workday(D(2026, 10, 2))  # the library's holiday no longer applies
    assert not cal.is_workday(D(2026, 10, 10))  # nor its make-up Saturday
    assert not cal.is_workday(D(2026, 10, 1))
    assert WorkCalendar().source(2026) == "library"


@pytest.mark.parametrize("year", [1, 1900, 1990, 2003, 2027, 2100, 9999])
def test_far_off_years_never_raise(cal, year):
    start = D(year, 6, 15)
    assert not cal.is_known(start)
    assert cal.is_workday(start) == (start.weekday() < 5)
    due = cal.add_working_days(start, 10)
    assert not due.verified
    assert cal.working_days_between(start, due.day) == 10
    assert cal.add_working_days(start, -10).verified is False


def test_the_ends_of_the_calendar_do_not_raise(cal):
    assert cal.add_working_days(D(9999, 12, 30), 5) == Due(date.max, False)
    assert cal.add_working_days(D(1, 1, 2), -5) == Due(date.min, False)
    assert cal.working_days_between(date.min, date.max) > 0


def test_library_years_and_days():
    assert 2004 in library_years() and 2026 in library_years() and 2003 not in library_years()
    days_2026 = library_days(2026)
    assert (D(2026, 10, 10), True, "国庆节") in days_2026
    assert (D(2026, 2, 14), True, "春节") in days_2026
    assert (D(2026, 10, 1), False, "国庆节") in days_2026
    assert library_days(2027) == [] and library_days(0) == []


# -- against counting one day at a time -----------------------------------------------------


def _slowly(cal: WorkCalendar, start: date, n: int) -> date:
    day, step = start, (1 if n >= 0 else -1)
    if n == 0:
        while not cal.is_workday(day):
            day += timedelta(1)
        return day
    left = abs(n)
    while left:
        day += timedelta(step)
        left -= cal.is_workday(day)
    return day


_ENTERED = WorkCalendar({D(2027, 1, 1): False, D(2027, 2, 20): True, D(2003, 10, 1): False})


@given(
    start=st.dates(min_value=D(2001, 1, 1), max_value=D(2029, 12, 31)),
    n=st.integers(min_value=-400, max_value=400),
    span=st.integers(min_value=-800, max_value=800),
)
def test_matches_counting_one_day_at_a_time(start, n, span):
    due = _ENTERED.add_working_days(start, n)
    assert due.day == _slowly(_ENTERED, start, n)
    assert _ENTERED.is_workday(due.day)
    # The days looked at: after start up to the due day, or back to it; start itself for n = 0.
    if n > 0:
        looked_at = days(start + timedelta(1), due.day)
    elif n < 0:
        looked_at = days(due.day, start - timedelta(1))
    else:
        looked_at = days(start, due.day)
    assert due.verified == all(_ENTERED.is_known(d) for d in looked_at)
    if n > 0:
        assert _ENTERED.working_days_between(start, due.day) == n
    end = start + timedelta(span)
    expected = sum(_ENTERED.is_workday(d) for d in days(min(start, end), max(start, end))[1:])
    assert _ENTERED.working_days_between(start, end) == (expected if end >= start else -expected)
