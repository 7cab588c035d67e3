"""The calendar the app counts with, and the years an admin enters from a CSV file.

A file holds one year, one day a line: ``date,type,name``, for instance
``2027-10-01,holiday,国庆节`` or ``2027-09-26,workday,国庆节``. Its days replace the days
entered before for that year, all or nothing.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any

from flask import g, has_app_context
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from crm.audit.services import record
from crm.extensions import db
from crm.timeutil import SHANGHAI
from crm.workcal.calendar import HOLIDAY, WORKDAY, WorkCalendar
from crm.workcal.models import CalendarDay

MAX_LINES = 1000  # a year has at most 366 days; more lines than this is the wrong file
MAX_BYTES = 1024 * 1024
HEADER_WORDS = {"date", "日期"}
TYPE_WORDS = {
    "holiday": HOLIDAY,
    "休": HOLIDAY,
    "假日": HOLIDAY,
    "workday": WORKDAY,
    "班": WORKDAY,
    "上班": WORKDAY,
}
NAME_MAX = 32
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_G_KEY = "workcal_calendar"

# What the example file shows: the format, with dates made up for 2027 (the State Council
# publishes the real ones late in the year before).
EXAMPLE_YEAR = 2027
EXAMPLE_DAYS = (
    ("2027-01-01", "holiday", "元旦"),
    ("2027-01-02", "holiday", "元旦"),
    ("2027-01-03", "holiday", "元旦"),
    ("2027-02-05", "holiday", "春节"),
    ("2027-02-06", "holiday", "春节"),
    ("2027-02-07", "holiday", "春节"),
    ("2027-02-08", "holiday", "春节"),
    ("2027-02-09", "holiday", "春节"),
    ("2027-02-10", "holiday", "春节"),
    ("2027-02-11", "holiday", "春节"),
    ("2027-02-12", "holiday", "春节"),
    ("2027-02-20", "workday", "春节"),
    ("2027-10-01", "holiday", "国庆节"),
    ("2027-10-02", "holiday", "国庆节"),
    ("2027-10-03", "holiday", "国庆节"),
    ("2027-10-04", "holiday", "国庆节"),
    ("2027-10-05", "holiday", "国庆节"),
    ("2027-10-06", "holiday", "国庆节"),
    ("2027-10-07", "holiday", "国庆节"),
    ("2027-09-26", "workday", "国庆节"),
    ("2027-10-09", "workday", "国庆节"),
)

PROBLEMS = {
    "columns": _l("Expected date,type,name: found %(count)s columns."),
    "date": _l("%(value)s is not a date: write it as 2027-10-01."),
    "type": _l("Unknown type %(value)s: use holiday or workday (休 or 班, 假日 or 上班)."),
    "name": _l("The name is longer than %(max)s characters."),
    "duplicate": _l("%(day)s is already on line %(line)s."),
    "year": _l("%(day)s is not in %(year)s: a file holds the days of one year."),
    "weekday_workday": _l(
        "%(day)s is a %(weekday)s, a working day anyway: a make-up workday falls on a "
        "Saturday or Sunday."
    ),
    "empty": _l("The file has no days."),
    "too_long": _l("The file has more than %(max)s lines: a file holds the days of one year."),
    "encoding": _l('The file is neither UTF-8 nor GBK text. Save it from Excel as "CSV UTF-8".'),
    "csv": _l("The file could not be read as CSV: %(error)s"),
}


@dataclass(frozen=True)
class LineError:
    line: int | None  # None: the file as a whole
    message: str


@dataclass
class ImportResult:
    year: int | None = None
    holidays: int = 0
    workdays: int = 0
    replaced: int = 0  # days entered before for that year, now gone
    in_library: bool = False  # the year is one the library knows: the file now overrides it
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class YearSummary:
    year: int
    holidays: int
    workdays: int


# -- counting ---------------------------------------------------------------------------


def current_calendar() -> WorkCalendar:
    """The calendar with the entered days, read once per request or app context."""
    calendar = g.get(_G_KEY)
    if calendar is None:
        calendar = WorkCalendar(_entered_days())
        setattr(g, _G_KEY, calendar)
    return calendar


def _entered_days() -> dict[date, bool]:
    return {
        day: is_workday
        for day, is_workday in db.session.execute(select(CalendarDay.day, CalendarDay.is_workday))
    }


def _forget_calendar() -> None:
    if has_app_context():
        g.pop(_G_KEY, None)


def today() -> date:
    """Today in Asia/Shanghai, the day deadlines are counted from."""
    return datetime.now(UTC).astimezone(SHANGHAI).date()


# -- entered years ----------------------------------------------------------------------


def entered_years() -> list[YearSummary]:
    rows = db.session.execute(
        select(
            CalendarDay.year,
            func.sum(case((CalendarDay.is_workday.is_(False), 1), else_=0)),
            func.sum(case((CalendarDay.is_workday.is_(True), 1), else_=0)),
        )
        .group_by(CalendarDay.year)
        .order_by(CalendarDay.year)
    )
    return [YearSummary(year, int(off), int(on)) for year, off, on in rows]


def year_days(year: int) -> list[CalendarDay]:
    return list(
        db.session.scalars(
            select(CalendarDay).where(CalendarDay.year == year).order_by(CalendarDay.day)
        )
    )


def delete_year(year: int, *, actor: Any) -> int:
    """Remove the days entered for ``year``; it falls back to the library or Monday to Friday."""
    days = year_days(year)
    for day in days:
        db.session.delete(day)
    if days:
        record(
            "calendar.delete",
            object_type="calendar_days",
            object_id=year,
            user=actor,
            detail={"year": year, "days": len(days)},
        )
    _forget_calendar()
    return len(days)


def import_year(source: bytes | str | IO | Iterable[Sequence[str]], *, actor: Any) -> ImportResult:
    """Replace the entered days of the file's year with the file's days, or, if any line
    is wrong, write nothing and say what is wrong with each line.

    ``source``: the file's bytes or text, a file object, or rows already split into cells
    (numbered from 1).
    """
    result = ImportResult()
    try:
        rows = _rows(source)
        days = _parse(rows, result)
    except _FileProblem as exc:
        result.errors.append(LineError(None, exc.message))
        return result
    if result.errors:
        return result
    if not days:
        result.errors.append(LineError(None, str(PROBLEMS["empty"])))
        return result

    year = result.year
    old = year_days(year)
    for day in old:
        db.session.delete(day)
    db.session.flush()  # the deletes first: the new rows reuse their keys
    db.session.add_all(
        CalendarDay(day=day, is_workday=is_workday, name=name, year=year)
        for day, (is_workday, name, _line) in sorted(days.items())
    )
    result.replaced = len(old)
    result.workdays = sum(1 for is_workday, _n, _l in days.values() if is_workday)
    result.holidays = len(days) - result.workdays
    result.in_library = WorkCalendar().source(year) == "library"
    record(
        "calendar.import",
        object_type="calendar_days",
        object_id=year,
        user=actor,
        detail={
            "year": year,
            "holidays": result.holidays,
            "workdays": result.workdays,
            "replaced": result.replaced,
        },
    )
    _forget_calendar()
    return result


def example_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("date", "type", "name"))
    writer.writerows(sorted(EXAMPLE_DAYS))
    return out.getvalue()


# -- reading the file -------------------------------------------------------------------


class _FileProblem(ValueError):
    def __init__(self, message: Any):
        super().__init__(str(message))
        self.message = str(message)


def _rows(source: Any) -> Iterable[tuple[int, list[str]]]:
    """(line number, cells) for each row of ``source``."""
    if hasattr(source, "read"):
        source = source.read(MAX_BYTES + 1)
        if len(source) > MAX_BYTES:
            raise _FileProblem(str(PROBLEMS["too_long"]) % {"max": MAX_LINES})
    if isinstance(source, bytes):
        source = _decode(source)
    if isinstance(source, str):
        return _csv_rows(source)
    return (
        (number, [str(c) if c is not None else "" for c in row])
        for number, row in enumerate(source, start=1)
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # GB 18030, a superset of GBK, as Excel saves
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _FileProblem(PROBLEMS["encoding"])


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for cells in reader:
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise _FileProblem(str(PROBLEMS["csv"]) % {"error": exc}) from exc
    return rows


def _parse(
    rows: Iterable[tuple[int, list[str]]], result: ImportResult
) -> dict[date, tuple[bool, str, int]]:
    """The file's days (day -> is_workday, name, line); problems go to ``result.errors``."""
    days: dict[date, tuple[bool, str, int]] = {}
    seen_first = False
    for count, (line, raw) in enumerate(rows, start=1):
        if count > MAX_LINES:
            raise _FileProblem(str(PROBLEMS["too_long"]) % {"max": MAX_LINES})
        cells = [c.strip() for c in raw]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if not seen_first:
            seen_first = True
            if cells[0].lstrip("\ufeff").lower() in HEADER_WORDS:
                continue
        problem = _parse_line(cells, days, result)
        if isinstance(problem, str):
            result.errors.append(LineError(line, problem))
        else:
            day, is_workday, name = problem
            days[day] = (is_workday, name, line)
    return days


