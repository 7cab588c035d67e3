"""The bulk issuance job: issue, then render, what an issuance still lacks.

Phase 1 issues a package to every active firm in scope that has none of this issuance
yet; phase 2 renders the PDF of every package of the issuance that has none. Both commit
in batches and recount what is done from the database, so a job stopped anywhere (a
crash, a killed worker, a deploy) is resumed by running it again: it skips what was done,
and the unique (bulk_id, firm_id) constraint stops a firm from being issued twice even if
two runs overlap.

A run owns the issuance through ``job_id``, the token it was queued with: each batch
commits only while the token is still the issuance's, so a run that was thought dead and
replaced by a resume can no longer write. With ``REDIS_URL`` the run is an RQ job
(``crm worker`` works it); without, a thread of the web process (``crm.policies.bulk``).
"""

import logging
from collections.abc import Sequence

from flask import Flask
from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm.audit.services import record
from crm.auth.models import User
from crm.demands import jobs
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from crm.policies import matching, pdf
from crm.policies.models import BulkIssuance, PackageDocument, ServicePackage
from crm.policies.packages import PackageError, issue
from crm.policies.queries import rules_in_force, street_names
from crm.timeutil import utcnow

logger = logging.getLogger("crm.bulk")

ISSUE_BATCH = 50
RENDER_BATCH = 10  # a render takes a fraction of a second: keep the bar moving
SKIP_ACTION = "package.bulk_skip"
# Concurrent writers (a run thought dead, a package issued by hand) may collide with a
# batch; the batch is retried that many times before the run gives up.
MAX_CONFLICTS = 3


class Superseded(RuntimeError):
    """The issuance was handed to another run: this one stops without writing."""


def firm_clause(tier: str | None, street_id: int | None) -> ColumnElement[bool]:
    """The active firms an issuance to ``tier`` and/or ``street_id`` is for."""
    clause = Firm.status == "active"
    if tier:
        clause &= Firm.tier == tier
    if street_id:
        clause &= Firm.street_id == street_id
    return clause


def bulk_job(bulk_id: int, token: str) -> dict:
    """The RQ job: run the issuance in an app context (and session) of its own."""
    with jobs._app().app_context():
        return run(bulk_id, token)


def run_in_thread(app: Flask, bulk_id: int, token: str) -> None:
    with app.app_context():
        try:
            run(bulk_id, token)
        except Exception:
            # Already recorded on the issuance as failed; the log keeps the traceback.
            logger.exception("bulk issuance %s failed", bulk_id)


