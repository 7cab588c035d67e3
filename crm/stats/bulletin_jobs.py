"""Filing the due bulletins in the background: ``register`` adds ``bulletins_job`` to the
sweep's cron scheduler (``crm schedule-sweep``), hourly, so last week's bulletin is filed
early on Monday and last month's early on the 1st; the runs in between find them filed and
do nothing. Without ``REDIS_URL`` it runs in the calling process, or
from cron: ``flask --app wsgi crm file-bulletins``.
"""

from datetime import date

from flask import current_app
from rq.cron import CronScheduler

from crm.demands.jobs import QUEUE, _app, get_queue
from crm.extensions import db

BULLETINS_JOB_NAME = "crm.bulletins"
BULLETINS_INTERVAL = 3600  # seconds
BULLETINS_TIMEOUT = 600  # seconds: two bulletins, each with its PDF


def bulletins_job(on: str | None = None) -> list[int]:
    """File last week's and last month's bulletins as of the ISO date ``on`` (default
    today, Beijing time) if not filed yet; the ids filed now."""
    from crm.stats.bulletins import file_due_bulletins
    from crm.workcal.services import today

    with _app().app_context():
        made = file_due_bulletins(date.fromisoformat(on) if on else today())
        db.session.commit()
        return [b.id for b in made]


def enqueue_bulletins(*, on: date | None = None, queue_name: str = QUEUE):
    """Hand the filing to the workers (the job); without ``REDIS_URL``, file here (ids)."""
    day = on.isoformat() if on else None
    if not current_app.config.get("REDIS_URL"):
        return bulletins_job(day)
    return get_queue(queue_name).enqueue(
        bulletins_job, day, job_timeout=BULLETINS_TIMEOUT, description="crm bulletins"
    )


def register(scheduler: CronScheduler, *, queue_name: str = QUEUE) -> CronScheduler:
    """``scheduler`` with the filing of due bulletins added, every hour."""
    scheduler.register(
        bulletins_job,
        queue_name=queue_name,
        interval=BULLETINS_INTERVAL,
        job_timeout=BULLETINS_TIMEOUT,
        name=BULLETINS_JOB_NAME,
    )
    return scheduler
