"""The oversight dashboard at city scale: GET /stats/ as the office, beside the bare SQL
aggregates behind its figures, and the number of statements it runs.

- The page: GET /stats/ through the Flask test client, logged in as demo-office, for its
  default window (this year to today) and for the last two years; p50 and p95.
- The floor: the same figures written by hand over the demands' *current* columns (state,
  due_on, resolved_at, rating ...), straight through the driver (``RawSQL``): collected,
  resolved, on time, rated, satisfied, accepted in time, overdue and supervised by month ×
  street × category × tier × channel, by department, overdue and supervised now, visits
  and coverage. The page rebuilds every demand from its timeline instead (so that a
  report as of a past moment never changes); the ratio page ÷ floor is the price of that
  and of the page around it.
- Both must count the same: ``bench.city`` writes each demand's current columns from its
  own timeline, so as of now the timeline figures (crm.stats.definitions) and the bare
  SQL agree, group by group, or the benchmark stops.
- Statements: one request's SQL statements for a one-month, a one-year and a two-year
  window, side by side with the demands they cover: the count must not grow with them.

The data is ``bench.city`` (at least 500,000 demands over two years), loaded once on top
of the demo seed and, on SQLite, cached between runs.
"""

from datetime import date, datetime, timedelta

from bench import city
from bench.harness import Environment, RawSQL, count_statements, measure, table, timed
from crm.demands.states import OPEN_STATES
from crm.stats.definitions import DEMAND_COUNTS

DATA = (city,)
OFFICE = "demo-office"
# The counts the page shows, and the states still open: as the application defines them.
COUNTS = DEMAND_COUNTS
OPEN = OPEN_STATES


# -- the bare SQL ------------------------------------------------------------------------------


class Floor:
    """The dashboard's numbers by hand over the current columns, one dialect or the other."""

    def __init__(self, raw: RawSQL):
        self.raw = raw
        pg = raw.dialect == "postgresql"
        self.pg = pg
        self.month = (
            "to_char(d.submitted_at + INTERVAL '8 hours', 'YYYY-MM')"
            if pg
            else "strftime('%Y-%m', d.submitted_at, '+8 hours')"
        )
        self.visit_month = (
            "to_char(v.visited_on, 'YYYY-MM')" if pg else "substr(v.visited_on, 1, 7)"
        )

        def day(column: str) -> str:
            return (
                f"CAST({column} + INTERVAL '8 hours' AS DATE)"
                if pg
                else f"date({column}, '+8 hours')"
            )

        collected = "d.state NOT IN ('withdrawn', 'rejected')"
        overdue = (
            f"d.state IN ({', '.join(repr(s) for s in OPEN)}) AND d.due_on < :today "
            "AND d.paused_at IS NULL"
        )
        conditions = {
            "collected": collected,
            "resolved": "d.state IN ('resolved', 'closed')",
            "resolved_on_time": (
                f"d.state IN ('resolved', 'closed') AND {day('d.resolved_at')} <= d.due_on"
            ),
            "rated": f"{collected} AND d.rating IS NOT NULL",
            "satisfied": f"{collected} AND d.rating IN ('satisfied', 'basically_satisfied')",
            "accepted_in_time": f"{collected} AND {day('d.accepted_at')} <= d.accept_due_on",
            "overdue": overdue,
            "supervised": (
                f"{overdue} AND EXISTS (SELECT 1 FROM escalations e WHERE e.demand_id = d.id "
                "AND e.step = 'supervision' AND e.at <= :now)"
            ),
        }
        self.sums = ", ".join(
            f"SUM(CASE WHEN {conditions[name]} THEN 1 ELSE 0 END) AS {name}" for name in COUNTS
        )
        self.in_window = (
            "d.submitted_at >= :begin AND d.submitted_at < :finish AND d.submitted_at <= :now"
        )

    def _value(self, v):
        """Times and days as this database compares them (SQLite: SQLAlchemy's text)."""
        if self.pg:
            return v
        if isinstance(v, datetime):
            return v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, date):
            return v.isoformat()
        return v

    def _rows(self, sql: str, **params) -> list[tuple]:
        return self.raw.rows(sql, **{k: self._value(v) for k, v in params.items()})

    def figures(self, window, now: datetime, today: date) -> dict:
        """Every number the dashboard shows for the window: six statements."""
        begin, finish = window.utc_bounds()
        p = {"begin": begin, "finish": finish, "now": now, "today": today}
        out: dict = {}
        out["cube"] = self._rows(
            f"SELECT {self.month} AS month, d.street_id, d.category_id, "
            f"COALESCE(f.tier, 'none') AS tier, d.channel, {self.sums} "
            f"FROM demands d JOIN firms f ON f.id = d.firm_id WHERE {self.in_window} "
            "GROUP BY 1, 2, 3, 4, 5",
            **p,
        )
        out["department"] = self._rows(
            f"SELECT t.department_id, {self.sums} FROM demands d JOIN "
            "(SELECT DISTINCT demand_id, department_id FROM demand_tasks "
            "WHERE department_id IS NOT NULL AND dispatched_at <= :now) t "
            f"ON t.demand_id = d.id WHERE {self.in_window} GROUP BY t.department_id",
            **p,
        )
        out["now"] = self._rows(
            f"SELECT {self.sums} FROM demands d WHERE d.submitted_at <= :now", **p
        )[0]
        visits = (
            "FROM visits v WHERE v.visited_on >= :start AND v.visited_on <= :end "
            "AND v.created_at <= :now"
        )
        q = {"start": window.start, "end": window.end, "now": now}
        out["visits"] = self._rows(f"SELECT count(*), count(DISTINCT v.firm_id) {visits}", **q)[0]
        out["coverage"] = self._rows(
            "SELECT COALESCE(f.tier, 'none'), count(*), count(seen.firm_id) FROM firms f "
            f"LEFT JOIN (SELECT DISTINCT v.firm_id {visits}) seen ON seen.firm_id = f.id "
            "WHERE f.status = 'active' GROUP BY 1",
            **q,
        )
        out["visit_groups"] = self._rows(
            f"SELECT {self.visit_month}, v.street_id, count(*) {visits} GROUP BY 1, 2", **q
        )
        self.raw.end()
        return out


