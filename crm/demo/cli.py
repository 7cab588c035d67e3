"""``flask --app wsgi crm seed-demo``: fill an empty database with a demo district."""

import sys

import click

from crm.demo.plan import DEFAULT_SEED, DEMO_PASSWORD, SCALES


@click.command("seed-demo")
@click.option(
    "--scale",
    type=click.Choice(list(SCALES)),
    default="small",
    show_default=True,
    help="small: about 300 firms (make run); district: about 20,000; city: about 200,000.",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="The same seed always gives the same firms.",
)
@click.option(
    "--firms",
    type=click.IntRange(min=4),
    default=None,
    help="Override the scale's number of firms.",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="On a database that already has firms or users, do nothing and say so.",
)
def seed_demo_command(scale, seed, firms, if_empty):
    """Load a demo district: Changning's ten streets, ten departments, staff and firms.

    Demo data only ever goes into an empty database, one with no firm and no user.
    On any other database the command refuses (with --if-empty it does nothing and
    exits successfully, which is what `make run` relies on). There is deliberately no
    option to seed over existing data: the demo accounts have a published password and
    the audit log cannot be cleaned up afterwards. To start again, point DATABASE_URL at
    a new database and run `flask db upgrade` first.

    Demo logins, all with the password Demo-2026!: demo-admin, demo-office, demo-street,
    demo-commissioner, demo-department, demo-leader, demo-firm, demo-firm2.
    """
    from crm.demo.seed import existing_data, seed_demo
    from crm.extensions import db

    n_firms, n_users = existing_data()
    if n_firms or n_users:
        message = (
            f"The database already holds {n_firms} firms and {n_users} users; "
            "demo data is only loaded into an empty database."
        )
        if if_empty:
            click.echo(f"{message} Nothing done.")
            return
        raise click.ClickException(
            f"{message} Use a new database (DATABASE_URL) or --if-empty to skip."
        )

    total = firms if firms is not None else SCALES[scale].firms
    with click.progressbar(
        length=total,
        label="firms",
        file=sys.stderr,
        hidden=total < 10_000 or not sys.stderr.isatty(),
    ) as bar:
        report = seed_demo(scale, seed=seed, firms=firms, on_batch=bar.update)
        db.session.commit()
    c = report.counts
    click.echo(
        f"Loaded the demo district at {scale} scale (seed {seed}) in {report.seconds:.1f} s: "
        f"{c['streets']} streets, {c['departments']} departments, "
        f"{c['users']} users ({c['commissioners']} commissioners, {c['firm_users']} firm "
        f"users), {c['firms']} firms ({c['district_tier']} district-tier, "
        f"{c['sector_tier']} sector, {c['local_tier']} local), {c['contacts']} contacts, "
        f"{c['assignments']} assignments ({c['ended_assignments']} ended), "
        f"{c['demands']} demands ({c['open_demands']} open, {c['overdue_demands']} overdue) "
        f"with {c['demand_events']} timeline events, {c['service_requests']} service requests, "
        f"{c['profile_changes']} profile changes and {c['signup_requests']} sign-ups to review; "
        f"{c['visits']} visits ({c['joint_visits']} joint, {c['visit_demands']} raising a "
        f"demand), {c['prospects']} prospects ({c['registered_prospects']} registered, "
        f"{c['dropped_prospects']} dropped), {c['cases']} assistance cases "
        f"({c['open_cases']} open, {c['landed_cases']} landed, {c['dropped_cases']} dropped)."
    )
    click.echo(f"Demo logins, password {DEMO_PASSWORD}:")
    for username, what in report.demo_logins.items():
        click.echo(f"  {username:<18} {what}")
    click.echo(
        "Every other demo account has the same password: never use this database for real data."
    )
