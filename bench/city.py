"""City-scale oversight data for the dashboard benchmark: about two years of demands and
visits on top of the demo city, written straight into the tables.

The demo seed tells each demand as a story and replays it through the state machine,
which is right for a demo and far too slow for half a million demands. Here each demand's
timeline (``demand_events``) is drawn in one pass, and its current columns, tasks and
escalations are written from the same draw, so the demand's row always says what its
timeline says as of the moment of the build: the bare SQL the benchmark reads from the
current columns and the figures rebuilt from the timelines must agree.

Rows go in with Core ``insert()`` executemany in batches with ids given here (no
RETURNING, no ORM objects); on PostgreSQL the id sequences are moved past them afterwards.
The city gets five more streets (with their firms and commissioners) and fifteen more
departments than the demo district, to be the size of a city's oversight.
"""

import contextlib
import json
import multiprocessing
import os
import random
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import func, insert, select

from crm.auth.models import User
from crm.demands.models import Demand, DemandCategory, DemandEvent, DemandTask, Escalation
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow
from crm.visits.models import Visit

# Bump when what is drawn changes: cached databases built by an older version are rebuilt.
VERSION = 2
DEMANDS = 520_000
VISITS = 250_000
DAYS = 730  # about two years of history
BATCH = 10_000  # demands per round of inserts
SHANGHAI = timedelta(hours=8)

EXTRA_STREETS = (
    ("临空经济园区", "310105901"),
    ("虹桥商务区", "310105902"),
    ("中山公园商圈", "310105903"),
    ("临空北片区", "310105904"),
    ("天山西片区", "310105905"),
)
EXTRA_FIRMS_PER_STREET = 8_000
EXTRA_COMMISSIONERS_PER_STREET = 12
EXTRA_DEPARTMENTS = (
    ("区财政局", "CZJ"),
    ("区教育局", "JYJ"),
    ("区卫生健康委员会", "WJW"),
    ("区交通委员会", "JTW"),
    ("区建设和管理委员会", "JSW"),
    ("区生态环境局", "STHJJ"),
    ("区应急管理局", "YJJ"),
    ("区民政局", "MZJ"),
    ("区文化和旅游局", "WLJ"),
    ("区国有资产监督管理委员会", "GZW"),
    ("区统计局", "TJJ"),
    ("区医疗保障局", "YBJ"),
    ("区消防救援支队", "XFZD"),
    ("区城市管理行政执法局", "CGZFJ"),
    ("区数据局", "SJJ"),
)
# Who raises demands: a district-tier firm far more often than a firm without a tier.
TIER_WEIGHT = {"district": 12, "sector": 6, "local": 3, None: 1}
VISIT_WEIGHT = {"district": 30, "sector": 10, "local": 4, None: 1}
CHANNELS = (("visit", 30), ("hotline", 18), ("walk_in", 10), ("portal", 27), ("api", 15))
RATINGS = (("satisfied", 78), ("basically_satisfied", 15), ("not_satisfied", 7))
METHODS = ("on_site", "on_site", "on_site", "phone", "online", "meeting")
# Local minutes of a working day: 08:30 to 18:00.
DAY_START, DAY_END = 8 * 60 + 30, 18 * 60


def _marker(version: int) -> str:
    return f"长宁区{EXTRA_STREETS[0][0]}服务中心（基准数据 v{version}）"


def present() -> bool:
    """Whether the database already holds this version's city (a database built before).
    City data of another version cannot be replaced in place: the database is refused."""
    street = db.session.scalar(select(Street).where(Street.name == EXTRA_STREETS[0][0]))
    if street is None:
        return False
    if street.service_centre_address != _marker(VERSION):
        raise SystemExit(
            f"{db.engine.url.render_as_string(hide_password=True)} holds city data drawn by "
            f"another version of bench/city.py ({street.service_centre_address!r}); "
            "drop and recreate the database to build this version's."
        )
    return (db.session.scalar(select(func.count()).select_from(Demand)) or 0) >= DEMANDS