def run(bulk_id: int, token: str) -> dict:
    """Issue, then render, what the issuance still lacks; its counts. Does nothing when
    ``token`` no longer owns the issuance (another run took it over)."""
    if not _claim(bulk_id, token):
        db.session.rollback()
        return {"claimed": False}
    db.session.commit()
    try:
        bulk = db.session.get(BulkIssuance, bulk_id)
        _issue_all(bulk, token)
        _render_all(bulk, token)
        done = counts(bulk_id)
        finish(bulk_id, token, status="done", **done)
        db.session.commit()
        return {"claimed": True, **done}
    except Superseded:
        db.session.rollback()
        return {"claimed": False}
    except Exception as exc:
        db.session.rollback()
        finish(bulk_id, token, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        db.session.commit()
        raise


def _owned(bulk_id: int, token: str):
    return update(BulkIssuance).where(BulkIssuance.id == bulk_id, BulkIssuance.job_id == token)


def _claim(bulk_id: int, token: str) -> bool:
    """queued → running, for the run holding the token; the target is counted anew (a
    firm may have joined or left the scope since the issuance was queued)."""
    bulk = db.session.get(BulkIssuance, bulk_id)
    if bulk is None or bulk.job_id != token or bulk.status != "queued":
        return False
    total = db.session.scalar(
        select(func.count(Firm.id)).where(
            or_(firm_clause(bulk.tier, bulk.street_id), has_package(bulk_id))
        )
    )
    now = utcnow()
    return bool(
        db.session.execute(
            _owned(bulk_id, token)
            .where(BulkIssuance.status == "queued")
            .values(
                status="running",
                total=total,
                started_at=func.coalesce(BulkIssuance.started_at, now),
                progress_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _progress(bulk_id: int, token: str, **values: int) -> None:
    """Record the counts with the batch, in its transaction; a run that lost the issuance
    to another raises ``Superseded`` and its batch is rolled back."""
    done = db.session.execute(
        _owned(bulk_id, token)
        .where(BulkIssuance.status == "running")
        .values(progress_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise Superseded(bulk_id)


def finish(bulk_id: int, token: str, *, status: str, **values) -> None:
    """Set the issuance's final status (with ``values``), if ``token`` still owns it."""
    now = utcnow()
    if status == "done":
        values["finished_at"] = now
    db.session.execute(
        _owned(bulk_id, token)
        .values(status=status, progress_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def has_package(bulk_id: int) -> ColumnElement[bool]:
    return exists().where(ServicePackage.bulk_id == bulk_id, ServicePackage.firm_id == Firm.id)


def counts(bulk_id: int) -> dict[str, int]:
    issued = db.session.scalar(
        select(func.count(ServicePackage.id)).where(ServicePackage.bulk_id == bulk_id)
    )
    rendered = db.session.scalar(
        select(func.count(PackageDocument.package_id))
        .join(ServicePackage, ServicePackage.id == PackageDocument.package_id)
        .where(ServicePackage.bulk_id == bulk_id)
    )
    return {"issued": issued, "rendered": rendered}


def _issue_all(bulk: BulkIssuance, token: str) -> None:
    """Phase 1: a package for every active firm in scope without one of this issuance, in
    id order, a batch per transaction. The policies are loaded once for the whole run."""
    bulk_id, by = bulk.id, bulk.created_by
    rules, streets = rules_in_force(bulk.as_of), street_names()
    query = (
        select(Firm)
        .where(firm_clause(bulk.tier, bulk.street_id), ~has_package(bulk_id))
        .order_by(Firm.id)
        .limit(ISSUE_BATCH)
        .options(
            selectinload(Firm.street),
            selectinload(Firm.assignments).selectinload(Assignment.commissioner),
        )
    )
    after, conflicts = 0, 0
    while firms := db.session.scalars(query.where(Firm.id > after)).all():
        try:
            for firm in firms:
                _issue_one(firm, bulk, by=by, rules=rules, streets=streets)
            _progress(bulk_id, token, issued=counts(bulk_id)["issued"])
            db.session.commit()
        except IntegrityError:
            # Another writer issued one of these firms first: the batch is rolled back and
            # chosen again, without the firms now issued.
            db.session.rollback()
            conflicts += 1
            if conflicts > MAX_CONFLICTS:
                raise
            continue
        conflicts = 0
        after = firms[-1].id


def _issue_one(
    firm: Firm,
    bulk: BulkIssuance,
    *,
    by: User | None,
    rules: Sequence[matching.Rule],
    streets: dict[int, str],
) -> None:
    try:
        issue(
            firm,
            by=by,
            on=bulk.as_of,
            channel=bulk.channel,
            bulk=bulk,
            rules=rules,
            streets=streets,
        )
    except PackageError as exc:
        # A firm that cannot have a package is reported on the page, not a crash.
        record(SKIP_ACTION, bulk, user=by, detail={"firm": firm.id, "reason": exc.message})


def _render_all(bulk: BulkIssuance, token: str) -> None:
    """Phase 2: the PDF of every package of the issuance that has none."""
    bulk_id = bulk.id
    query = (
        select(ServicePackage)
        .where(
            ServicePackage.bulk_id == bulk_id,
            ~exists().where(PackageDocument.package_id == ServicePackage.id),
        )
        .order_by(ServicePackage.id)
        .limit(RENDER_BATCH)
    )
    after = 0
    while packages := db.session.scalars(query.where(ServicePackage.id > after)).all():
        for package in packages:
            pdf.document_for(package)
        _progress(bulk_id, token, **counts(bulk_id))
        db.session.commit()
        after = packages[-1].id
