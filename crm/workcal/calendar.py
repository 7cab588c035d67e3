"""Working days of the mainland calendar: pure rules, no Flask, no database.

A year's days come from, in order of precedence:

1. the days an admin entered from the State Council's notice (``entered``): any entered day
   makes its whole year known, and replaces what the library says about that year;
2. the ``chinese_calendar`` library, for the years it has data for (2004–2026 in 1.11);
3. otherwise Monday to Friday, and every deadline that counts such a day is *unverified*.

Nothing here raises for a date outside the data: the library's ``NotImplementedError``
stays inside ``_library_table``.

Each year becomes a table of flags (1 = working day) and running totals, so counting a
span costs a lookup per year it touches rather than a step per day: the escalation sweep
asks this for every open demand.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date
from functools import cache
from itertools import accumulate

import chinese_calendar

WORKDAY, HOLIDAY = True, False


@dataclass(frozen=True)
class Due:
    day: date
    verified: bool  # False when any day counted lies in a year nobody knows


@dataclass(frozen=True)
class _Year:
    first: int  # the ordinal of 1 January
    flags: bytes  # one per day of the year: 1 for a working day
    before: tuple[int, ...]  # before[i]: working days among the year's first i days
    known: bool

    @property
    def total(self) -> int:
        return self.before[-1]


def _running_totals(flags: bytes) -> tuple[int, ...]:
    return tuple(accumulate(flags, initial=0))


def _days_in(year: int) -> int:
    return 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365


@cache
def _monday_to_friday(first_weekday: int, days: int) -> tuple[bytes, tuple[int, ...]]:
    """The flags and totals of a plain year; only 14 kinds of year exist."""
    flags = bytes(1 if (first_weekday + i) % 7 < 5 else 0 for i in range(days))
    return flags, _running_totals(flags)


def _plain_flags(year: int) -> bytes:
    return _monday_to_friday(date(year, 1, 1).weekday(), _days_in(year))[0]


@cache
def _library_table(year: int) -> _Year | None:
    """The library's year, or None if it has no data for it. Cached: its data never change."""
    first = date(year, 1, 1)
    try:
        chinese_calendar.is_workday(first)
    except NotImplementedError:
        return None
    ordinal = first.toordinal()
    flags = bytes(
        chinese_calendar.is_workday(date.fromordinal(ordinal + i)) for i in range(_days_in(year))
    )
    return _Year(ordinal, flags, _running_totals(flags), known=True)


@cache
def library_years() -> range:
    """The years the installed ``chinese_calendar`` has data for (contiguous)."""
    years = [y for y in range(1949, 2200) if _library_table(y) is not None]
    return range(years[0], years[-1] + 1) if years else range(0)


def library_days(year: int) -> list[tuple[date, bool, str]]:
    """The library's holidays and make-up workdays of ``year`` with their Chinese names,
    as an admin would enter them; empty for a year it does not know."""
    if not MINYEAR <= year <= MAXYEAR or _library_table(year) is None:
        return []
    days = [
        (d, flag, _chinese_name(name))
        for source, flag in (
            (chinese_calendar.holidays, HOLIDAY),
            (chinese_calendar.workdays, WORKDAY),
        )
        for d, name in source.items()
        if d.year == year
    ]
    return sorted(days)


def _chinese_name(english: str) -> str:
    try:
        return chinese_calendar.Holiday(english).chinese
    except ValueError:
        return english


class WorkCalendar:
    def __init__(self, entered: Mapping[date, bool] | None = None):
        # entered: True = make-up workday (调休上班), False = statutory holiday.
        self._entered: dict[int, dict[int, bool]] = {}
        for day, is_workday in (entered or {}).items():
            self._entered.setdefault(day.year, {})[day.toordinal()] = bool(is_workday)
        self._years: dict[int, _Year] = {}

    # -- one day -------------------------------------------------------------------------

    def is_workday(self, d: date) -> bool:
        year = self._year(d.year)
        return year.flags[d.toordinal() - year.first] == 1

    def is_known(self, d: date) -> bool:
        """Its year is in chinese_calendar or entered."""
        return self._year(d.year).known

    def source(self, year: int) -> str | None:
        """Where ``year`` comes from: "entered", "library", or None (Monday to Friday)."""
        if year in self._entered:
            return "entered"
        if MINYEAR <= year <= MAXYEAR and _library_table(year) is not None:
            return "library"
        return None

    # -- spans ---------------------------------------------------------------------------

    def add_working_days(self, start: date, n: int) -> Due:
        """The n-th working day after ``start`` (``start`` not counted); ``n == 0`` gives
        ``start`` if it is a working day, else the next one; ``n < 0`` counts backwards."""
        if n == 0:
            if self.is_workday(start):
                return Due(date.fromordinal(start.toordinal()), self.is_known(start))
            due = self._forward(start, 1)
            return Due(due.day, due.verified and self.is_known(start))
        return self._forward(start, n) if n > 0 else self._backward(start, -n)

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days d with start < d <= end; negative when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        first, last = self._year(start.year), self._year(end.year)
        if start.year == end.year:
            return (
                last.before[end.toordinal() - last.first + 1]
                - first.before[start.toordinal() - first.first + 1]
            )
        count = first.total - first.before[start.toordinal() - first.first + 1]
        for year in range(start.year + 1, end.year):
            count += self._year(year).total
        return count + last.before[end.toordinal() - last.first + 1]

    def _forward(self, start: date, n: int) -> Due:
        year_number = start.year
        year = self._year(year_number)
        index = start.toordinal() - year.first + 1  # the first day to look at
        verified = True
        while True:
            if index < len(year.flags):
                verified = verified and year.known
                # The smallest j with before[j + 1] - before[index] == n.
                target = year.before[index] + n
                if target <= year.total:
                    j = bisect_left(year.before, target) - 1
                    return Due(date.fromordinal(year.first + j), verified)
                n -= year.total - year.before[index]
            if year_number == MAXYEAR:
                return Due(date.max, False)
            year_number += 1
            year, index = self._year(year_number), 0

    def _backward(self, start: date, n: int) -> Due:
        year_number = start.year
        year = self._year(year_number)
        index = start.toordinal() - year.first - 1  # the first day to look at
        verified = True
        while True:
            if index >= 0:
                verified = verified and year.known
                # The largest j with before[index + 1] - before[j] == n.
                target = year.before[index + 1] - n
                if target >= 0:
                    j = bisect_right(year.before, target) - 1
                    return Due(date.fromordinal(year.first + j), verified)
                n -= year.before[index + 1]
            if year_number == MINYEAR:
                return Due(date.min, False)
            year_number -= 1
            year = self._year(year_number)
            index = len(year.flags) - 1

    # -- years ---------------------------------------------------------------------------

    def _year(self, number: int) -> _Year:
        year = self._years.get(number)
        if year is None:
            year = self._years[number] = self._build(number)
        return year

    def _build(self, number: int) -> _Year:
        first = date(number, 1, 1).toordinal()
        if (entered := self._entered.get(number)) is not None:
            flags = bytearray(_plain_flags(number))
            for ordinal, is_workday in entered.items():
                flags[ordinal - first] = is_workday
            return _Year(first, bytes(flags), _running_totals(flags), known=True)
        if (library := _library_table(number)) is not None:
            return library
        flags, before = _monday_to_friday(date(number, 1, 1).weekday(), _days_in(number))
        return _Year(first, flags, before, known=False)
