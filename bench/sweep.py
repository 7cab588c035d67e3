"""The escalation sweep on 100,000 open demands: the first sweep, which takes every step
the backlog has reached, a second right after, which must take none, and the first sweep
of the next working day, what a sweep every few minutes costs in steady state.

The sweep writes hundreds of thousands of rows (escalations, timeline events,
notifications), and a first sweep needs demands no sweep has seen: so this benchmark
builds a database of its own rather than reusing the shared one, whose other figures it
would change. Without BENCH_DATABASE_URL: a new SQLite file; with it (PostgreSQL): a new
schema in that database, dropped afterwards. In it: the demo district with a few
thousand firms (seed-demo), then the demands and their tasks in bulk Core inserts, with
deadlines spread around today so that every step of the ladder has work.
"""

import logging
import os
import random
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask
from sqlalchemy import create_engine, func, insert, select, text

from bench.harness import Environment, table, timed

OPEN_DEMANDS = 100_000
RESOLVED_DEMANDS = 4_000  # waiting for the firm's rating: the oldest close unrated
FIRMS = 3_000
BATCH = 5_000
SEED = 2026


def run(env: Environment, *, requests: int) -> None:
    print(
        f"\nsweep: {OPEN_DEMANDS:,} open demands in a database of their own "
        f"(requests ignored: each sweep runs as often as shown)"
    )
    mail_log = logging.getLogger("crm.mail")
    level = mail_log.level
    # Without a mail server each notification is a log line: hundreds of thousands here.
    mail_log.setLevel(logging.WARNING)
    try:
        with _scratch_app(env) as app, app.app_context():
            _run(app)
    finally:
        mail_log.setLevel(level)


def _run(app: Flask) -> None:
    from flask_migrate import upgrade

    from crm.demands.sweep import run_sweep
    from crm.demo.seed import seed_demo
    from crm.extensions import db
    from crm.workcal.services import current_calendar, today

    with timed() as t:
        upgrade()
        seed_demo("district", firms=FIRMS)  # with the demo's own few hundred demands
        db.session.commit()
        day = today()
        _build(day, current_calendar())
        db.session.commit()
        # Planner statistics, as a database that has been running a while has them.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    c = _census()
    print(
        f"build      {t[0]:.1f} s: {c['open']:,} open demands ({c['submitted']:,} waiting "
        f"for acceptance, {c['handling']:,} being handled of which {c['paused']:,} paused), "
        f"{c['resolved']:,} resolved and unrated, {c['open_tasks']:,} open tasks of "
        f"{c['tasks']:,}, {FIRMS:,} firms"
    )

    next_day = current_calendar().add_working_days(day, 1).day
    runs = [("first", day), ("second, right after", day), ("next working day", next_day)]
    rows, taken = [], {}
    for label, on in runs:
        db.session.expire_all()
        with timed() as t:
            report = run_sweep(on=on, commit=db.session.commit)
        c = report.counts
        acceptance = sum(n for k, n in c.items() if k.startswith("acceptance_"))
        taken[label] = report.steps_taken
        rows.append([
            f"{label} ({on:%m-%d})", t[0], c["due_soon"], c["reminder"], c["supervision"],
            c["bulletin"], acceptance, c["closed_unrated"], c["notifications"],
            report.steps_taken,
        ])  # fmt: skip
    print(table(
        ["run", "seconds", "due soon", "reminder", "supervision", "bulletin", "acceptance",
         "closed unrated", "notifications", "steps"],
        rows,
    ))  # fmt: skip
    second = taken["second, right after"]
    print(
        "second run took no step: idempotent"
        if second == 0
        else f"SECOND RUN TOOK {second} STEPS: the sweep is not idempotent"
    )


def _census() -> Counter:
    """What the sweep has before it, counted in the database."""
    from crm.demands import states
    from crm.demands.models import Demand, DemandTask
    from crm.extensions import db

    c: Counter = Counter()
    rows = db.session.execute(
        select(Demand.state, Demand.paused_at.is_not(None), func.count()).group_by(
            Demand.state, Demand.paused_at.is_not(None)
        )
    )
    for state, paused, n in rows:
        c["open"] += n if state in states.OPEN_STATES else 0
        c["submitted"] += n if state == states.SUBMITTED else 0
        c["handling"] += n if state in states.HANDLING_STATES else 0
        c["paused"] += n if state in states.HANDLING_STATES and paused else 0
        c["resolved"] += n if state == states.RESOLVED else 0
    for state, n in db.session.execute(
        select(DemandTask.state, func.count()).group_by(DemandTask.state)
    ):
        c["tasks"] += n
        c["open_tasks"] += n if state in ("pending", "accepted") else 0
    return c


