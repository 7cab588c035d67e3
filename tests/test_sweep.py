"""The escalation sweep (crm.demands.sweep), its command and its RQ job.

Deadlines are set to days of March 2026, an ordinary month: Friday 13 and Monday 16 are
working days, 14 and 15 the weekend. The sweep is run "as of" a day with ``on=``.
"""

import threading
import uuid
from datetime import date, datetime

import pytest
from sqlalchemy import create_engine, func, insert, select

from crm.demands import jobs, notify
from crm.demands.models import (
    DemandEvent,
    DemandTask,
    Escalation,
    ExtensionRequest,
    Notification,
)
from crm.demands.recipients import Directory
from crm.demands.services import (
    Unit,
    accept_demand,
    accept_task,
    decide_extension,
    dispatch_demand,
    pause_demand,
    resolve_task,
)
from crm.demands.sweep import run_sweep
from crm.extensions import db

D = date.fromisoformat
DUE = D("2026-03-16")  # Monday


def _count(model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def _recipients(demand, kind) -> set[int]:
    return set(
        db.session.scalars(
            select(Notification.user_id).where(
                Notification.demand_id == demand.id, Notification.kind == kind
            )
        )
    )


def _totals() -> tuple[int, int, int]:
    return _count(Escalation), _count(DemandEvent), _count(Notification)


@pytest.fixture
def office(make_user):
    return make_user("office", display_name="派单员")


@pytest.fixture
def dispatched(make_demand, make_department, office):
    """A level-3 demand dispatched to a department, its task due ``due_on``."""

    def _make(due_on=DUE, *, department=None):
        demand = make_demand(actor=office)
        accept_demand(demand, actor=office)
        lead = Unit(department=department or make_department())
        (task,) = dispatch_demand(demand, actor=office, level=3, lead=lead)
        task.due_on = demand.due_on = due_on
        db.session.commit()
        return demand

    return _make


@pytest.fixture
def unit(make_department, make_user):
    """A department with two handlers and a head."""
    department = make_department()
    handlers = [make_user("department", department=department) for _ in range(2)]
    head = make_user("department", department=department, is_unit_head=True)
    return department, handlers, head


def test_each_step_is_taken_once(dispatched, unit, office):
    department, handlers, head = unit
    demand = dispatched(department=department)

    report = run_sweep(on=D("2026-03-13"), commit=db.session.commit)  # Friday: 1 day left
    assert report.counts["due_soon"] == 1
    assert report.steps_taken == 1
    assert _recipients(demand, "due_soon") == {u.id for u in (*handlers, head, office)}
    event = db.session.scalars(
        select(DemandEvent).where(
            DemandEvent.demand_id == demand.id, DemandEvent.kind == "due_soon"
        )
    ).one()
    assert event.actor_id is None and event.internal
    assert event.task_id == demand.tasks[0].id
    assert event.data["due_on"] == "2026-03-16"
    assert event.data["days_left"] == 1
    before = _totals()

    again = run_sweep(on=D("2026-03-13"), commit=db.session.commit)
    assert again.steps_taken == 0 and again.counts["notifications"] == 0
    assert _totals() == before

    # The weekend changes nothing: still due soon, already warned.
    assert run_sweep(on=D("2026-03-15")).steps_taken == 0


def test_the_ladder_day_by_day(dispatched, unit, office, make_user):
    department, handlers, head = unit
    demand = dispatched(department=department)
    street_centre = make_user("street", street_id=demand.street_id)
    make_user("street")  # another street's centre: not this demand's dispatcher
    steps = {}
    for day in ("2026-03-17", "2026-03-18", "2026-03-19", "2026-03-20", "2026-03-23"):
        report = run_sweep(on=D(day), commit=db.session.commit)
        steps[day] = {k: n for k, n in report.counts.items() if n and k != "notifications"}
    assert steps == {
        "2026-03-17": {"reminder": 1},  # 1 working day overdue
        "2026-03-18": {},
        "2026-03-19": {"supervision": 1},  # 3
        "2026-03-20": {},
        "2026-03-23": {"bulletin": 1},  # 5
    }
    assert _recipients(demand, "reminder") == {u.id for u in (*handlers, head, office)}
    # Supervision: the unit's head (not its handlers) and the dispatchers.
    assert _recipients(demand, "supervision") == {head.id, office.id, street_centre.id}
    # Listed for the bulletin: no line per demand; one digest line for the office.
    assert _recipients(demand, "bulletin") == set()
    digest = db.session.scalars(
        select(Notification.user_id).where(
            Notification.demand_id.is_(None), Notification.kind == "bulletin"
        )
    ).all()
    assert digest == [office.id]
    overdue = db.session.scalars(
        select(DemandEvent.data).where(
            DemandEvent.demand_id == demand.id, DemandEvent.kind == "bulletin"
        )
    ).one()
    assert overdue["days_overdue"] == 5


def test_a_deadline_first_seen_late_takes_every_step_in_order(dispatched, unit):
    department, _handlers, _head = unit
    demand = dispatched(department=department)
    report = run_sweep(on=D("2026-03-24"))
    assert [report.counts[k] for k in ("due_soon", "reminder", "supervision", "bulletin")] == [
        0,
        1,
        1,
        1,
    ]
    kinds = db.session.scalars(
        select(DemandEvent.kind)
        .where(DemandEvent.demand_id == demand.id, DemandEvent.actor_id.is_(None))
        .order_by(DemandEvent.id)
    ).all()
    assert kinds == ["reminder", "supervision", "bulletin"]


def test_supervision_without_a_head_goes_to_the_unit(dispatched, make_department, make_user):
    department = make_department()
    handler = make_user("department", department=department)
    demand = dispatched(department=department)
    run_sweep(on=D("2026-03-19"))
    assert handler.id in _recipients(demand, "supervision")


def test_the_directory_names_the_people_notify_names(dispatched, unit, make_user):
    """The sweep reads the staff once; it must find whom notify.* would find."""
    department, _handlers, _head = unit
    make_user("department", department=department, active=False)
    demand = dispatched(department=department)
    make_user("street", street_id=demand.street_id)
    make_user("street", street_id=demand.street_id, is_unit_head=True)
    make_user("commissioner", street_id=demand.street_id)
    make_user("office", is_unit_head=True)
    people = Directory.load()

    def ids(users):
        return sorted(u.id for u in users)

    for task in (demand.tasks[0], DemandTask(street_id=demand.street_id)):
        for heads_only in (False, True):
            assert sorted(
                people.unit(task.department_id, task.street_id, heads_only=heads_only)
            ) == ids(notify.unit_users(task, heads_only=heads_only))
    assert sorted(people.dispatchers(demand.street_id)) == ids(notify.dispatchers_for(demand))


def test_a_paused_demand_is_skipped(dispatched, office):
    demand = dispatched()
    pause_demand(demand, actor=office, reason="等待企业补充材料")
    db.session.commit()
    report = run_sweep(on=D("2026-03-24"))
    assert report.steps_taken == 0
    assert _count(Escalation, demand_id=demand.id) == 0


def test_an_approved_extension_arms_the_steps_again(dispatched, unit, office):
    department, handlers, _head = unit
    demand = dispatched(department=department)
    assert run_sweep(on=D("2026-03-17"), commit=db.session.commit).counts["reminder"] == 1

    task = demand.tasks[0]
    request = ExtensionRequest(
        task=task, requested_by_id=handlers[0].id, days=3, reason="需协调", old_due_on=DUE
    )
    db.session.add(request)
    db.session.flush()
    decide_extension(request, actor=office, approve=True)
    db.session.commit()
    assert task.due_on == D("2026-03-19")

    assert run_sweep(on=D("2026-03-17"), commit=db.session.commit).steps_taken == 0
    assert run_sweep(on=D("2026-03-18"), commit=db.session.commit).counts["due_soon"] == 1
    assert run_sweep(on=D("2026-03-20"), commit=db.session.commit).counts["reminder"] == 1
    assert _count(Escalation, demand_id=demand.id, step="reminder") == 2


def test_acceptance_overdue_reminds_the_dispatchers(make_demand, make_firm, make_user, office):
    firm = make_firm()
    street_centre = make_user("street", street_id=firm.street_id)
    other_street = make_user("street")
    demand = make_demand(firm, actor=office)
    demand.accept_due_on = D("2026-03-13")
    db.session.commit()

    assert run_sweep(on=D("2026-03-13")).steps_taken == 0  # due today: not yet late
    report = run_sweep(on=D("2026-03-16"), commit=db.session.commit)
    assert report.counts["acceptance_reminder"] == 1
    assert report.counts["reminder"] == 0
    assert _recipients(demand, "reminder") == {office.id, street_centre.id}
    assert other_street.id not in _recipients(demand, "reminder")
    row = db.session.scalars(select(Escalation).where(Escalation.demand_id == demand.id)).one()
    assert (row.task_id, row.step, row.due_on) == (0, "reminder", D("2026-03-13"))
    assert run_sweep(on=D("2026-03-16")).steps_taken == 0

    # Accepted meanwhile: no more steps for its acceptance.
    accept_demand(demand, actor=office)
    db.session.commit()
    assert run_sweep(on=D("2026-03-24")).steps_taken == 0


@pytest.fixture
def resolved(make_demand, make_firm, make_user, office):
    """A level-1 demand its street resolved on Friday 13 March 2026 at 10:00 in Shanghai."""

    def _make():
        firm = make_firm()
        centre = make_user("street", street_id=firm.street_id)
        demand = make_demand(firm, actor=office)
        accept_demand(demand, actor=office)
        (task,) = dispatch_demand(demand, actor=office, level=1, lead=Unit(street=firm.street))
        accept_task(task, actor=centre)
        resolve_task(task, actor=centre, resolution="已协调解决")
        demand.resolved_at = task.resolved_at = datetime(2026, 3, 13, 2, 0)  # UTC
        db.session.commit()
        return demand

    return _make


def test_unrated_resolutions_close_after_five_working_days(resolved):
    demand = resolved()
    # 16 to 19 March: four working days.
    assert run_sweep(on=D("2026-03-19"), commit=db.session.commit).counts["closed_unrated"] == 0
    assert demand.state == "resolved"
    report = run_sweep(on=D("2026-03-20"), commit=db.session.commit)  # the fifth
    assert report.counts["closed_unrated"] == 1
    db.session.refresh(demand)
    assert demand.state == "closed" and demand.closed_without_rating
    assert run_sweep(on=D("2026-03-23")).counts["closed_unrated"] == 0


def test_a_step_another_sweep_took_meanwhile_is_not_taken_again(dispatched, monkeypatch, app):
    """The ON CONFLICT path: between this sweep's SELECT and its INSERT, another sweep
    (another process, its own connection) records the same step and commits."""
    from crm.demands import sweep as sweep_module

    demand = dispatched()
    task = demand.tasks[0]
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    original = sweep_module._Sweep._insert_escalations

    def racing(self, step, keys):
        if step == "reminder":
            with other.begin() as conn:
                conn.execute(
                    insert(Escalation.__table__).values(
                        demand_id=demand.id,
                        task_id=task.id,
                        step="reminder",
                        due_on=DUE,
                        at=datetime(2026, 3, 17),
                    )
                )
        return original(self, step, keys)

    monkeypatch.setattr(sweep_module._Sweep, "_insert_escalations", racing)
    try:
        report = run_sweep(on=D("2026-03-17"), commit=db.session.commit)
    finally:
        other.dispose()
    assert report.counts["reminder"] == 0
    assert _count(Escalation, demand_id=demand.id, step="reminder") == 1
    assert _count(DemandEvent, demand_id=demand.id, kind="reminder") == 0
    assert _count(Notification, demand_id=demand.id, kind="reminder") == 0


def test_a_demand_closed_meanwhile_is_left_alone(resolved, monkeypatch, app):
    """Another sweep closes the demand between this one's SELECT and its UPDATE: the
    version check refuses the second change, and the slice is read again."""
    from crm.demands import sweep as sweep_module
    from crm.demands.models import Demand

    demand = resolved()
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    original = sweep_module.close_unrated
    calls = []

    def racing(d, **kw):
        if not calls:
            with other.begin() as conn:
                conn.execute(
                    Demand.__table__.update()
                    .where(Demand.id == d.id)
                    .values(state="closed", closed_without_rating=True, version=d.version + 1)
                )
        calls.append(d.id)
        return original(d, **kw)

    monkeypatch.setattr(sweep_module, "close_unrated", racing)
    try:
        report = run_sweep(on=D("2026-03-24"), commit=db.session.commit)
    finally:
        other.dispose()
    assert calls == [demand.id]  # tried once; read again, it was closed already
    assert report.counts["closed_unrated"] == 0
    assert _count(DemandEvent, demand_id=demand.id, kind="closed_unrated") == 0
    db.session.refresh(demand)
    assert demand.state == "closed"


def test_two_sweeps_at_once_notify_once(dispatched, resolved, unit, app):
    department, handlers, _head = unit
    demands = [dispatched(department=department) for _ in range(6)]
    unrated = [resolved() for _ in range(3)]
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def sweep():
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                reports.append(run_sweep(on=D("2026-03-24"), commit=db.session.commit))
        except Exception as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    db.session.expire_all()
    taken = sum(r.steps_taken - r.counts["closed_unrated"] for r in reports)
    assert taken == 3 * len(demands)  # reminder, supervision and bulletin, once each
    assert _count(Escalation) == taken
    assert _count(DemandEvent, kind="supervision") == len(demands)
    # One reminder per handler per demand, however the work was shared out.
    for demand in demands:
        assert _count(Notification, demand_id=demand.id, kind="reminder") == len(handlers) + 2
    # Each unrated resolution closed once, by one sweep or the other.
    assert sum(r.counts["closed_unrated"] for r in reports) == len(unrated)
    for demand in unrated:
        assert _count(DemandEvent, demand_id=demand.id, kind="closed_unrated") == 1


def test_the_command_prints_the_counts_and_is_idempotent(dispatched, runner):
    dispatched()
    result = runner.invoke(args=["crm", "sweep", "--date", "2026-03-19"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split() for line in result.output.splitlines()[1:])
    assert result.output.startswith("sweep as of 2026-03-19")
    assert (lines["reminder"], lines["supervision"], lines["bulletin"]) == ("1", "1", "0")

    again = runner.invoke(args=["crm", "sweep", "--date", "2026-03-19"])
    assert again.exit_code == 0, again.output
    assert {n for n in dict(line.split() for line in again.output.splitlines()[1:]).values()} == {
        "0"
    }


@pytest.mark.parametrize(
    "args", [["sweep", "--enqueue"], ["worker", "--burst"], ["schedule-sweep"]]
)
def test_the_background_commands_need_redis(runner, args):
    result = runner.invoke(args=["crm", *args])
    assert result.exit_code != 0
    assert "REDIS_URL" in result.output


def test_the_day_is_the_date_in_shanghai(dispatched):
    dispatched()
    # 17:00 UTC on Monday 16 March is 01:00 on Tuesday in Shanghai: one day overdue.
    report = run_sweep(datetime(2026, 3, 16, 17, 0))
    assert report.on == D("2026-03-17")
    assert report.counts["reminder"] == 1
    event = db.session.scalars(select(DemandEvent).where(DemandEvent.kind == "reminder")).one()
    assert event.at == datetime(2026, 3, 16, 17, 0)


def test_without_redis_the_job_runs_in_process(dispatched, app):
    dispatched()
    counts = jobs.enqueue_sweep(on=D("2026-03-17"))
    assert counts["reminder"] == 1 and counts["on"] == "2026-03-17"


# -- RQ, against the Redis at 127.0.0.1:6379 ------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_queue(app):
    """A queue of its own on the local Redis, removed afterwards with everything it made."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown
    from rq import Queue

    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisDown:
        pytest.skip("no Redis at 127.0.0.1:6379")
    name = f"crm-test-{uuid.uuid4().hex}"
    app.config["REDIS_URL"] = REDIS_URL
    job_ids: list[str] = []
    yield name, connection, job_ids
    app.config["REDIS_URL"] = None
    Queue(name, connection=connection).delete(delete_jobs=True)
    for pattern in (f"*{name}*", *(f"*{job_id}*" for job_id in job_ids)):
        keys = connection.keys(pattern)
        if keys:
            connection.delete(*keys)
    # RQ's registry of cron job names is shared: take ours out.
    for member in connection.zrange("rq:cron_jobs", 0, -1):
        if name.encode() in member:
            connection.zrem("rq:cron_jobs", member)
    connection.close()


def test_the_sweep_job_runs_on_an_rq_worker(dispatched, redis_queue):
    from rq import SimpleWorker

    name, connection, job_ids = redis_queue
    demand = dispatched()
    job = jobs.enqueue_sweep(on=D("2026-03-19"), queue_name=name)
    job_ids.append(job.id)
    assert jobs.run_worker([name], connection=connection, burst=True, worker_class=SimpleWorker)
    job.refresh()
    assert job.is_finished, job.latest_result()
    assert job.return_value()["supervision"] == 1
    db.session.expire_all()
    assert _count(Escalation, demand_id=demand.id) == 2  # reminder and supervision


def test_the_worker_command_works_a_queue(redis_queue, runner):
    name, _connection, _job_ids = redis_queue
    result = runner.invoke(args=["crm", "worker", "--burst", "--queue", name])
    assert result.exit_code == 0, result.output


def test_rqs_cron_scheduler_queues_the_sweep(dispatched, redis_queue):
    from rq import SimpleWorker

    name, connection, job_ids = redis_queue
    dispatched()
    cron_name = f"{name}-cron"
    scheduler = jobs.sweep_scheduler(connection, interval=300, queue_name=name, name=cron_name)
    (cron_job,) = scheduler.get_jobs()
    assert cron_job.interval == 300
    # Due at once, then every 300 s.
    assert [j.name for j in scheduler.enqueue_jobs()] == [cron_name]
    assert scheduler.enqueue_jobs() == []
    job_ids.extend(cron_job.get_job_ids(connection))
    assert jobs.run_worker([name], connection=connection, burst=True, worker_class=SimpleWorker)
    db.session.expire_all()
    # The job ran as of today: months after the March deadline, every overdue step at once.
    assert _count(Escalation) == 3
