"""``flask --app wsgi crm sweep`` (from cron), ``crm worker`` and ``crm schedule-sweep``
(with Redis): see ``crm.demands.jobs`` for which to use when."""

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from crm.demands import jobs
from crm.stats import bulletin_jobs


@click.command("sweep")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Judge the deadlines as of this day (YYYY-MM-DD) instead of today, to catch up.",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Hand the sweep to the RQ workers (REDIS_URL) instead of running it here.",
)
def sweep_command(on, enqueue):
    """Take the escalation steps that are due and close unrated resolutions.

    Each step (due-soon warning, reminder, supervision, bulletin) is taken once per
    deadline: running the sweep again, or two at once, takes nothing twice. Prints what
    it did; run it every few minutes from cron.
    """
    from crm.demands.sweep import SweepReport, run_sweep
    from crm.extensions import db

    day = on.date() if on else None
    if enqueue:
        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: run the sweep without --enqueue.")
        job = jobs.enqueue_sweep(on=day)
        click.echo(f"queued sweep job {job.id} on {job.origin}")
        return
    report = run_sweep(on=day, commit=db.session.commit)
    db.session.commit()
    click.echo(f"sweep as of {report.on.isoformat()}")
    for key in SweepReport.KEYS:
        click.echo(f"  {key:<24}{report.counts[key]:>8}")


@click.command("worker")
@click.option("--queue", "queues", multiple=True, default=[jobs.QUEUE], show_default=True)
@click.option("--burst", is_flag=True, help="Stop once the queues are empty.")
def worker_command(queues, burst):
    """Run an RQ worker for the background jobs (sweeps, mail)."""
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set: jobs run in process; schedule `crm sweep` with cron."
        )
    jobs.run_worker(list(queues), connection=jobs.redis_connection(), burst=burst)


@click.command("schedule-sweep")
@click.option(
    "--interval",
    type=click.IntRange(min=10),
    default=None,
    help="Seconds between sweeps (default: SWEEP_INTERVAL_SECONDS, 300).",
)
@click.option("--queue", default=jobs.QUEUE, show_default=True)
def schedule_sweep_command(interval, queue):
    """Run RQ's cron scheduler, which queues a sweep every few minutes for the workers,
    and the filing of the due bulletins every hour.

    Run one of these (more would only queue redundant sweeps, which find nothing to do).
    """
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: schedule `crm sweep` with cron.")
    interval = interval or current_app.config["SWEEP_INTERVAL_SECONDS"]
    click.echo(f"queueing a sweep on {queue} every {interval} s; Ctrl+C stops")
    scheduler = jobs.sweep_scheduler(jobs.redis_connection(), interval=interval, queue_name=queue)
    # The due bulletins (通报) too, hourly: each is filed once, later runs find it filed.
    bulletin_jobs.register(scheduler, queue_name=queue).start()


def register_sweep_cli(app: Flask, group: AppGroup) -> None:
    """The sweep, worker and scheduling commands."""
    for command in (sweep_command, worker_command, schedule_sweep_command):
        group.add_command(command)
