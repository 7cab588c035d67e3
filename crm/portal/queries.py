"""The lists behind the staff's portal pages, and the queries other pages reuse.

``open_service_requests`` is the one to call for "what firms asked of a commissioner or a
street and is still open": the commissioner's day page counts each as the firm asking for
a visit. Every query here loads what its page shows up front, so a page of 5 rows and a
page of 50 run the same statements.
"""

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.auth.permissions import COMMISSIONER, FIRM
from crm.extensions import db
from crm.firms.models import Firm
from crm.portal.models import (
    SERVICE_OPEN,
    SERVICE_STATES,
    Invitation,
    ProfileChange,
    ServiceRequest,
    SignupRequest,
)
from crm.portal.services import staff_scope
from crm.timeutil import utcnow

# Agreed times first, soonest first; then the days firms asked for; then the oldest asks.
SOONEST_FIRST = (
    ServiceRequest.scheduled_for.is_(None),
    ServiceRequest.scheduled_for,
    ServiceRequest.preferred_date.is_(None),
    ServiceRequest.preferred_date,
    ServiceRequest.created_at,
    ServiceRequest.id,
)
_SERVICE_LOADING = (
    selectinload(ServiceRequest.firm),
    selectinload(ServiceRequest.commissioner),
    selectinload(ServiceRequest.requested_by),
)


# -- service requests ----------------------------------------------------------------------


def open_service_requests(
    *, commissioner_id: int | None = None, street_id: int | None = None
) -> Select[tuple[ServiceRequest]]:
    """Open service requests (requested or scheduled) looked after by ``commissioner_id``
    and/or asked by firms of ``street_id``, soonest first, with firm and people loaded.

    Returns a statement: paginate it, add ``.limit()``, or wrap it to count.
    """
    stmt = select(ServiceRequest).where(ServiceRequest.state.in_(SERVICE_OPEN))
    if commissioner_id is not None:
        stmt = stmt.where(ServiceRequest.commissioner_id == commissioner_id)
    if street_id is not None:
        stmt = stmt.where(ServiceRequest.street_id == street_id)
    return stmt.order_by(*SOONEST_FIRST).options(*_SERVICE_LOADING)


@dataclass
class ServiceFilter:
    state: str = "open"  # "open", "all" or one state
    kind: str = ""
    commissioner: str = "all"  # "all", "mine", "none" or a commissioner's id
    q: str = ""


def service_request_query(user: User, filters: ServiceFilter) -> Select[tuple[ServiceRequest]]:
    """The service-request list of ``user``'s scope, filtered."""
    stmt = (
        select(ServiceRequest)
        .join(ServiceRequest.firm)
        .where(staff_scope(user, ServiceRequest.street_id))
    )
    if filters.state == "open":
        stmt = stmt.where(ServiceRequest.state.in_(SERVICE_OPEN))
    elif filters.state in SERVICE_STATES:
        stmt = stmt.where(ServiceRequest.state == filters.state)
    if filters.kind:
        stmt = stmt.where(ServiceRequest.kind == filters.kind)
    if filters.commissioner == "mine":
        stmt = stmt.where(ServiceRequest.commissioner_id == user.id)
    elif filters.commissioner == "none":
        stmt = stmt.where(ServiceRequest.commissioner_id.is_(None))
    elif filters.commissioner.isdigit():
        stmt = stmt.where(ServiceRequest.commissioner_id == int(filters.commissioner))
    if q := filters.q.strip():
        stmt = stmt.where(Firm.name.icontains(q, autoescape=True))
    if filters.state == "open":
        stmt = stmt.order_by(*SOONEST_FIRST)
    else:
        stmt = stmt.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    return stmt.options(*_SERVICE_LOADING)


def commissioners_in_scope(user: User) -> list[User]:
    """The commissioners whose requests ``user`` may filter by: its street's, or all."""
    stmt = select(User).where(User.role == COMMISSIONER, User.active.is_(True))
    if user.role != "office":
        stmt = stmt.where(User.street_id == user.street_id)
    return list(db.session.scalars(stmt.order_by(User.display_name, User.id)))


# -- profile changes and sign-ups -------------------------------------------------------------


def profile_change_query(user: User, *, state: str = "") -> Select[tuple[ProfileChange]]:
    """Proposals of the firms in ``user``'s scope, pending first, newest first."""
    stmt = (
        select(ProfileChange)
        .join(ProfileChange.firm)
        .where(staff_scope(user, Firm.street_id))
        .options(selectinload(ProfileChange.firm), selectinload(ProfileChange.proposed_by))
    )
    if state:
        stmt = stmt.where(ProfileChange.state == state)
    pending_first = case((ProfileChange.state == "pending", 0), else_=1)
    return stmt.order_by(pending_first, ProfileChange.created_at.desc(), ProfileChange.id.desc())