def _summed(rows, key_columns: int, index: int) -> dict:
    """Counts by the key in column ``index`` of rows whose first ``key_columns`` are keys."""
    out: dict = {}
    for row in rows:
        key = row[index]
        counts = [int(v or 0) for v in row[key_columns:]]
        out[key] = [a + b for a, b in zip(out.get(key, [0] * len(counts)), counts, strict=True)]
    return out


def _check(env: Environment, window, floor: dict) -> dict:
    """The figures as crm.stats.definitions counts them for the page must be the floor's,
    group by group; returns a few of them to print."""
    from crm.extensions import db
    from crm.stats import definitions as figures

    with env.app.app_context():
        breakdowns = figures.demand_breakdowns(window)
        now = figures.late_figures(figures.Window(figures.ALL_TIME_START, _today()))
        visits = figures.visit_figures(window)
        visit_groups = figures.visit_breakdowns(window)
        db.session.rollback()

    def counts(f) -> list[int]:
        return [getattr(f, name) for name in COUNTS]

    problems = []

    def same(what: str, page: dict, bare: dict) -> None:
        page = {k: v for k, v in page.items() if any(v)}
        bare = {k: v for k, v in bare.items() if any(v)}
        if page != bare:
            keys = sorted(set(page) | set(bare), key=str)
            diff = [(k, page.get(k), bare.get(k)) for k in keys if page.get(k) != bare.get(k)]
            problems.append(f"{what}: {len(diff)} groups differ (key, page, bare): {diff[:3]}")

    cube = floor["cube"]
    total = [sum(int(row[5 + i] or 0) for row in cube) for i in range(len(COUNTS))]
    same("total", {"all": counts(breakdowns.total)}, {"all": total})
    for index, name in enumerate(("month", "street", "category", "tier", "channel")):
        page = {k: counts(f) for k, f in breakdowns.by(name).items()}
        same(name, page, _summed(cube, 5, index))
    same(
        "department",
        {k: counts(f) for k, f in breakdowns.by("department").items()},
        _summed(floor["department"], 1, 0),
    )
    bare_now = [int(v or 0) for v in floor["now"]]
    same(
        "overdue and supervised now",
        {"now": [now.overdue, now.supervised]},
        {"now": bare_now[COUNTS.index("overdue") :]},
    )
    same(
        "visits",
        {"visits": [visits.visits, visits.firms_visited]},
        {"visits": [int(v) for v in floor["visits"]]},
    )
    same(
        "coverage",
        {t: [c.firms, c.visited] for t, c in visits.coverage.items()},
        {row[0]: [int(row[1]), int(row[2])] for row in floor["coverage"]},
    )
    bare_months = _summed(floor["visit_groups"], 2, 0)
    bare_streets = _summed(floor["visit_groups"], 2, 1)
    same("visits by month", {k: [v] for k, v in visit_groups["month"].items()}, bare_months)
    same("visits by street", {k: [v] for k, v in visit_groups["street"].items()}, bare_streets)
    if problems:
        raise SystemExit(
            "the dashboard's figures and the bare SQL disagree:\n  " + "\n  ".join(problems)
        )
    return {
        "collected": breakdowns.total.collected,
        "resolved": breakdowns.total.resolved,
        "resolved on time": breakdowns.total.resolved_on_time,
        "satisfied": breakdowns.total.satisfied,
        "overdue now": now.overdue,
        "supervised now": now.supervised,
        "visits": visits.visits,
        "month × street × category × tier × channel groups": len(cube),
    }


