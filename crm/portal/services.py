"""The firm's own requests outside the demand loop, and how staff answer them.

Every function checks who may do it, changes the session and leaves the commit to the
caller (a page or the API). Refusals raise ``PortalError`` with a message for the person
who tried and, where a form field is to blame, its name.
"""

import hashlib
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, false, func, select, true, update

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.passwords import hash_password, policy_errors
from crm.auth.permissions import COMMISSIONER, FIRM, OFFICE, STREET, can_edit_firm
from crm.auth.services import find_user
from crm.demands.models import Notification
from crm.demands.services import stored_text
from crm.extensions import db
from crm.firms.industries import is_valid_code
from crm.firms.models import REVENUE_BANDS, SIZES, Firm
from crm.firms.uscc import normalise
from crm.portal.models import (
    SERVICE_KINDS,
    SERVICE_OPEN,
    SLOTS,
    Invitation,
    ProfileChange,
    ServiceRequest,
    SignupRequest,
)
from crm.timeutil import utcnow
from crm.workcal.services import today

INVITATION_DAYS = 14
PORTAL_STAFF = (OFFICE, STREET, COMMISSIONER)


class PortalError(Exception):
    def __init__(self, message: Any, field: str | None = None, code: str = "invalid"):
        # In the language of the person who tried, as DemandError: it is shown, not stored.
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


def _text(value: str | None, field: str, label: Any, *, max_len: int) -> str:
    text = (value or "").strip()
    if not text:
        raise PortalError(_l("%(what)s is required.", what=label), field)
    if len(text) > max_len:
        raise PortalError(_l("%(what)s is too long.", what=label), field)
    return text


def staff_scope(user: User, street_column) -> ColumnElement[bool]:
    """The rows of firms in ``user``'s care: the office sees all, a street or a
    commissioner its own street; anyone else nothing."""
    if user.role == OFFICE:
        return true()
    if user.role in (STREET, COMMISSIONER) and user.street_id is not None:
        return street_column == user.street_id
    return false()


def tell(users, message: Any, link: str) -> None:
    """Notify ``users`` about something that is not a demand; opening it goes to ``link``."""
    seen: set[int] = set()
    for user in users:
        if user is None or user.id in seen or not user.active:
            continue
        seen.add(user.id)
        db.session.add(
            Notification(
                user_id=user.id, kind="portal", message=stored_text(message)[:300], link=link
            )
        )


def firm_carers(firm: Firm) -> list[User]:
    """Who looks after ``firm`` for the portal: its commissioners, else its street centre."""
    carers = [u for u in (firm.primary_commissioner, firm.backup_commissioner) if u]
    if carers:
        return carers
    return list(
        db.session.scalars(
            select(User).where(
                User.active.is_(True), User.role == STREET, User.street_id == firm.street_id
            )
        )
    )


def firm_users(firm_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.active.is_(True), User.role == FIRM, User.firm_id == firm_id)
        )
    )


# -- service requests: appointment 预约, on-site visit 上门, errand 跑腿代办 --------------------


