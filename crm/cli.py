"""``flask --app wsgi crm ...``: commands for operators."""

import click
from flask import Flask
from flask.cli import AppGroup

crm_cli = AppGroup("crm", help="Enterprise service CRM commands.")


@crm_cli.command("create-user")
@click.option("--username", prompt=True)
@click.option("--display-name", default="")
@click.option(
    "--role",
    type=click.Choice(
        ["admin", "office", "street", "commissioner", "department", "leader", "firm"]
    ),
    prompt=True,
)
@click.option("--street", "street_name", default=None, help="Street name (street, commissioner).")
@click.option("--department", "department_name", default=None, help="Department name.")
@click.option("--firm-uscc", default=None, help="USCC of the firm (firm users).")
@click.password_option()
def create_user_command(
    username, display_name, role, street_name, department_name, firm_uscc, password
):
    """Create a user account (the first admin, for instance)."""
    from crm.admin.services import AccountError, create_user
    from crm.extensions import db

    try:
        user = create_user(
            username=username,
            display_name=display_name or username,
            role=role,
            password=password,
            street_name=street_name,
            department_name=department_name,
            firm_uscc=firm_uscc,
            actor=None,
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.role} {user.username} (id {user.id})")


def register_cli(app: Flask) -> None:
    from crm.demands.sweep_cli import register_sweep_cli
    from crm.demo.cli import seed_demo_command
    from crm.policies.bulk_cli import bulk_resume_command
    from crm.stats.bulletin_cli import file_bulletins_command
    from crm.workcal.cli import calendar_cli

    crm_cli.add_command(seed_demo_command)
    crm_cli.add_command(bulk_resume_command)
    crm_cli.add_command(calendar_cli)
    crm_cli.add_command(file_bulletins_command)
    register_sweep_cli(app, crm_cli)
    app.cli.add_command(crm_cli)
