"""What every benchmark shares: a seeded database, a logged-in client, timing and printing.

Benchmarks print figures and never judge them: speed is read by people, not asserted.
"""

import os
import platform
import re
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from crm.demo.plan import DEMO_PASSWORD

# -- timing ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Durations in seconds, summarised in milliseconds."""

    samples: list[float]

    def percentile(self, p: int) -> float:
        if len(self.samples) == 1:
            return self.samples[0] * 1000
        cuts = statistics.quantiles(self.samples, n=100, method="inclusive")
        return cuts[p - 1] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)


def measure(action: Callable[[], Any], *, times: int, warmup: int = 3) -> Timings:
    """Run ``action`` ``warmup`` times unmeasured (caches, compiled templates), then time it."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return Timings(samples)


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...``; afterwards ``t[0]`` is the seconds it took."""
    out: list[float] = []
    started = time.perf_counter()
    yield out
    out.append(time.perf_counter() - started)


# -- printing ----------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table, numbers right-aligned, wide (CJK) characters counted twice."""

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - width(cell))
            numeric = n > 0 and isinstance(rows[n - 1][i], int | float)
            parts.append(pad + cell if numeric else cell + pad)
        lines.append("  " + "  ".join(parts).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)


# -- the database and the app --------------------------------------------------------------


class Environment:
    """A migrated, seeded database and an app bound to it, shared by the benchmarks.

    Without ``BENCH_DATABASE_URL``, a fresh SQLite file in a temporary folder under /tmp,
    removed afterwards unless ``keep``. With it, that database: migrated, and seeded only
    when it has no firm and no user yet (a database seeded before is reused as it is).
    """

    def __init__(self, *, scale: str, url: str | None, keep: bool = False):
        self.scale = scale
        self.keep = keep
        self.tmpdir: str | None = None
        if url is None:
            self.tmpdir = tempfile.mkdtemp(prefix="crm-bench-", dir="/tmp")
            url = f"sqlite:///{self.tmpdir}/bench.sqlite3"
        self.url = url
        self.app: Flask | None = None
        self.seed_seconds: float | None = None
        self.seed_counts: dict[str, int] = {}

    def __enter__(self) -> "Environment":
        # The app reads DATABASE_URL like in production (postgres:// URLs included).
        os.environ["DATABASE_URL"] = self.url
        os.environ.pop("REDIS_URL", None)
        from crm import create_app

        self.app = create_app(
            {
                # A benchmark hammers pages faster than any person: no rate limits.
                "RATELIMIT_ENABLED": False,
                "SECRET_KEY": secrets.token_hex(32),
            }
        )
        self._prepare()
        return self

    def __exit__(self, *exc) -> None:
        from crm.extensions import db

        with self.app.app_context():
            db.engine.dispose()
        if self.tmpdir and not self.keep:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        elif self.tmpdir:
            print(f"kept the benchmark database: {self.url}")

    def _prepare(self) -> None:
        from flask_migrate import upgrade

        from crm.demo.seed import existing_data, seed_demo
        from crm.extensions import db

        with self.app.app_context():
            print(f"database   {self.backend_description()}")
            with timed() as t:
                upgrade()
            print(f"migrate    {t[0]:.1f} s")
            if any(existing_data()):
                print("seed       skipped: the database already holds data, used as it is")
            else:
                report = seed_demo(self.scale)
                db.session.commit()
                self.seed_seconds = report.seconds
                self.seed_counts = report.counts
                c = report.counts
                print(
                    f"seed       {report.seconds:.1f} s  (seed-demo --scale {self.scale}: "
                    f"{c['firms']} firms, {c['contacts']} contacts, {c['assignments']} "
                    f"assignments, {c['users']} users)"
                )
            # Planner statistics, as a database that has been running a while has them
            # (PostgreSQL's autovacuum would gather them at some moment mid-benchmark).
            with timed() as t:
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            print(f"analyze    {t[0]:.1f} s")

    def backend_description(self) -> str:
        from crm.extensions import db

        engine = db.engine
        with engine.connect() as conn:
            version = ".".join(str(v) for v in conn.dialect.server_version_info or ())
        where = engine.url.render_as_string(hide_password=True)
        return f"{engine.dialect.name} {version}  {where}"

    def client(self, username: str, password: str = DEMO_PASSWORD) -> FlaskClient:
        """A test client logged in through the real login form, CSRF token and all."""
        client = self.app.test_client()
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        if token is None:
            raise RuntimeError("no CSRF token on the login page")
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
        )
        if response.status_code != 302:
            raise RuntimeError(f"{username} could not log in (HTTP {response.status_code})")
        return client


def machine() -> str:
    import sqlalchemy

    return (
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )


# -- raw SQL -----------------------------------------------------------------------------


class RawSQL:
    """Hand-written SQL straight through the DB-API driver, to compare a page against.

    Queries use ``:name`` parameters; a list or tuple value expands to ``(?, ?, ...)``.
    """

    _PARAM = re.compile(r"(?<!:):(\w+)")

    def __init__(self, engine):
        self.connection = engine.raw_connection()
        self.dialect = engine.dialect.name
        self.columns: list[str] = []  # the last query's, to find a value in a row
        self.placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        args: list[Any] = []

        def bind(match: re.Match) -> str:
            value = params[match.group(1)]
            if isinstance(value, list | tuple):
                args.extend(value)
                return "(" + ", ".join([self.placeholder] * len(value)) + ")"
            args.append(value)
            return self.placeholder

        statement = self._PARAM.sub(bind, sql)
        cursor = self.connection.cursor()
        try:
            cursor.execute(statement, args)
            rows = cursor.fetchall()
            self.columns = [d[0] for d in cursor.description]
            return rows
        finally:
            cursor.close()

    def end(self) -> None:
        """End the read transaction, as the end of a request does."""
        self.connection.rollback()

    def close(self) -> None:
        self.connection.close()


@contextmanager
def count_statements(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