def request_service(
    *,
    firm: Firm,
    actor: User,
    kind: str,
    details: str,
    preferred_date: date | None = None,
    preferred_slot: str = "",
    address: str = "",
    contact_phone: str = "",
) -> ServiceRequest:
    if actor.role != FIRM or actor.firm_id != firm.id:
        raise PortalError(_l("Only the firm itself may ask for a service."), code="role")
    if firm.status == "moved_out":
        raise PortalError(_l("This firm has moved out of the district."))
    if kind not in SERVICE_KINDS:
        raise PortalError(_l("Choose a kind of service."), "kind")
    if preferred_slot and preferred_slot not in SLOTS:
        raise PortalError(_l("Choose morning or afternoon."), "preferred_slot")
    # Today in Asia/Shanghai: before 08:00 there, the UTC date is still yesterday's.
    if preferred_date is not None and preferred_date < today():
        raise PortalError(_l("The preferred date is in the past."), "preferred_date")
    address = (address or "").strip()
    if kind == "onsite" and not address:
        address = firm.address
        if not address:
            raise PortalError(_l("Say where the visit should take place."), "address")
    req = ServiceRequest(
        firm=firm,
        street_id=firm.street_id,
        kind=kind,
        details=_text(details, "details", _l("What you need"), max_len=2000),
        preferred_date=preferred_date,
        preferred_slot=preferred_slot or "",
        address=address[:200],
        contact_phone=(contact_phone or actor.phone or "")[:32],
        commissioner_id=firm.primary_commissioner.id if firm.primary_commissioner else None,
        requested_by_id=actor.id,
    )
    db.session.add(req)
    db.session.flush()
    record("service_request.create", req, user=actor, detail={"kind": kind, "firm_id": firm.id})
    tell(
        firm_carers(firm),
        _l("%(firm)s asked for a service: %(details)s", firm=firm.name, details=req.details[:80]),
        f"/service-requests/{req.id}",
    )
    return req


def can_handle_service(user: User, req: ServiceRequest) -> bool:
    if user.role == OFFICE:
        return True
    return user.role in (STREET, COMMISSIONER) and user.street_id == req.street_id


def can_view_service(user: User, req: ServiceRequest) -> bool:
    if user.role == FIRM:
        return user.firm_id == req.firm_id
    return can_handle_service(user, req)