@contextmanager
def _scratch_app(env: Environment) -> Iterator[Flask]:
    """An app on a database nobody else uses, removed afterwards (kept with --keep)."""
    from crm import create_app
    from crm.extensions import db

    base = env.app.config["SQLALCHEMY_DATABASE_URI"]
    config = {"RATELIMIT_ENABLED": False, "SECRET_KEY": secrets.token_hex(32)}
    schema = tmpdir = None
    if base.startswith("postgresql"):
        schema = f"bench_sweep_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        config["SQLALCHEMY_DATABASE_URI"] = base
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": True,
            "connect_args": {"options": f"-csearch_path={schema}"},
        }
        where = f"schema {schema} of {admin.url.render_as_string(hide_password=True)}"
    else:
        tmpdir = tempfile.mkdtemp(prefix="crm-bench-sweep-", dir="/tmp")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmpdir}/sweep.sqlite3"
        where = config["SQLALCHEMY_DATABASE_URI"]
    print(f"database   {where}")
    app = create_app(config)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema and not env.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        if schema:
            admin.dispose()
        if tmpdir and not env.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)
        elif env.keep:
            print(f"kept the sweep's database: {where}")


def _build(day, cal) -> None:
    """The demands, their tasks and deadlines, in bulk."""
    from crm.auth.models import User
    from crm.demands.models import Demand, DemandCategory, DemandTask
    from crm.extensions import db
    from crm.firms.models import Firm
    from crm.org.models import Department
    from crm.timeutil import utcnow

    rng = random.Random(SEED)
    firms = db.session.execute(select(Firm.id, Firm.street_id).order_by(Firm.id)).all()
    departments = db.session.scalars(select(Department.id).order_by(Department.id)).all()
    office = db.session.scalars(
        select(User.id).where(User.role == "office").order_by(User.id)
    ).all()
    categories = db.session.scalars(select(DemandCategory.id)).all()
    streets = sorted({s for _f, s in firms})
    # Deadlines from 12 working days ago to 20 ahead: a third overdue, a quarter by five
    # working days or more, one in sixteen due soon.
    due_days = [cal.add_working_days(day, k).day for k in range(-12, 21)]
    accept_days = [cal.add_working_days(day, k).day for k in range(-6, 2)]
    now = utcnow().replace(microsecond=0)
    demands_table, tasks_table = Demand.__table__, DemandTask.__table__

    total = OPEN_DEMANDS + RESOLVED_DEMANDS
    for start in range(0, total, BATCH):
        demands, plans = [], []
        for i in range(start, min(start + BATCH, total)):
            firm_id, street_id = firms[i % len(firms)]
            if i >= OPEN_DEMANDS:
                state = "resolved"
            else:
                state = rng.choices(
                    ("submitted", "dispatched", "in_progress"), weights=(8, 37, 55)
                )[0]
            level = rng.choice((1, 2, 3, 3)) if state != "submitted" else None
            due_on = rng.choice(due_days) if state != "submitted" else None
            submitted_at = now - timedelta(days=rng.randrange(1, 40))
            resolved_at = now - timedelta(hours=rng.randrange(1, 14 * 24))
            paused = state in ("dispatched", "in_progress") and rng.random() < 0.04
            demands.append(
                {
                    "number": f"BM{i:010d}",
                    "firm_id": firm_id,
                    "street_id": street_id,
                    "category_id": rng.choice(categories),
                    "title": "办公场地租金补贴咨询",
                    "description": "企业希望了解办公场地租金补贴的申请条件。",
                    "channel": rng.choice(("hotline", "visit", "portal", "walk_in")),
                    "state": state,
                    "level": level,
                    "owner_id": rng.choice(office),
                    "submitted_by_id": office[0],
                    "submitted_at": submitted_at,
                    "accept_due_on": rng.choice(accept_days)
                    if state == "submitted"
                    else (submitted_at + timedelta(days=1)).date(),
                    "accepted_at": None if state == "submitted" else submitted_at,
                    "dispatched_at": None if state == "submitted" else submitted_at,
                    "due_on": due_on,
                    "paused_at": now - timedelta(days=1) if paused else None,
                    "resolved_at": resolved_at if state == "resolved" else None,
                    "updated_at": now,
                }
            )
            plans.append((state, level, due_on, street_id))
        ids = (
            db.session.execute(
                insert(demands_table).returning(demands_table.c.id, sort_by_parameter_order=True),
                demands,
            )
            .scalars()
            .all()
        )
        tasks = []
        for demand_id, (state, level, due_on, street_id) in zip(ids, plans, strict=True):
            if state == "submitted":
                continue
            if level in (1, 2):
                units = [(None, street_id)]
            else:
                units = [(rng.choice(departments), None)]
                for _ in range(rng.choice((0, 0, 1, 2))):  # co-handling units
                    units.append(
                        (rng.choice(departments), None)
                        if rng.random() < 0.7
                        else (None, rng.choice(streets))
                    )
            for n, (department_id, unit_street_id) in enumerate(units):
                accepted = state == "resolved" or (state == "in_progress" and n == 0)
                tasks.append(
                    {
                        "demand_id": demand_id,
                        "role": "lead" if n == 0 else "co",
                        "department_id": department_id,
                        "street_id": unit_street_id,
                        "state": "resolved" if state == "resolved" else
                        ("accepted" if accepted else "pending"),
                        "dispatched_at": now,
                        "dispatched_by_id": office[0],
                        "due_on": due_on,
                        "accepted_at": now if accepted else None,
                    }
                )  # fmt: skip
        db.session.execute(insert(tasks_table), tasks)