# -- the benchmark ----------------------------------------------------------------------------


def _today() -> date:
    from crm.workcal.services import today

    return today()


def _url(start: date, end: date) -> str:
    return f"/stats/?from={start.isoformat()}&to={end.isoformat()}"


def run(env: Environment, *, requests: int) -> None:
    from sqlalchemy import func, select

    from crm.demands.models import Demand, DemandEvent
    from crm.extensions import db
    from crm.stats.definitions import Window
    from crm.timeutil import utcnow

    today = _today()
    windows = {
        "one month": Window(today.replace(day=1), today),
        "this year (default)": Window(date(today.year, 1, 1), today),
        "last two years": Window(today.replace(year=today.year - 2) + timedelta(days=1), today),
    }
    with env.app.app_context():
        engine = db.engine
        demands = db.session.scalar(select(func.count()).select_from(Demand))
        events = db.session.scalar(select(func.count()).select_from(DemandEvent))
        sizes = {}
        for label, window in windows.items():
            begin, finish = window.utc_bounds()
            sizes[label] = db.session.scalar(
                select(func.count()).where(
                    Demand.submitted_at >= begin, Demand.submitted_at < finish
                )
            )
        db.session.rollback()
    print(
        f"\nstats: the oversight dashboard, {demands:,} demands ({events:,} timeline events); "
        f"GET /stats/ as {OFFICE}"
    )
    client = env.client(OFFICE)
    raw = RawSQL(engine)
    floor = Floor(raw)

    # The figures first: the bare SQL must count what the page counts, over all the data.
    widest = windows["last two years"]
    with timed() as t:
        checked = _check(env, widest, floor.figures(widest, utcnow(), _today()))
    print(
        f"  checked: crm.stats.definitions and the bare SQL agree on every group of the "
        f"last two years ({t[0]:.0f} s): "
        + ", ".join(f"{name} {value:,}" for name, value in checked.items())
    )

    rows, statements = [], {}
    for label, window in windows.items():
        url = "/stats/" if "default" in label else _url(window.start, window.end)
        # The warm-up request, its statements counted.
        with count_statements(engine) as seen, timed() as first:
            response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered HTTP {response.status_code}")
        # Not the page's: the login session's keep-alive, written once every few minutes.
        statements[label] = sum("user_sessions SET" not in sql for sql in seen)
        if label == "one month":
            continue
        # A page taking many seconds gets fewer runs, so that the benchmark ends today
        # (one run: p95 is that run).
        runs = max(5, min(7, requests // 7)) if first[0] < 10 else 3 if first[0] < 60 else 1
        page = measure(lambda url=url: client.get(url), times=runs, warmup=0)
        bare = measure(lambda w=window: floor.figures(w, utcnow(), _today()), times=runs, warmup=1)
        rows.append(
            [
                label,
                sizes[label],
                runs,
                page.p50,
                page.p95,
                bare.p50,
                bare.p95,
                f"{page.p50 / bare.p50:.1f}×",
            ]
        )
    raw.close()
    print(
        table(
            [
                "GET /stats/, window",
                "demands",
                "runs",
                "page p50 ms",
                "p95",
                "bare SQL p50 ms",
                "p95",
                "page ÷ bare",
            ],
            rows,
        )
    )
    print(
        table(
            ["one request's SQL statements", *windows],
            [
                ["demands in the window", *(sizes[label] for label in windows)],
                ["statements", *(statements[label] for label in windows)],
                ["bare SQL statements", *([6] * len(windows))],
            ],
        )
    )