class _Cut(Exception):
    """The story has reached the moment of the build: what follows has not happened."""


class _Calendar:
    """Working days (Monday to Friday) as indices; the last one on or before today is
    ``today_i``."""

    def __init__(self, now: datetime):
        local = now + SHANGHAI
        first = local.date() - timedelta(days=DAYS + 10)
        self.days: list[date] = []
        day = first
        while day <= local.date() + timedelta(days=400):
            if day.weekday() < 5:
                self.days.append(day)
            day += timedelta(days=1)
        self.today = local.date()
        self.today_i = bisect_right(self.days, self.today) - 1
        on_workday = self.days[self.today_i] == self.today
        self.now = (self.today_i, local.hour * 60 + local.minute if on_workday else 24 * 60)
        self.start_i = bisect_right(self.days, local.date() - timedelta(days=DAYS))

        self.iso = [day.isoformat() for day in self.days]
        self._texts: dict[tuple[int, int], str] = {}

    def utc(self, t: tuple[int, int]) -> str:
        """The moment as the database stores a naive UTC DateTime (SQLAlchemy's SQLite
        format, which PostgreSQL reads as well)."""
        found = self._texts.get(t)
        if found is None:
            i, minute = t
            moment = datetime.combine(self.days[i], datetime.min.time())
            moment += timedelta(minutes=minute) - SHANGHAI
            found = self._texts[t] = moment.strftime("%Y-%m-%d %H:%M:%S.000000")
        return found


class _World:
    """The ids the stories draw on, read once."""

    def __init__(self):
        s = db.session
        self.streets = [i for (i,) in s.execute(select(Street.id).order_by(Street.id))]
        self.departments = [i for (i,) in s.execute(select(Department.id).order_by(Department.id))]
        self.categories = list(
            s.execute(
                select(
                    DemandCategory.id,
                    DemandCategory.name,
                    DemandCategory.kind,
                    DemandCategory.accept_days,
                    DemandCategory.resolve_days,
                    DemandCategory.level3_days,
                ).where(DemandCategory.active.is_(True))
            )
        )
        users = list(s.execute(select(User.id, User.role, User.street_id, User.department_id,
                                      User.firm_id).where(User.active.is_(True))))  # fmt: skip
        self.office = [u.id for u in users if u.role == "office"]
        self.centre: dict[int, list[int]] = {}
        self.commissioners: dict[int, list[int]] = {}
        self.handlers: dict[int, list[int]] = {}
        self.portal: dict[int, int] = {}
        for u in users:
            if u.role == "street":
                self.centre.setdefault(u.street_id, []).append(u.id)
            elif u.role == "commissioner":
                self.commissioners.setdefault(u.street_id, []).append(u.id)
            elif u.role == "department":
                self.handlers.setdefault(u.department_id, []).append(u.id)
            elif u.role == "firm" and u.firm_id is not None:
                self.portal[u.firm_id] = u.id
        self.firms = list(
            s.execute(
                select(Firm.id, Firm.street_id, Firm.tier)
                .where(Firm.status == "active")
                .order_by(Firm.id)
            )
        )
        self.visit_cum = list(accumulate(VISIT_WEIGHT[f.tier] for f in self.firms))
        self.demand_cum = list(accumulate(TIER_WEIGHT[f.tier] for f in self.firms))

    def staff_of(self, street_id: int) -> list[int]:
        return self.centre.get(street_id) or self.commissioners.get(street_id) or self.office