def _parse_line(
    cells: list[str], days: dict[date, tuple[bool, str, int]], result: ImportResult
) -> str | tuple[date, bool, str]:
    """The line's day, or what is wrong with it."""
    if not 2 <= len(cells) <= 3:
        return str(PROBLEMS["columns"]) % {"count": len(cells)}
    day = _parse_date(cells[0])
    if day is None:
        return str(PROBLEMS["date"]) % {"value": cells[0]}
    kind = TYPE_WORDS.get(cells[1].lower())
    if kind is None:
        return str(PROBLEMS["type"]) % {"value": cells[1]}
    name = cells[2] if len(cells) == 3 else ""
    if len(name) > NAME_MAX:
        return str(PROBLEMS["name"]) % {"max": NAME_MAX}
    if result.year is None:
        result.year = day.year
    elif day.year != result.year:
        return str(PROBLEMS["year"]) % {"day": day.isoformat(), "year": result.year}
    if day in days:
        return str(PROBLEMS["duplicate"]) % {"day": day.isoformat(), "line": days[day][2]}
    if kind is WORKDAY and day.weekday() < 5:
        return str(PROBLEMS["weekday_workday"]) % {
            "day": day.isoformat(),
            "weekday": format_date(day, "EEEE"),
        }
    return day, kind, name


def _parse_date(text: str) -> date | None:
    match = _DATE.fullmatch(text)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
