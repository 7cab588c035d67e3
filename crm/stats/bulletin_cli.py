"""``flask --app wsgi crm file-bulletins``: file last week's and last month's bulletins if
they are not filed yet (from cron, when there is no Redis; see ``bulletin_jobs``)."""

import click


@click.command("file-bulletins")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="File the periods ended before this day (YYYY-MM-DD) instead of today.",
)
def file_bulletins_command(on):
    """File the due weekly and monthly bulletins (通报); filed ones are left as they are."""
    from crm.extensions import db
    from crm.stats.bulletins import file_due_bulletins
    from crm.workcal.services import today

    made = file_due_bulletins(on.date() if on else today())
    db.session.commit()
    for bulletin in made:
        pdf = "" if bulletin.pdf is not None else " (PDF unavailable)"
        period = bulletin.period_start.isoformat()
        click.echo(f"filed {bulletin.kind} {period}: {bulletin.title}{pdf}")
    if not made:
        click.echo("nothing to file")
