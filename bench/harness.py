"""What every benchmark shares: a seeded database, a logged-in client, timing and printing.

Benchmarks print figures and never judge them: speed is read by people, not asserted.
"""

import hashlib
import os
import platform
import re
import secrets
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
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


# Databases with extra data (``extras``) take minutes to build: the SQLite file is kept here
# between runs, keyed by what made it, and reused for a week (its data ends when it was built).
CACHE_DIR = Path(os.environ.get("BENCH_CACHE", "/tmp/crm-bench-cache"))  # noqa: S108
CACHE_DAYS = 7
_ROOT = Path(__file__).resolve().parent.parent


def _cache_key(scale: str, extras: Sequence[ModuleType]) -> str:
    """What the database is made from: the migrations, the demo seed, the extras' versions."""
    digest = hashlib.sha256()
    sources = [
        *sorted(_ROOT.glob("migrations/versions/*.py")),
        *sorted(_ROOT.glob("crm/demo/*.py")),
    ]
    for source in sources:
        digest.update(source.read_bytes())
    # An extra's VERSION says when what it draws has changed.
    names = "+".join(f"{extra.__name__.rsplit('.', 1)[-1]}{extra.VERSION}" for extra in extras)
    return f"{scale}-{names}-{digest.hexdigest()[:12]}"


class Environment:
    """A migrated, seeded database and an app bound to it, shared by the benchmarks.

    Without ``BENCH_DATABASE_URL``, a fresh SQLite file in a temporary folder under /tmp,
    removed afterwards unless ``keep``. With it, that database: migrated, and seeded only
    when it has no firm and no user yet (a database seeded before is reused as it is).

    ``extras`` are modules that add data a benchmark needs beyond the demo seed (for
    example ``bench.city``): each has ``present()`` and ``load(log=...)``, and is loaded
    when its data is not there yet. A SQLite database with extras is cached under
    ``CACHE_DIR`` and copied from there on the next run.
    """

    def __init__(
        self,
        *,
        scale: str,
        url: str | None,
        keep: bool = False,
        extras: Sequence[ModuleType] = (),
    ):
        self.scale = scale
        self.keep = keep
        self.extras = list(extras)
        self.tmpdir: str | None = None
        self.cache: Path | None = None
        self.cached = False
        if url is None:
            self.tmpdir = tempfile.mkdtemp(prefix="crm-bench-", dir="/tmp")
            url = f"sqlite:///{self.tmpdir}/bench.sqlite3"
            if self.extras:
                self.cache = CACHE_DIR / f"{_cache_key(scale, self.extras)}.sqlite3"
                self.cached = self._from_cache(Path(self.tmpdir) / "bench.sqlite3")
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
            built = False
            for extra in self.extras:
                name = extra.__name__.rsplit(".", 1)[-1]
                if extra.present():
                    print(f"{name:<10} present, used as it is")
                    continue
                with timed() as t:
                    counts = extra.load(log=print)
                    db.session.commit()
                built = True
                listed = ", ".join(f"{n:,} {k}" for k, n in counts.items())
                print(f"{name:<10} {t[0]:.1f} s  ({listed})")
            if self.cached and not built:
                print("analyze    skipped: the cached database was analysed when it was built")
                return
            # Planner statistics, as a database that has been running a while has them
            # (PostgreSQL's autovacuum would gather them at some moment mid-benchmark).
            with timed() as t:
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            print(f"analyze    {t[0]:.1f} s")
            if self.cache is not None and built:
                self._to_cache()

    def _from_cache(self, target: Path) -> bool:
        cache = self.cache
        if cache is None or not cache.exists():
            return False
        age = time.time() - cache.stat().st_mtime
        if age > CACHE_DAYS * 86400:
            print(f"cache      {cache} is {age / 86400:.0f} days old: built again")
            return False
        with timed() as t:
            shutil.copyfile(cache, target)
        print(
            f"cache      {cache} (built {age / 3600:.1f} h ago, "
            f"{cache.stat().st_size / 2**20:,.0f} MB, copied in {t[0]:.1f} s)"
        )
        return True

    def _to_cache(self) -> None:
        """Fold the write-ahead log into the file and keep a copy, replacing older builds."""
        from crm.extensions import db

        db.engine.dispose()
        source = Path(self.tmpdir) / "bench.sqlite3"
        with sqlite3.connect(source) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        # Earlier builds at this scale (other code, other versions) only take up room.
        for old in CACHE_DIR.glob(f"{self.scale}-*.sqlite3"):
            old.unlink()
        partial = self.cache.with_suffix(".partial")
        shutil.copyfile(source, partial)
        partial.replace(self.cache)
        print(f"cache      kept {self.cache} for the next runs")

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
