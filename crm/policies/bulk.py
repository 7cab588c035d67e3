"""Bulk issuance (批量发放) of service packages to a tier or a street: who may start one,
starting and resuming it, handing it to a worker, and what its pages show. The job itself
is ``crm.policies.bulk_job``.
"""

import logging
import re
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, false, func, or_, select, true, update

from crm.audit.models import AuditLog
from crm.audit.services import record
from crm.auth.models import User
from crm.auth.permissions import OFFICE, STREET
from crm.demands import jobs
from crm.extensions import db
from crm.firms.models import Firm
from crm.policies import bulk_job
from crm.policies.models import CHANNELS, BulkIssuance, PackageDocument, ServicePackage
from crm.timeutil import utcnow

logger = logging.getLogger("crm.bulk")

# A "running" issuance that made no progress for this long lost its worker.
STALE_AFTER = timedelta(minutes=5)
JOB_TIMEOUT = 6 * 3600  # seconds; ten thousand PDFs take about an hour
ROLES = (OFFICE, STREET)


class BulkError(ValueError):
    def __init__(self, message, field: str = ""):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


# -- who may do what ---------------------------------------------------------------------
# DESIGN §2: the office issues to any tier or street; a street's service centre to the
# firms of its own street only (a tier issuance it starts is limited to its street).


def may_issue(user: User, street_id: int | None) -> bool:
    if user.role == OFFICE:
        return True
    return user.role == STREET and user.street_id is not None and street_id == user.street_id