def _check_open(req: ServiceRequest, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != req.version:
        raise PortalError(_l("Someone else changed this request: look again."), code="stale")
    if not req.is_open:
        raise PortalError(_l("This request is already finished."), code="state")


def schedule_service(
    req: ServiceRequest,
    *,
    actor: User,
    scheduled_for: datetime,
    note: str = "",
    expected_version: int | None = None,
) -> None:
    """Agree a time with the firm; it may be moved again while the request is open."""
    if not can_handle_service(actor, req):
        raise PortalError(_l("This request is not in your care."), code="role")
    _check_open(req, expected_version)
    if scheduled_for is None:
        raise PortalError(_l("Give a date and time."), "scheduled_for")
    req.state = "scheduled"
    req.scheduled_for = scheduled_for
    req.schedule_note = (note or "").strip()[:2000]
    req.handled_by_id = actor.id
    record("service_request.schedule", req, user=actor, detail={"at": scheduled_for.isoformat()})
    tell(
        firm_users(req.firm_id),
        _l(
            "Your service request is scheduled for %(when)s.",
            when=scheduled_for.strftime("%Y-%m-%d %H:%M"),
        ),
        f"/portal/services/{req.id}",
    )


def complete_service(
    req: ServiceRequest, *, actor: User, outcome: str, expected_version: int | None = None
) -> None:
    if not can_handle_service(actor, req):
        raise PortalError(_l("This request is not in your care."), code="role")
    _check_open(req, expected_version)
    req.outcome = _text(outcome, "outcome", _l("What was done"), max_len=2000)
    req.state = "done"
    req.handled_by_id = actor.id
    req.closed_at = utcnow()
    record("service_request.done", req, user=actor)
    tell(
        firm_users(req.firm_id),
        _l("Your service request was carried out: %(outcome)s", outcome=req.outcome[:80]),
        f"/portal/services/{req.id}",
    )


def cancel_service(
    req: ServiceRequest, *, actor: User, reason: str, expected_version: int | None = None
) -> None:
    """The firm calls it off, or staff do with a reason the firm sees."""
    if not can_view_service(actor, req):
        raise PortalError(_l("This request is not in your care."), code="role")
    _check_open(req, expected_version)
    req.cancel_reason = _text(reason, "reason", _l("A reason"), max_len=500)
    req.state = "cancelled"
    req.closed_at = utcnow()
    if actor.role != FIRM:
        req.handled_by_id = actor.id
    record("service_request.cancel", req, user=actor)
    if actor.role == FIRM:
        readers = [req.commissioner] if req.commissioner else firm_carers(req.firm)
        link = f"/service-requests/{req.id}"
    else:
        readers = firm_users(req.firm_id)
        link = f"/portal/services/{req.id}"
    tell(readers, _l("A service request was cancelled: %(reason)s", reason=req.cancel_reason), link)


def open_requests_for(firm_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(ServiceRequest)
        .where(ServiceRequest.firm_id == firm_id, ServiceRequest.state.in_(SERVICE_OPEN))
    )


# -- profile changes the firm proposes ------------------------------------------------------

# The fields a firm may propose, and how a typed value is checked and stored as JSON.
PROPOSABLE = (
    "name",
    "legal_representative",
    "address",
    "industry_code",
    "size",
    "registered_capital",
    "employees",
    "revenue_band",
    "established_on",
    "high_tech",
    "foreign_invested",
)


def _json_value(field: str, value: Any) -> Any:
    """``value`` checked for ``field`` and made JSON-safe; ``PortalError`` when wrong."""
    if value in (None, ""):
        if field in ("name",):
            raise PortalError(_l("%(what)s is required.", what=_l("Firm name")), field)
        return None
    if field in ("name", "legal_representative", "address"):
        text = str(value).strip()
        limit = {"name": 128, "legal_representative": 64, "address": 200}[field]
        if len(text) > limit:
            raise PortalError(_l("Too long."), field)
        return text or None
    if field == "industry_code":
        code = str(value).strip().upper()
        if not is_valid_code(code):
            raise PortalError(
                _l("Use a GB/T 4754 code: a section letter and 2 to 4 digits, e.g. I65 or I6513."),
                field,
            )
        return code
    if field == "size":
        if value not in SIZES:
            raise PortalError(_l("Not a valid choice."), field)
        return value
    if field == "revenue_band":
        if value not in REVENUE_BANDS:
            raise PortalError(_l("Not a valid choice."), field)
        return value
    if field == "registered_capital":
        try:
            amount = Decimal(str(value)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise PortalError(_l("Give an amount in 10,000 yuan."), field) from None
        if not amount.is_finite() or amount < 0 or amount > Decimal("1e11"):
            raise PortalError(_l("Give an amount in 10,000 yuan."), field)
        return str(amount)
    if field == "employees":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PortalError(_l("Give a whole number."), field)
        try:
            number = int(value)
        except ValueError:
            raise PortalError(_l("Give a whole number."), field) from None
        if not 0 <= number <= 10**7:
            raise PortalError(_l("Give a whole number."), field)
        return number
    if field == "established_on":
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise PortalError(_l("Give a date as YYYY-MM-DD."), field) from None
    if field in ("high_tech", "foreign_invested"):
        if not isinstance(value, bool):
            raise PortalError(_l("Give true or false."), field)
        return value
    raise PortalError(_l("This field cannot be changed here."), field)


def _stored(firm: Firm, field: str) -> Any:
    value = getattr(firm, field)
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, date):
        return value.isoformat()
    return value if value != "" else None


def _python_value(field: str, value: Any) -> Any:
    if value is None:
        return "" if field in ("legal_representative", "address", "industry_code") else None
    if field == "registered_capital":
        return Decimal(value)
    if field == "established_on":
        return date.fromisoformat(value)
    return value


def propose_change(
    firm: Firm, *, actor: User, values: dict[str, Any], note: str = ""
) -> ProfileChange:
    """Record the fields in ``values`` that differ from the firm's profile, for review.

    Raises when a field is not one a firm may propose, a value is wrong, or nothing
    differs. An earlier pending proposal of the same firm stays; both are reviewed.
    """
    if actor.role != FIRM or actor.firm_id != firm.id:
        raise PortalError(_l("Only the firm itself may propose changes."), code="role")
    changes: dict[str, dict[str, Any]] = {}
    for field, value in values.items():
        if field not in PROPOSABLE:
            raise PortalError(_l("This field cannot be changed here."), field)
        new = _json_value(field, value)
        old = _stored(firm, field)
        if new != old:
            changes[field] = {"from": old, "to": new}
    if not changes:
        raise PortalError(_l("Nothing differs from the profile on record."), code="no_change")
    change = ProfileChange(
        firm=firm, changes=changes, note=(note or "").strip()[:1000], proposed_by_id=actor.id
    )
    db.session.add(change)
    db.session.flush()
    record("profile_change.propose", change, user=actor, detail={"fields": sorted(changes)})
    tell(
        firm_carers(firm),
        _l("%(firm)s proposed changes to its profile.", firm=firm.name),
        f"/profile-changes/{change.id}",
    )
    return change


def review_change(
    change: ProfileChange, *, actor: User, approve: bool, note: str = ""
) -> dict[str, list]:
    """Approve (apply the proposed values to the firm) or refuse, with a note the firm sees.

    A field whose stored value changed since the proposal is not overwritten silently:
    the review is refused so the reviewer can look at both.
    """
    from crm.firms.services import update_firm

    firm = change.firm
    if not can_edit_firm(actor, firm):
        raise PortalError(_l("This firm is not in your care."), code="role")
    if change.state != "pending":
        raise PortalError(_l("This proposal was already reviewed."), code="state")
    note = (note or "").strip()[:1000]
    if not approve and not note:
        raise PortalError(_l("Say why the proposal is refused."), "note")
    diff: dict[str, list] = {}
    if approve:
        moved = [f for f, c in change.changes.items() if _stored(firm, f) != c["from"]]
        if moved:
            raise PortalError(
                _l(
                    "The profile changed since this proposal (%(fields)s): refuse it and ask "
                    "the firm to propose again.",
                    fields=", ".join(moved),
                ),
                code="stale",
            )
        data = {f: _python_value(f, c["to"]) for f, c in change.changes.items()}
        diff = update_firm(firm, data, actor=actor)
    change.state = "approved" if approve else "rejected"
    change.reviewed_by_id = actor.id
    change.reviewed_at = utcnow()
    change.review_note = note
    record("profile_change." + change.state, change, user=actor)
    tell(
        firm_users(firm.id),
        _l("Your proposed profile changes were approved.")
        if approve
        else _l("Your proposed profile changes were not accepted: %(note)s", note=note),
        "/portal/profile",
    )
    return diff


# -- accounts: sign-up requests and invitations --------------------------------------------


def _check_account(username: str, password: str, *, field_prefix: str = "") -> str:
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise PortalError(_l("Choose a user name of at most 64 characters."), "username")
    if any(c.isspace() for c in username):
        raise PortalError(_l("A user name has no spaces."), "username")
    taken = find_user(username) is not None or db.session.scalar(
        select(SignupRequest.id).where(
            func.lower(SignupRequest.username) == username.lower(),
            SignupRequest.state == "pending",
        )
    )
    if taken:
        raise PortalError(_l("This user name is taken: choose another."), "username")
    if errors := policy_errors(password or "", username=username):
        raise PortalError(" ".join(str(e) for e in errors), "password")
    return username


def submit_signup(
    *,
    uscc: str,
    person_name: str,
    phone: str,
    username: str,
    password: str,
    email: str = "",
    job_title: str = "",
) -> SignupRequest:
    """Someone of a firm asks for an account. The firm must be in the district's registry;
    its street and commissioners are told and one of them approves."""
    firm = db.session.scalar(select(Firm).where(Firm.uscc == normalise(uscc or "")))
    if firm is None or firm.status == "moved_out":
        raise PortalError(
            _l(
                "No firm with this code is registered in the district: ask your street's "
                "business service centre."
            ),
            "uscc",
        )
    username = _check_account(username, password)
    req = SignupRequest(
        firm=firm,
        person_name=_text(person_name, "person_name", _l("Your name"), max_len=64),
        job_title=(job_title or "").strip()[:64],
        phone=_text(phone, "phone", _l("Phone"), max_len=32),
        email=(email or "").strip()[:120],
        username=username,
        password_hash=hash_password(password),
    )
    db.session.add(req)
    db.session.flush()
    record("signup.request", req, username=username, detail={"firm_id": firm.id})
    tell(
        firm_carers(firm),
        _l("%(person)s asked for an account of %(firm)s.", person=req.person_name, firm=firm.name),
        f"/signups/{req.id}",
    )
    return req


def _new_firm_user(
    firm: Firm, *, username: str, password_hash: str, name: str, phone: str, email: str
) -> User:
    user = User(
        username=username,
        display_name=name,
        password_hash=password_hash,
        role=FIRM,
        firm_id=firm.id,
        street_id=firm.street_id,
        phone=phone,
        email=email,
    )
    db.session.add(user)
    db.session.flush()
    return user


def review_signup(req: SignupRequest, *, actor: User, approve: bool, note: str = "") -> User | None:
    if not can_edit_firm(actor, req.firm):
        raise PortalError(_l("This firm is not in your care."), code="role")
    if req.state != "pending":
        raise PortalError(_l("This request was already reviewed."), code="state")
    note = (note or "").strip()[:1000]
    user = None
    if approve:
        if find_user(req.username) is not None:
            raise PortalError(_l("This user name was taken meanwhile: refuse the request."))
        user = _new_firm_user(
            req.firm,
            username=req.username,
            password_hash=req.password_hash,
            name=req.person_name,
            phone=req.phone,
            email=req.email,
        )
        req.user_id = user.id
    elif not note:
        raise PortalError(_l("Say why the request is refused."), "note")
    req.state = "approved" if approve else "rejected"
    req.password_hash = "" if not approve else req.password_hash
    req.reviewed_by_id = actor.id
    req.reviewed_at = utcnow()
    req.review_note = note
    record("signup." + req.state, req, user=actor, detail={"firm_id": req.firm_id})
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(
    firm: Firm, *, actor: User, person_name: str, phone: str = "", email: str = ""
) -> tuple[Invitation, str]:
    """A one-time link for a contact of ``firm``; returns the row and the raw token,
    which is shown once and never stored."""
    if not can_edit_firm(actor, firm):
        raise PortalError(_l("This firm is not in your care."), code="role")
    if firm.status == "moved_out":
        # find_invitation refuses such links: do not hand out one that cannot work.
        raise PortalError(_l("This firm has moved out of the district."))
    token = secrets.token_urlsafe(24)
    invitation = Invitation(
        firm=firm,
        token_hash=_token_hash(token),
        person_name=_text(person_name, "person_name", _l("Name"), max_len=64),
        phone=(phone or "").strip()[:32],
        email=(email or "").strip()[:120],
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    record("invitation.create", invitation, user=actor, detail={"firm_id": firm.id})
    return invitation, token


def find_invitation(token: str) -> Invitation | None:
    """The usable invitation behind ``token``, or None (unknown, used, revoked, expired)."""
    if not token or len(token) > 100:
        return None
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == _token_hash(token))
    )
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
        or invitation.firm.status == "moved_out"
    ):
        return None
    return invitation


def accept_invitation(token: str, *, username: str, password: str) -> User:
    invitation = find_invitation(token)
    if invitation is None:
        raise PortalError(_l("This invitation is no longer valid."), code="invalid_token")
    username = _check_account(username, password)
    # Claimed in one UPDATE: of two people sending the same link at once, one gets it.
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise PortalError(_l("This invitation is no longer valid."), code="invalid_token")
    user = _new_firm_user(
        invitation.firm,
        username=username,
        password_hash=hash_password(password),
        name=invitation.person_name,
        phone=invitation.phone,
        email=invitation.email,
    )
    invitation.user_id = user.id
    record("invitation.accept", invitation, user=user, detail={"firm_id": invitation.firm_id})
    return user


def revoke_invitation(invitation: Invitation, *, actor: User) -> None:
    if not can_edit_firm(actor, invitation.firm):
        raise PortalError(_l("This firm is not in your care."), code="role")
    if invitation.used_at is None and invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        record("invitation.revoke", invitation, user=actor)
