"""SQL expressions the figures need, written for each database: a day stored as ISO text
(in a JSON field) as a date, and the Asia/Shanghai month of a UTC timestamp (its day is
``crm.demands.ledger.shanghai_date``).

Shanghai has kept UTC+8 without daylight saving since 1991, so the month is that of the
timestamp moved by eight hours. A day renders to text 'YYYY-MM-DD' on SQLite (where dates
are text) and to ``date`` on PostgreSQL, so it compares with ``shanghai_date`` and with
Date columns.
"""

from sqlalchemy import Date, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class iso_day(FunctionElement):
    """An ISO 'YYYY-MM-DD' text (a JSON value) as a day."""

    type = Date()
    inherit_cache = True


@compiles(iso_day, "sqlite")
def _iso_day_sqlite(element, compiler, **kw):
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(iso_day, "postgresql")
def _iso_day_postgresql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) AS DATE)"


class local_month(FunctionElement):
    """The Asia/Shanghai month ('YYYY-MM' text) of a naive UTC timestamp."""

    type = String()
    inherit_cache = True


@compiles(local_month, "sqlite")
def _local_month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(local_month, "postgresql")
def _local_month_postgresql(element, compiler, **kw):
    return f"to_char(({compiler.process(element.clauses, **kw)}) + INTERVAL '8 hours', 'YYYY-MM')"