def signup_query(user: User, *, state: str = "") -> Select[tuple[SignupRequest]]:
    """Sign-up requests for the firms in ``user``'s scope, pending first, newest first."""
    stmt = (
        select(SignupRequest)
        .join(SignupRequest.firm)
        .where(staff_scope(user, Firm.street_id))
        .options(selectinload(SignupRequest.firm), selectinload(SignupRequest.reviewed_by))
    )
    if state:
        stmt = stmt.where(SignupRequest.state == state)
    pending_first = case((SignupRequest.state == "pending", 0), else_=1)
    return stmt.order_by(pending_first, SignupRequest.created_at.desc(), SignupRequest.id.desc())


# -- invitations ----------------------------------------------------------------------------


def invitation_state(invitation: Invitation, now=None) -> str:
    """live, used, revoked or expired."""
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "live"


def _live(now):
    return and_(
        Invitation.used_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now
    )


def invitation_query(user: User, *, state: str = "") -> Select[tuple[Invitation]]:
    """Invitations to the firms in ``user``'s scope, newest first."""
    now = utcnow()
    stmt = (
        select(Invitation)
        .join(Invitation.firm)
        .where(staff_scope(user, Firm.street_id))
        .options(
            # The revoke button asks can_edit_firm, which reads the firm's assignments.
            selectinload(Invitation.firm).selectinload(Firm.assignments),
            selectinload(Invitation.created_by),
            selectinload(Invitation.user),
        )
    )
    if state == "live":
        stmt = stmt.where(_live(now))
    elif state == "used":
        stmt = stmt.where(Invitation.used_at.is_not(None))
    elif state == "revoked":
        stmt = stmt.where(Invitation.used_at.is_(None), Invitation.revoked_at.is_not(None))
    elif state == "expired":
        stmt = stmt.where(
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at <= now,
        )
    return stmt.order_by(Invitation.created_at.desc(), Invitation.id.desc())


# -- the firm's page and the menu -----------------------------------------------------------


@dataclass
class FirmPortal:
    """What the firm's page shows of its portal: accounts and what waits for staff."""

    accounts: list[User]
    signups: list[SignupRequest]
    changes: list[ProfileChange]
    services: list[ServiceRequest]
    invitations: list[Invitation]


def firm_accounts(firm_id: int) -> list[User]:
    """The firm's portal accounts, active ones first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == FIRM, User.firm_id == firm_id)
            .order_by(User.active.desc(), User.display_name, User.id)
        )
    )


def firm_portal(firm: Firm) -> FirmPortal:
    """Five statements, whatever the firm has."""
    return FirmPortal(
        accounts=firm_accounts(firm.id),
        signups=list(
            db.session.scalars(
                select(SignupRequest)
                .where(SignupRequest.firm_id == firm.id, SignupRequest.state == "pending")
                .order_by(SignupRequest.created_at, SignupRequest.id)
            )
        ),
        changes=list(
            db.session.scalars(
                select(ProfileChange)
                .where(ProfileChange.firm_id == firm.id, ProfileChange.state == "pending")
                .order_by(ProfileChange.created_at, ProfileChange.id)
            )
        ),
        services=list(
            db.session.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.firm_id == firm.id, ServiceRequest.state.in_(SERVICE_OPEN))
                .order_by(*SOONEST_FIRST)
            )
        ),
        invitations=list(
            db.session.scalars(
                select(Invitation)
                .where(Invitation.firm_id == firm.id, _live(utcnow()))
                .order_by(Invitation.created_at.desc(), Invitation.id.desc())
            )
        ),
    )


def open_counts(user: User) -> dict[str, int]:
    """For the menu's badges, in one statement: the open service requests ``user`` would
    see first (a commissioner: its own), and the pending proposals and sign-ups in scope."""
    services = select(func.count(ServiceRequest.id)).where(
        staff_scope(user, ServiceRequest.street_id), ServiceRequest.state.in_(SERVICE_OPEN)
    )
    if user.role == COMMISSIONER:
        services = services.where(ServiceRequest.commissioner_id == user.id)
    changes = (
        select(func.count(ProfileChange.id))
        .join(ProfileChange.firm)
        .where(staff_scope(user, Firm.street_id), ProfileChange.state == "pending")
    )
    signups = (
        select(func.count(SignupRequest.id))
        .join(SignupRequest.firm)
        .where(staff_scope(user, Firm.street_id), SignupRequest.state == "pending")
    )
    row = db.session.execute(
        select(services.scalar_subquery(), changes.scalar_subquery(), signups.scalar_subquery())
    ).one()
    return {"service_requests": row[0], "profile_changes": row[1], "signups": row[2]}