def bulk_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``BulkIssuance``: the issuances ``user`` may follow."""
    if user.role == OFFICE:
        return true()
    if user.role == STREET and user.street_id is not None:
        return BulkIssuance.street_id == user.street_id
    return false()


def can_view_bulk(user: User, bulk: BulkIssuance) -> bool:
    return may_issue(user, bulk.street_id)


# -- starting and resuming ---------------------------------------------------------------


def count_in_scope(tier: str | None, street_id: int | None) -> int:
    return db.session.scalar(
        select(func.count(Firm.id)).where(bulk_job.firm_clause(tier, street_id))
    )


def start(
    *, tier: str | None, street_id: int | None, as_of: date, channel: str, actor: User
) -> BulkIssuance:
    """A queued issuance to the active firms of ``tier`` and/or ``street_id``; the caller
    commits, then hands it to a worker with ``launch``."""
    if not tier and not street_id:
        raise BulkError(_l("Choose a tier, a street or both."), "tier")
    if channel not in CHANNELS:
        raise BulkError(_l("Choose how the packages are handed over."), "channel")
    if not may_issue(actor, street_id):
        raise BulkError(_l("You may issue packages in bulk to the firms of your street only."))
    total = count_in_scope(tier, street_id)
    if total == 0:
        raise BulkError(_l("No active firm is in this scope."), "tier")
    now = utcnow()
    bulk = BulkIssuance(
        tier=tier or None,
        street_id=street_id or None,
        as_of=as_of,
        channel=channel,
        status="queued",
        total=total,
        job_id=_token(),
        created_by=actor,
        created_at=now,
        progress_at=now,
    )
    db.session.add(bulk)
    db.session.flush()
    record(
        "package.bulk_start",
        bulk,
        user=actor,
        detail={"tier": tier, "street": street_id, "as_of": as_of.isoformat(), "total": total},
    )
    return bulk


def resumable(bulk: BulkIssuance, now: datetime | None = None) -> bool:
    """Failed, or queued or running without progress for ``STALE_AFTER`` (its worker died)."""
    if bulk.status == "failed":
        return True
    if bulk.status not in ("queued", "running"):
        return False
    now = now or utcnow()
    return bulk.progress_at is None or bulk.progress_at < now - STALE_AFTER


def requeue(bulk: BulkIssuance, *, actor: User | None) -> bool:
    """Queue the issuance again under a new token, if it is still resumable; False when
    someone else resumed it first or it moved on. The caller commits, then ``launch``es."""
    now = utcnow()
    token = _token()
    claimed = db.session.execute(
        update(BulkIssuance)
        .where(
            BulkIssuance.id == bulk.id,
            or_(
                BulkIssuance.status == "failed",
                BulkIssuance.status.in_(("queued", "running"))
                & or_(
                    BulkIssuance.progress_at.is_(None),
                    BulkIssuance.progress_at < now - STALE_AFTER,
                ),
            ),
        )
        .values(status="queued", job_id=token, progress_at=now, error="", finished_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return False
    db.session.refresh(bulk)
    record("package.bulk_resume", bulk, user=actor, detail={"issued": bulk.issued})
    return True


def launch(bulk: BulkIssuance) -> object | None:
    """Hand the committed, queued issuance to a worker: an RQ job with ``REDIS_URL``, a
    thread of this process otherwise (the request returns at once either way). A queue
    that cannot be reached fails the issuance, which may then be resumed."""
    if current_app.config.get("REDIS_URL"):
        from redis.exceptions import RedisError

        try:
            return jobs.get_queue(jobs.QUEUE).enqueue(
                bulk_job.bulk_job,
                bulk.id,
                bulk.job_id,
                job_id=bulk.job_id,
                job_timeout=JOB_TIMEOUT,
                description=f"crm bulk issuance {bulk.id}",
            )
        except RedisError as exc:
            logger.warning("bulk issuance %s not queued: %s", bulk.id, exc)
            bulk_job.finish(
                bulk.id, bulk.job_id, status="failed", error=f"queue unavailable: {exc}"
            )
            db.session.commit()
            return None
    thread = threading.Thread(
        target=bulk_job.run_in_thread,
        args=(current_app._get_current_object(), bulk.id, bulk.job_id),
        name=f"bulk-issuance-{bulk.id}",
        daemon=True,
    )
    thread.start()
    return thread


def _token() -> str:
    return uuid.uuid4().hex


# -- what the pages show -----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    status: str
    total: int
    issued: int
    rendered: int
    error: str
    resumable: bool

    @property
    def percent(self) -> int:
        """Issuing and rendering count for half each; 100 only once the job is done."""
        if self.status == "done":
            return 100
        if not self.total:
            return 0
        return min(99, (self.issued + self.rendered) * 100 // (2 * self.total))

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "total": self.total,
            "issued": self.issued,
            "rendered": self.rendered,
            "percent": self.percent,
            "error": self.error,
            "resumable": self.resumable,
        }


def progress_of(bulk: BulkIssuance) -> Progress:
    return Progress(
        status=bulk.status,
        total=bulk.total,
        issued=bulk.issued,
        rendered=bulk.rendered,
        error=bulk.error,
        resumable=resumable(bulk),
    )


@dataclass(frozen=True)
class Skipped:
    firm_id: int
    name: str
    reason: str


def skipped_firms(bulk: BulkIssuance, *, limit: int = 200) -> list[Skipped]:
    """The firms in scope left without a package of this issuance, with the reason the
    job gave (none when the firm joined the scope after the job went past it)."""
    firms = db.session.execute(
        select(Firm.id, Firm.name)
        .where(bulk_job.firm_clause(bulk.tier, bulk.street_id), ~bulk_job.has_package(bulk.id))
        .order_by(Firm.id)
        .limit(limit)
    ).all()
    if not firms:
        return []
    reasons: dict[int, str] = {}
    for detail in db.session.scalars(
        select(AuditLog.detail)
        .where(
            AuditLog.action == bulk_job.SKIP_ACTION,
            AuditLog.object_type == BulkIssuance.__tablename__,
            AuditLog.object_id == bulk.id,
        )
        .order_by(AuditLog.id)
    ):
        reasons[detail.get("firm")] = detail.get("reason", "")
    return [Skipped(firm_id, name, reasons.get(firm_id, "")) for firm_id, name in firms]


def ready_to_download(bulk: BulkIssuance) -> bool:
    return bulk.status == "done" and bulk.rendered > 0


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def entry_name(firm_name: str, uscc: str, number: int) -> str:
    """A package's file name in the ZIP: the firm's name as written (Chinese kept), its
    USCC to tell apart firms of one name, and the package's number."""
    name = _UNSAFE.sub("_", firm_name).strip(" .") or "firm"
    return f"{name[:80]}_{uscc}_{number}.pdf"


def write_zip(bulk: BulkIssuance) -> IO[bytes]:
    """Every PDF of the issuance in one ZIP, in a temporary file (rewound) rather than in
    memory: a thousand packages make tens of megabytes."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it once sent
    rows = db.session.execute(
        select(Firm.name, Firm.uscc, ServicePackage.number, PackageDocument.pdf)
        .join(ServicePackage, ServicePackage.firm_id == Firm.id)
        .join(PackageDocument, PackageDocument.package_id == ServicePackage.id)
        .where(ServicePackage.bulk_id == bulk.id)
        .order_by(ServicePackage.id)
        .execution_options(yield_per=100)
    )
    # PDFs are compressed already: storing them saves the time deflating would waste.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, uscc, number, data in rows:
            archive.writestr(entry_name(name, uscc, number), data)
    out.seek(0)
    return out
