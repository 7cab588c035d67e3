"""``flask --app wsgi crm bulk-resume <id>``: finish a stopped bulk issuance in the
foreground, for an operator whose workers are down or who would rather watch it run."""

import click

from crm.extensions import db
from crm.policies import bulk, bulk_job
from crm.policies.models import BulkIssuance


@click.command("bulk-resume")
@click.argument("bulk_id", type=int)
def bulk_resume_command(bulk_id: int) -> None:
    """Resume bulk issuance BULK_ID where it stopped: it failed, or made no progress for
    five minutes (its worker died). Firms issued already and PDFs rendered already are
    skipped."""
    issuance = db.session.get(BulkIssuance, bulk_id)
    if issuance is None:
        raise click.ClickException(f"no bulk issuance {bulk_id}")
    if not bulk.requeue(issuance, actor=None):
        raise click.ClickException(
            f"bulk issuance {bulk_id} is {issuance.status} and making progress or done: "
            "only a failed or stalled one is resumed"
        )
    db.session.commit()
    click.echo(f"resuming bulk issuance {bulk_id}: {issuance.issued} of {issuance.total} issued")
    try:
        counts = bulk_job.run(issuance.id, issuance.job_id)
    except Exception as exc:
        raise click.ClickException(f"stopped again: {exc}") from exc
    if not counts["claimed"]:
        raise click.ClickException("another run took the issuance over; nothing done here")
    click.echo(f"done: {counts['issued']} packages issued, {counts['rendered']} PDFs rendered")