def load(now: datetime | None = None, *, log=print) -> Counter[str]:
    """Add the city's streets, departments, demands and visits, and commit them.

    Batches of demands are drawn in worker processes (each from its own seed and its own
    range of ids, so the result does not depend on which worker drew what) while this
    process writes the batches before them.
    """
    global _JOB
    now = now or utcnow()
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    _extra_org(counts)
    world = _World()
    cal = _Calendar(now)
    first = {
        name: (db.session.scalar(select(func.max(model.id))) or 0) + 1
        for name, model in (
            ("demand", Demand),
            ("task", DemandTask),
            ("event", DemandEvent),
            ("escalation", Escalation),
            ("visit", Visit),
        )
    }
    db.session.commit()
    _JOB = (world, cal, first)
    batches = -(-DEMANDS // BATCH)
    visit_chunks = -(-VISITS // VISIT_BATCH)
    engine = db.engine
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # Foreign keys are right by construction; checking each of millions of rows
            # would double the time. The index pages fit in memory.
            driver.execute("PRAGMA foreign_keys=OFF")
            driver.execute("PRAGMA cache_size=-1000000")
        workers = max(1, min(2, (os.cpu_count() or 1)))
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for n, rows in enumerate(pool.imap(_draw_batch, range(batches))):
                for model, key in (
                    (Demand, "demands"),
                    (DemandTask, "tasks"),
                    (DemandEvent, "events"),
                    (Escalation, "escalations"),
                ):
                    _write(driver, model, rows[key])
                    counts[f"city_{key}"] += len(rows[key])
                if (n + 1) % 10 == 0 or n + 1 == batches:
                    log(
                        f"           {counts['city_demands']:,} demands "
                        f"({time.perf_counter() - started:.0f} s)"
                    )
            for rows in pool.imap(_draw_visits, range(visit_chunks)):
                _write(driver, Visit, rows)
                counts["city_visits"] += len(rows)
        if not sqlite:
            with driver.cursor() as cursor:
                for table in ("demands", "demand_tasks", "demand_events", "escalations", "visits"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
        raw.commit()
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")
    finally:
        _JOB = None
        raw.close()
    return counts


# What the worker processes draw from, set before they are forked.
_JOB: tuple | None = None
# Id ranges per batch of demands: more than a demand can use (three rounds of handling).
TASKS_PER_DEMAND, EVENTS_PER_DEMAND, ESCALATIONS_PER_DEMAND = 8, 40, 8
VISIT_BATCH = 25_000


def _draw_batch(n: int) -> dict[str, list[tuple]]:
    world, cal, first = _JOB
    ids = {
        "demand": first["demand"] + n * BATCH,
        "task": first["task"] + n * BATCH * TASKS_PER_DEMAND,
        "event": first["event"] + n * BATCH * EVENTS_PER_DEMAND,
        "escalation": first["escalation"] + n * BATCH * ESCALATIONS_PER_DEMAND,
    }
    rng = random.Random(f"bench-city:{VERSION}:{n}")
    rows = _Stories(rng, world, cal, ids).batch(min(BATCH, DEMANDS - n * BATCH))
    for key, model in (("demands", Demand), ("tasks", DemandTask)):
        columns = [c.name for c in model.__table__.columns]
        rows[key] = [tuple(row[c] for c in columns) for row in rows[key]]
    return rows


def _draw_visits(n: int) -> list[tuple]:
    world, cal, first = _JOB
    rng = random.Random(f"bench-city:{VERSION}:visits:{n}")
    size = min(VISIT_BATCH, VISITS - n * VISIT_BATCH)
    columns = [c.name for c in Visit.__table__.columns]
    return [
        tuple(row[c] for c in columns)
        for row in _visits(rng, world, cal, first["visit"] + n * VISIT_BATCH, size)
    ]


def _write(raw, model, rows: list) -> None:
    """Rows (dicts with every column, or tuples in the table's column order) straight
    through the driver: executemany on SQLite, COPY on PostgreSQL. Values are already in
    the form the database stores (times and days as text, JSON as text)."""
    if not rows:
        return
    columns = [c.name for c in model.__table__.columns]
    if isinstance(rows[0], dict):
        rows = [tuple(row[c] for c in columns) for row in rows]
    names = ", ".join(columns)
    table = model.__tablename__
    if raw.__class__.__module__.startswith("sqlite3"):
        marks = ", ".join("?" * len(columns))
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        return
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- streets, departments, their firms and people ------------------------------------------


def _extra_org(counts: Counter[str]) -> None:
    conn = db.session.connection()
    now = utcnow()
    have = set(db.session.scalars(select(Department.name)))
    new = [
        {"name": name, "code": code, "phone": "021-2205" + f"{n:04d}", "active": True}
        for n, (name, code) in enumerate(EXTRA_DEPARTMENTS)
        if name not in have
    ]
    if new:
        conn.execute(insert(Department.__table__), new)
    counts["city_departments"] += len(new)
    have = set(db.session.scalars(select(Street.name)))
    for n, (name, code) in enumerate(EXTRA_STREETS):
        if name in have:
            continue
        street_id = conn.execute(
            insert(Street.__table__).returning(Street.__table__.c.id),
            {
                "name": name,
                "code": code,
                "service_centre_address": _marker(VERSION) if n == 0 else f"长宁区{name}服务中心",
                "service_centre_phone": f"021-6290{n:04d}",
                "active": True,
            },
        ).scalar_one()
        counts["city_streets"] += 1
        password = db.session.scalar(select(User.password_hash).limit(1))
        people = [
            {
                "username": f"city{n}-{role}{k}",
                "display_name": f"{name}{'专员' if role == 'c' else '中心'}{k}",
                "password_hash": password,
                "role": "commissioner" if role == "c" else "street",
                "street_id": street_id,
                "created_at": now,
                "password_changed_at": now,
            }
            for role, many in (("c", EXTRA_COMMISSIONERS_PER_STREET), ("s", 3))
            for k in range(many)
        ]
        conn.execute(insert(User.__table__), people)
        rng = random.Random(f"bench-city:firms:{code}")
        firms = []
        for k in range(EXTRA_FIRMS_PER_STREET):
            draw = rng.random()
            tier = (
                "district"
                if draw < 0.01
                else "sector"
                if draw < 0.04
                else "local"
                if draw < 0.10
                else None
            )
            firms.append(
                {
                    "name": f"{name}城市基准企业{k:05d}有限公司",
                    "uscc": f"9131019{n}{k:09d}X",
                    "street_id": street_id,
                    "tier": tier,
                    "status": "active",
                    "industry_code": "I6513",
                    "size": "small",
                    "tags": [],
                    "created_at": now - timedelta(days=3 * 365),
                    "updated_at": now,
                    "version": 1,
                }
            )
        conn.execute(insert(Firm.__table__), firms)
        counts["city_firms"] += len(firms)


# -- demands ---------------------------------------------------------------------------------


def _pick(rng: random.Random, odds) -> str:
    return rng.choices([v for v, _ in odds], weights=[w for _, w in odds])[0]


class _Stories:
    def __init__(self, rng: random.Random, world: _World, cal: _Calendar, ids: dict[str, int]):
        self.rng = rng
        self.world = world
        self.cal = cal
        self.ids = ids
        self.firm_cum = world.demand_cum
        self.dept_cum = list(accumulate(1 + 6 / (1 + k) for k in range(len(world.departments))))

    def batch(self, size: int) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list] = {"demands": [], "tasks": [], "events": [], "escalations": []}
        for _ in range(size):
            _Story(self, out).tell()
        return out

    def next_id(self, name: str) -> int:
        value = self.ids[name]
        self.ids[name] = value + 1
        return value

    def department(self) -> int:
        return self.rng.choices(self.world.departments, cum_weights=self.dept_cum)[0]


class _Story:
    """One demand: drawn event by event, stopping at the moment of the build."""

    def __init__(self, stories: _Stories, out: dict[str, list]):
        self.s = stories
        self.out = out
        self.rng = stories.rng
        self.cal = stories.cal
        self.t = (0, 0)
        self.tasks: list[dict[str, Any]] = []

    # -- time

    def later(self, days_lo: int, days_hi: int) -> tuple[int, int]:
        """A moment ``days_lo`` to ``days_hi`` working days after the last event."""
        i, m = self.t
        days = self.rng.randint(days_lo, days_hi)
        if days == 0 and m < DAY_END - 5:
            return i, self.rng.randint(m + 1, min(m + 240, DAY_END))
        return i + max(days, 1), self.rng.randint(DAY_START, DAY_END)

    def at_day(self, i: int) -> tuple[int, int]:
        """A moment on working day ``i``, after the last event."""
        if i <= self.t[0]:
            return self.later(0, 0)
        return i, self.rng.randint(DAY_START, DAY_END)

    # -- writing

    def emit(self, t, kind: str, *, to: str | None = None, task=None, actor=None, data=None):
        if t > self.cal.now:
            raise _Cut
        self.t = t
        d = self.d
        at = self.cal.utc(t)
        self.out["events"].append(
            (
                self.s.next_id("event"),
                d["id"],
                task["id"] if task else None,
                at,
                actor,
                kind,
                d["state"] if to else None,
                to,
                "",
                False,
                json.dumps(data) if data else "{}",
            )
        )
        if to:
            d["state"] = to
        d["updated_at"] = at

    def tell(self) -> None:
        rng, world, cal = self.rng, self.s.world, self.cal
        firm = world.firms[bisect_right(self.s.firm_cum, rng.random() * self.s.firm_cum[-1])]
        category = rng.choice(world.categories)
        channel = _pick(rng, CHANNELS)
        portal_user = world.portal.get(firm.id)
        staff = world.staff_of(firm.street_id)
        if channel in ("portal", "api") and portal_user is None:
            channel = "hotline"
        submitter = portal_user if channel in ("portal", "api") else rng.choice(staff)
        i0 = rng.randint(cal.start_i, cal.today_i)
        self.t = (i0, rng.randint(DAY_START, DAY_END))
        if self.t > cal.now:
            self.t = (i0 - 1, self.t[1])
        demand_id = self.s.next_id("demand")
        local_day = cal.iso[self.t[0]].replace("-", "")
        self.d = d = {
            "id": demand_id,
            "number": f"SQ{local_day}{demand_id:07d}",
            "firm_id": firm.id,
            "street_id": firm.street_id,
            "category_id": category.id,
            "title": f"{category.name}诉求",
            "description": f"企业反映{category.name}方面的问题，请协调解决。",
            "urgency": "urgent" if rng.random() < 0.08 else "normal",
            "channel": channel,
            "visit_id": None,
            "state": None,
            "level": None,
            "owner_id": None if channel in ("portal", "api") else submitter,
            "submitted_by_id": submitter,
            "submission_key": None,
            "submitted_at": cal.utc(self.t),
            "accept_due_on": cal.iso[i0 + category.accept_days],
            "accepted_at": None,
            "dispatched_at": None,
            "due_on": None,
            "due_verified": True,
            "paused_at": None,
            "pause_reason": "",
            "resolved_at": None,
            "reply": "",
            "rating": None,
            "rated_at": None,
            "closed_at": None,
            "closed_without_rating": False,
            "reject_reason": "",
            "merged_into_id": None,
            "withdrawn_at": None,
            "reopen_count": 0,
            "updated_at": None,
            "version": 1,
        }
        self.out["demands"].append(d)
        self.emit(self.t, "submitted", to="submitted", actor=submitter, data={"channel": channel})
        with contextlib.suppress(_Cut):
            self._handle(category, firm, portal_user, staff)

    def _handle(self, category, firm, portal_user, staff) -> None:
        rng, cal, d, world = self.rng, self.cal, self.d, self.s.world
        office = rng.choice(world.office)
        fate = rng.random()
        if fate < 0.02:
            t = self.later(0, 1)
            self.emit(t, "withdrawn", to="withdrawn", actor=portal_user or rng.choice(staff))
            d["withdrawn_at"] = cal.utc(t)
            return
        if fate < 0.05:
            self.emit(self.later(0, 1), "rejected", to="rejected", actor=office)
            d["reject_reason"] = "不属于受理范围"
            return
        i0 = self.t[0]
        late = rng.random() < 0.07
        t = self.later(0, 0) if not late else self.at_day(i0 + category.accept_days + 1)
        if not late and rng.random() < 0.3:
            t = self.at_day(i0 + rng.randint(0, category.accept_days))
        self.emit(t, "accepted", to="accepted", actor=office)
        d["accepted_at"] = cal.utc(t)
        d["owner_id"] = d["owner_id"] or office
        level = 1 if category.kind == "consultation" else (3 if rng.random() < 0.15 else 2)
        days = category.level3_days if level == 3 else category.resolve_days
        for round_ in range(3):
            if not self._round(firm, level, days, round_, office, portal_user):
                return

    def _round(self, firm, level, days, round_, office, portal_user) -> bool:
        """Dispatch, handle, resolve and rate once; True when the firm reopened it."""
        rng, cal, d, world = self.rng, self.cal, self.d, self.s.world
        t = self.later(0, 1)
        due_i = t[0] + days
        if rng.random() < 0.72:
            lead = {"department_id": self.s.department(), "street_id": None}
        else:
            lead = {"department_id": None, "street_id": firm.street_id}
        units = [lead]
        if rng.random() < 0.2:
            co = self.s.department()
            if co != lead["department_id"]:
                units.append({"department_id": co, "street_id": None})
        tasks = []
        for n, unit in enumerate(units):
            task = {
                "id": self.s.next_id("task"),
                "demand_id": d["id"],
                "role": "lead" if n == 0 else "co",
                **unit,
                "state": "pending",
                "dispatched_at": cal.utc(t),
                "dispatched_by_id": office,
                "due_on": cal.iso[due_i],
                "due_verified": True,
                "accepted_at": None,
                "accepted_by_id": None,
                "handler_id": None,
                "returned_at": None,
                "return_reason": "",
                "resolved_at": None,
                "resolution": "",
            }
            tasks.append(task)
        # The tasks exist from the dispatch on; written now so a cut leaves them pending.
        if t > cal.now:
            raise _Cut
        self.out["tasks"].extend(tasks)
        lead_task = tasks[0]
        self.emit(
            t,
            "dispatched",
            to="dispatched",
            actor=office,
            data={
                "level": level,
                "lead": "",
                "co": [],
                "due_on": cal.iso[due_i],
                "due_verified": True,
            },
        )
        d.update(level=level, dispatched_at=cal.utc(t), due_on=cal.iso[due_i], paused_at=None)

        # How it will end, drawn now so the escalations can be written before a cut.
        late = rng.random() < 0.16
        paused = rng.random() < 0.05
        extension = rng.random() < 0.08
        pause_days = rng.randint(1, 6) if paused else 0
        extra = rng.randint(2, 10) if extension else 0
        approved = extension and rng.random() < 0.75
        final_due = due_i + pause_days + (extra if approved else 0)
        resolve_i = final_due + rng.randint(1, 12) if late else None
        if late:
            self._escalations(lead_task, final_due, resolve_i)

        def handler(task):
            unit = task["department_id"]
            return rng.choice(world.handlers.get(unit) or world.staff_of(d["street_id"]))

        for task in tasks:
            t = self.later(0, 1)
            who = handler(task)
            self.emit(
                t,
                "task_accepted",
                to="in_progress" if task is lead_task else None,
                task=task,
                actor=who,
                data={"unit": "", "role": task["role"]},
            )
            task.update(state="accepted", accepted_at=cal.utc(t), accepted_by_id=who,
                        handler_id=who)  # fmt: skip
        if paused:
            t = self.later(0, 2)
            self.emit(t, "paused", actor=office)
            d.update(paused_at=cal.utc(t), pause_reason="等待企业补充材料")
            t = self.at_day(t[0] + pause_days)
            due_i += pause_days
            # The columns change only once the event has happened (emit stops at a cut).
            self.emit(
                t,
                "resumed",
                actor=office,
                data={"days_added": pause_days, "due_on": cal.iso[due_i]},
            )
            for task in tasks:
                task["due_on"] = cal.iso[due_i]
            d.update(paused_at=None, due_on=cal.iso[due_i])
        if extension:
            who = lead_task["handler_id"]
            self.emit(self.later(0, 2), "extension_requested", task=lead_task, actor=who,
                      data={"days": extra})  # fmt: skip
            t = self.later(0, 1)
            self.emit(
                t,
                "extension_approved" if approved else "extension_declined",
                task=lead_task,
                actor=office,
                data={
                    "days": extra,
                    "new_due_on": cal.iso[due_i + extra] if approved else None,
                },
            )
            if approved:
                due_i += extra
                lead_task["due_on"] = d["due_on"] = cal.iso[due_i]
        if resolve_i is None:
            resolve_i = rng.randint(self.t[0], max(self.t[0], due_i))
        for task in tasks[1:]:
            t = self.at_day(max(self.t[0], resolve_i - rng.randint(0, 2)))
            self.emit(t, "task_resolved", task=task, actor=task["handler_id"],
                      data={"unit": "", "role": "co"})  # fmt: skip
            task.update(state="resolved", resolved_at=cal.utc(t), resolution="已办结")
        t = self.at_day(max(self.t[0], resolve_i))
        self.emit(t, "resolved", to="resolved", task=lead_task, actor=lead_task["handler_id"],
                  data={"unit": ""})  # fmt: skip
        lead_task.update(state="resolved", resolved_at=cal.utc(t), resolution="已办结")
        d.update(resolved_at=cal.utc(t), reply="已办结", paused_at=None)

        if rng.random() < 0.85:
            t = self.later(1, 5)
            rating = _pick(rng, RATINGS) if round_ == 0 else _pick(rng, RATINGS[:2])
            target = "reopened" if rating == "not_satisfied" else "closed"
            self.emit(t, "rated", to=target, actor=portal_user or office,
                      data={"rating": rating, "via_follow_up": portal_user is None})  # fmt: skip
            d.update(rating=rating, rated_at=cal.utc(t))
            if target == "closed":
                d["closed_at"] = cal.utc(t)
                return False
            d["reopen_count"] += 1
            d["resolved_at"] = None
            return True
        t = self.at_day(self.t[0] + 7)
        self.emit(t, "closed_unrated", to="closed")
        d.update(closed_at=cal.utc(t), closed_without_rating=True)
        return False

    def _escalations(self, lead_task, due_i: int, resolve_i: int) -> None:
        """The sweep's reminder a day after the deadline and supervision three working days
        after it, for a lead task not resolved by then."""
        cal = self.cal
        for step, after in (("reminder", 1), ("supervision", 3)):
            when = (due_i + after, 60)
            if resolve_i < due_i + after:
                return
            if when > cal.now:
                return
            self.out["escalations"].append(
                {
                    "id": self.s.next_id("escalation"),
                    "demand_id": self.d["id"],
                    "task_id": lead_task["id"],
                    "step": step,
                    "due_on": cal.iso[due_i],
                    "at": cal.utc(when),
                }
            )


# -- visits ----------------------------------------------------------------------------------


def _visits(
    rng: random.Random, world: _World, cal: _Calendar, first_id: int, size: int
) -> Iterator[dict[str, Any]]:
    cum = world.visit_cum
    for n in range(size):
        firm = world.firms[bisect_right(cum, rng.random() * cum[-1])]
        who = rng.choice(world.commissioners.get(firm.street_id) or world.office)
        i = rng.randint(cal.start_i, cal.today_i)
        created = cal.utc((i, 18 * 60)) if i < cal.today_i else cal.utc(cal.now)
        yield {
            "id": first_id + n,
            "firm_id": firm.id,
            "street_id": firm.street_id,
            "commissioner_id": who,
            "visited_on": cal.iso[i],
            "method": rng.choice(METHODS),
            "summary": "例行走访，了解企业经营情况和诉求。",
            "joint": rng.random() < 0.05,
            "requested_by_firm": rng.random() < 0.03,
            "service_request_id": None,
            "courtesy_override": "",
            "created_by_id": who,
            "created_at": created,
            "submission_key": None,
        }
