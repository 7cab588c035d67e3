"""Background jobs on RQ (DESIGN §10): the escalation sweep and the delivery of mail.

With ``REDIS_URL`` set, ``crm worker`` runs the workers, ``crm schedule-sweep`` runs RQ's
cron scheduler, which enqueues ``sweep_job`` every ``SWEEP_INTERVAL_SECONDS`` (300 by
default), and mail is sent by ``deliver_job`` so requests never wait on a mail server.

Without Redis the same functions run in the process that calls them: schedule
``flask --app wsgi crm sweep`` with cron instead, for instance every five minutes::

    */5 * * * *  cd /srv/crm && .venv/bin/flask --app wsgi crm sweep >> log/sweep.log 2>&1

A job finds the app it runs in: the worker started by ``crm worker`` has one (its job
processes are forked from it); a worker started otherwise (``rq worker``) makes one from
the environment, like ``wsgi.py`` does.
"""

from datetime import date

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, Worker
from rq.cron import CronScheduler
from rq.job import Job

from crm.extensions import db

QUEUE = "crm"
SWEEP_TIMEOUT = 3600  # seconds; the first sweep of a large backlog takes longest
SWEEP_JOB_NAME = "crm.sweep"
# A mail server that is down gets three more tries, over about twenty minutes.
DELIVERY_RETRY = Retry(max=3, interval=[60, 300, 900])


def redis_connection(url: str | None = None) -> Redis:
    url = url or current_app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("REDIS_URL is not set: background jobs run in process.")
    return Redis.from_url(url)


def get_queue(name: str = QUEUE, *, connection: Redis | None = None) -> Queue:
    return Queue(name, connection=connection or redis_connection())


def _app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()
    from crm import create_app

    return create_app()


# -- the jobs ------------------------------------------------------------------------------


def sweep_job(on: str | None = None) -> dict:
    """Run the escalation sweep (as of the ISO date ``on``, default today); its counts."""
    from crm.demands.sweep import run_sweep

    # A context of its own: a fresh session, and the calendar read anew for this run.
    with _app().app_context():
        report = run_sweep(on=date.fromisoformat(on) if on else None, commit=db.session.commit)
        db.session.commit()
        return report.as_dict()


def deliver_job(ids: list[int]) -> int:
    """Email the notifications ``ids``; the number sent. Raises if the server fails, so
    RQ tries again (``DELIVERY_RETRY``); what was sent is not sent twice."""
    from crm.demands import mail

    with _app().app_context():
        return mail.deliver(ids)


# -- enqueueing ----------------------------------------------------------------------------


def enqueue_sweep(*, on: date | None = None, queue_name: str = QUEUE) -> Job | dict:
    """Hand a sweep to the workers (the job); without ``REDIS_URL``, run it here (its
    counts)."""
    day = on.isoformat() if on else None
    if not current_app.config.get("REDIS_URL"):
        return sweep_job(day)
    return get_queue(queue_name).enqueue(
        sweep_job, day, job_timeout=SWEEP_TIMEOUT, description="crm escalation sweep"
    )


def enqueue_delivery(ids: list[int], *, queue_name: str | None = None) -> Job:
    return get_queue(queue_name or QUEUE).enqueue(deliver_job, ids, retry=DELIVERY_RETRY)


def sweep_scheduler(
    connection: Redis, *, interval: int, queue_name: str = QUEUE, name: str = SWEEP_JOB_NAME
) -> CronScheduler:
    """RQ's cron scheduler with the sweep registered every ``interval`` seconds; its
    ``start()`` runs until stopped (``crm schedule-sweep``)."""
    scheduler = CronScheduler(connection=connection)
    scheduler.register(
        sweep_job,
        queue_name=queue_name,
        interval=interval,
        job_timeout=SWEEP_TIMEOUT,
        name=name,
    )
    return scheduler


def run_worker(
    queue_names: list[str], *, connection: Redis, burst: bool = False, worker_class=Worker
) -> bool:
    """Work the queues (forever, or until they are empty with ``burst``)."""
    # Job processes are forked from this one: none may inherit an open database connection.
    db.engine.dispose()
    queues = [Queue(name, connection=connection) for name in queue_names]
    worker = worker_class(queues, connection=connection)
    # with_scheduler: the retries of mail delivery are scheduled jobs.
    return worker.work(burst=burst, with_scheduler=True)
