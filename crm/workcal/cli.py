"""``flask --app wsgi crm calendar ...``: count working days, enter a year, show one."""

from pathlib import Path

import click
from flask.cli import AppGroup

calendar_cli = AppGroup("calendar", help="The working-day calendar.")


# Negative counts ("-3") are numbers here, not options.
@calendar_cli.command("due", context_settings={"ignore_unknown_options": True})
@click.argument("start", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("n", type=int)
def due_command(start, n):
    """Print the date N working days after DATE (YYYY-MM-DD); N < 0 counts back."""
    from crm.workcal.services import current_calendar

    calendar = current_calendar()
    start = start.date()
    due = calendar.add_working_days(start, n)
    click.echo(due.day.isoformat())
    if not due.verified:
        low, high = sorted((start, due.day))
        unknown = [y for y in range(low.year, high.year + 1) if calendar.source(y) is None]
        click.echo(
            f"unverified: {', '.join(map(str, unknown))} "
            f"{'is' if len(unknown) == 1 else 'are'} not in the calendar, so the date counts "
            "Monday to Friday only. Enter the year with `flask --app wsgi crm calendar import`."
        )


@calendar_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path):
    """Enter a year from a CSV file (date,type,name), replacing the days entered before."""
    from crm.extensions import db
    from crm.workcal.services import import_year

    with file.open("rb") as stream:
        result = import_year(stream, actor=None)
    if not result.ok:
        db.session.rollback()
        for error in result.errors:
            click.echo(
                f"line {error.line}: {error.message}" if error.line else error.message, err=True
            )
        raise click.ClickException(f"nothing was loaded: {len(result.errors)} problem(s) in {file}")
    db.session.commit()
    click.echo(
        f"loaded {result.year}: {result.holidays} holidays, {result.workdays} make-up workdays"
        f" (replacing {result.replaced} days entered before)"
    )
    if result.in_library:
        click.echo(
            f"note: the calendar library knows {result.year} too; the entered days now replace "
            "the library's for that year."
        )


@calendar_cli.command("show")
@click.argument("year", type=click.IntRange(1, 9999))
def show_command(year: int):
    """List a year's holidays and make-up workdays, and where they come from."""
    from crm.workcal.calendar import library_days
    from crm.workcal.services import current_calendar, year_days

    source = current_calendar().source(year)
    if source is None:
        click.echo(f"{year} is not in the calendar: Monday to Friday, deadlines unverified.")
        return
    if source == "entered":
        days = [(d.day, d.is_workday, d.name) for d in year_days(year)]
    else:
        days = library_days(year)
    click.echo(f"{year}: {source}")
    for day, is_workday, name in days:
        kind = "workday" if is_workday else "holiday"
        click.echo(f"{day.isoformat()}  {day.strftime('%a')}  {kind:<7}  {name}")
