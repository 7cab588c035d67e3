import click


@click.command("seed-demo")
@click.option("--scale", type=click.Choice(["small", "district", "city"]), default="small")
def seed_demo_command(scale):
    """Load demo data."""
    raise click.ClickException("not written yet")
