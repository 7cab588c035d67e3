"""Firms, contacts and assignments: the rules, the audit trail, no commits."""

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import selectinload

from crm.audit.services import changes, record
from crm.auth.models import User
from crm.auth.permissions import firm_scope
from crm.extensions import db
from crm.firms.models import Assignment, Contact, Firm
from crm.firms.uscc import normalise, uscc_error
from crm.timeutil import utcnow

# The fields a person may set on a firm through a form or an import; nothing else.
FIRM_FIELDS = [
    "name",
    "uscc",
    "legal_representative",
    "industry_code",
    "size",
    "registered_capital",
    "employees",
    "revenue_band",
    "established_on",
    "street_id",
    "address",
    "high_tech",
    "foreign_invested",
    "tier",
    "tags",
    "status",
    "leader_id",
]
CONTACT_FIELDS = ["name", "title", "phone", "email", "is_primary"]


USCC_MESSAGES = {
    "length": _l("A unified social credit code has 18 characters."),
    "characters": _l(
        "The code may contain only digits and the capital letters of GB 32100 (no I, O, Z, S or V)."
    ),
    "division": _l("Characters 3 to 8 must be the administrative division code (digits)."),
    "check": _l("The check character does not match: the code has a typing error."),
    "taken": _l("Another firm already has this code."),
}


def _text(message: Any) -> str:
    """``message`` as text; outside a request (the CLI, an import job) in the default language.

    A lazy message cannot pick a language without a request, so it is rendered now.
    """
    if has_request_context():
        return str(message)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return str(message)


class FirmError(ValueError):
    """A change to a firm that breaks a rule; ``field`` names the form field to blame."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(_text(message))
        self.field = field


class StaleFirm(FirmError):
    """The firm changed since the form was loaded."""

    def __init__(self, firm: Firm):
        super().__init__(_l("The firm was changed by someone else."), None)
        self.firm = firm


# -- listing -----------------------------------------------------------------------------


@dataclass
class FirmFilter:
    q: str = ""
    street_id: int | None = None
    tier: str | None = None  # a tier code, or "none"
    industry: str = ""  # a code prefix
    size: str | None = None
    status: str | None = None
    commissioner_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def firm_query(user: User, f: FirmFilter) -> Select:
    """Firms ``user`` may see, narrowed by ``f``, ordered by name. No loading options."""
    stmt = select(Firm).where(firm_scope(user))
    if q := f.q.strip():
        # autoescape: a "%" or "_" typed in the search box is a character, not a wildcard.
        stmt = stmt.where(
            or_(
                Firm.name.icontains(q, autoescape=True),
                Firm.uscc.contains(normalise(q), autoescape=True),
            )
        )
    if f.street_id:
        stmt = stmt.where(Firm.street_id == f.street_id)
    if f.tier == "none":
        stmt = stmt.where(Firm.tier.is_(None))
    elif f.tier:
        stmt = stmt.where(Firm.tier == f.tier)
    if f.industry:
        stmt = stmt.where(Firm.industry_code.startswith(f.industry.upper(), autoescape=True))
    if f.size:
        stmt = stmt.where(Firm.size == f.size)
    if f.status:
        stmt = stmt.where(Firm.status == f.status)
    if f.commissioner_id:
        stmt = stmt.where(
            exists().where(
                Assignment.firm_id == Firm.id,
                Assignment.commissioner_id == f.commissioner_id,
                Assignment.ended_at.is_(None),
            )
        )
    return stmt.order_by(Firm.name, Firm.id)


def with_list_loading(stmt: Select) -> Select:
    """What a firm list shows, loaded in a fixed number of statements."""
    return stmt.options(
        selectinload(Firm.street),
        selectinload(Firm.assignments.and_(Assignment.ended_at.is_(None))).selectinload(
            Assignment.commissioner
        ),
    )


def commissioners_in_scope(
    user: User, *, with_disabled_holding_firms: bool = False, street_id: int | None = None
) -> list[User]:
    """The active commissioners ``user`` works with, in its street or everywhere.

    ``with_disabled_holding_firms`` adds disabled accounts that still look after firms: an
    account is often disabled the day someone leaves, and their firms must still be handed on.
    ``street_id`` narrows a district-wide user's choice to one street.
    """
    active = User.active.is_(True)
    if with_disabled_holding_firms:
        active = or_(
            active,
            exists().where(Assignment.commissioner_id == User.id, Assignment.ended_at.is_(None)),
        )
    stmt = select(User).where(User.role == "commissioner", active)
    if user.role in ("street", "commissioner"):
        stmt = stmt.where(User.street_id == user.street_id)
    elif street_id is not None:
        stmt = stmt.where(User.street_id == street_id)
    return list(
        db.session.scalars(
            stmt.order_by(User.display_name, User.id).options(selectinload(User.street))
        )
    )


def commissioners_for_filter(
    user: User, *, street_id: int | None, selected: int | None
) -> list[User]:
    """The commissioner filter's choices: one street's, never the whole district's.

    A district has hundreds of commissioners; a district-wide user picks a street first. A
    commissioner already chosen (a link from the reassignment page) stays selectable.
    """
    if user.role in ("street", "commissioner") or street_id is not None:
        return commissioners_in_scope(user, with_disabled_holding_firms=True, street_id=street_id)
    if selected is None:
        return []
    chosen = db.session.get(User, selected)
    return [chosen] if chosen is not None and chosen.role == "commissioner" else []


# -- firms -------------------------------------------------------------------------------


def _check_firm_data(data: dict[str, Any], *, firm_id: int | None) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in FIRM_FIELDS}
    if "uscc" in data:
        data["uscc"] = normalise(data["uscc"] or "")
        if error := uscc_error(data["uscc"]):
            raise FirmError(USCC_MESSAGES[error], "uscc")
        clash = db.session.scalar(
            select(Firm.id).where(Firm.uscc == data["uscc"], Firm.id != (firm_id or 0))
        )
        if clash:
            raise FirmError(USCC_MESSAGES["taken"], "uscc")
    if "tags" in data:
        data["tags"] = sorted({t.strip() for t in data["tags"] or [] if t and t.strip()})
    return data


def create_firm(data: dict[str, Any], *, actor: User | None) -> Firm:
    data = _check_firm_data(data, firm_id=None)
    firm = Firm(**data)
    db.session.add(firm)
    db.session.flush()
    record("firm.create", firm, user=actor, detail={"name": firm.name, "uscc": firm.uscc})
    return firm


def update_firm(
    firm: Firm, data: dict[str, Any], *, actor: User | None, expected_version: int | None = None
) -> dict[str, list]:
    """Apply ``data``; refuse with ``StaleFirm`` when the firm moved on since the form."""
    if expected_version is not None and expected_version != firm.version:
        raise StaleFirm(firm)
    data = _check_firm_data(data, firm_id=firm.id)
    for key, value in data.items():
        setattr(firm, key, value)
    diff = changes(firm, list(data))
    if diff:
        db.session.flush()
        record("firm.update", firm, user=actor, detail={"changes": diff})
    if "street_id" in diff:
        _end_assignments_outside_street(firm, actor=actor)
    return diff


# Stored as data, like every reason people type: in the office's language.
MOVED_STREET_REASON = "企业变更所属街镇"


def _end_assignments_outside_street(firm: Firm, *, actor: User | None) -> None:
    """Commissioners look after firms in their own street: a firm that moves leaves them."""
    now = utcnow()
    for current in [a for a in firm.assignments if a.ended_at is None]:
        if current.commissioner.street_id != firm.street_id:
            _end(current, reason=MOVED_STREET_REASON, actor=actor, now=now)


def last_change_by(firm: Firm) -> str:
    """Who last changed ``firm``, for telling someone whose save was refused.

    Colleagues know each other by name, not by login: the display name when the account
    still exists, else the login name the audit record kept.
    """
    from crm.audit.models import AuditLog

    row = db.session.execute(
        select(User.display_name, AuditLog.username)
        .select_from(AuditLog)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(
            AuditLog.object_type == "firms",
            AuditLog.object_id == firm.id,
            AuditLog.action.in_(["firm.update", "firm.create"]),
        )
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return "?"
    return row.display_name or row.username or "?"


# -- contacts ----------------------------------------------------------------------------


def save_contact(
    firm: Firm, data: dict[str, Any], *, actor: User, contact: Contact | None = None
) -> Contact:
    data = {k: v for k, v in data.items() if k in CONTACT_FIELDS}
    created = contact is None
    if contact is None:
        contact = Contact(firm=firm)
        db.session.add(contact)
    for key, value in data.items():
        setattr(contact, key, value)
    if contact.is_primary:
        for other in firm.contacts:
            if other is not contact:
                other.is_primary = False
    # Before the flush, which forgets the attributes' history.
    diff = {} if created else changes(contact, list(data))
    db.session.flush()
    if "phone" in diff:  # the log is read by admins: keep numbers masked there too
        from crm.auth.permissions import mask_phone

        diff["phone"] = [mask_phone(v or "") for v in diff["phone"]]
    record(
        "contact.create" if created else "contact.update",
        contact,
        user=actor,
        detail={"firm_id": firm.id, "name": contact.name, **({"changes": diff} if diff else {})},
    )
    return contact


def delete_contact(contact: Contact, *, actor: User) -> None:
    record(
        "contact.delete",
        contact,
        user=actor,
        detail={"firm_id": contact.firm_id, "name": contact.name},
    )
    db.session.delete(contact)


def reveal_phone(contact: Contact, *, actor: User, via: str = "show_number") -> str:
    """Record that ``actor`` saw the full number; ``via``: the button or the edit form."""
    record(
        "contact.reveal_phone", contact, user=actor, detail={"firm_id": contact.firm_id, "via": via}
    )
    return contact.phone


# -- assignments (包保) -------------------------------------------------------------------


def assign(
    firm: Firm, commissioner: User | None, role: str, *, actor: User, reason: str
) -> Assignment | None:
    """Make ``commissioner`` the firm's ``role`` commissioner from now (None: nobody)."""
    if role not in ("primary", "backup"):
        raise FirmError(_l("Unknown assignment role."), "role")
    if commissioner is not None:
        if commissioner.role != "commissioner" or not commissioner.active:
            raise FirmError(_l("Only an active commissioner can be assigned."), "commissioner")
        if commissioner.street_id != firm.street_id:
            raise FirmError(_l("The commissioner works in another street."), "commissioner")
        other = firm.current_assignment("backup" if role == "primary" else "primary")
        if other is not None and other.commissioner_id == commissioner.id:
            raise FirmError(
                _l("The primary and backup commissioner must be different people."), "commissioner"
            )
    current = firm.current_assignment(role)
    if (
        current is not None
        and commissioner is not None
        and current.commissioner_id == commissioner.id
    ):
        return current
    now = utcnow()
    if current is not None:
        _end(current, reason=reason, actor=actor, now=now)
    if commissioner is None:
        return None
    return _start(firm, commissioner, role, reason=reason, actor=actor, now=now)


def _end(assignment: Assignment, *, reason: str, actor: User | None, now) -> None:
    assignment.ended_at = now
    assignment.end_reason = reason
    record(
        "assignment.end",
        assignment,
        user=actor,
        detail={"firm_id": assignment.firm_id, "role": assignment.role, "reason": reason},
    )


def _start(
    firm: Firm, commissioner: User, role: str, *, reason: str, actor: User | None, now, **detail
) -> Assignment:
    new = Assignment(
        firm=firm,
        commissioner=commissioner,
        role=role,
        started_at=now,
        reason=reason,
        assigned_by=actor,
    )
    db.session.add(new)
    db.session.flush()
    record(
        "assignment.create",
        new,
        user=actor,
        detail={
            "firm_id": firm.id,
            "commissioner_id": commissioner.id,
            "role": role,
            "reason": reason,
            **detail,
        },
    )
    return new


def bulk_reassign(
    leaving: User, successor: User, *, actor: User, reason: str, street_id: int | None = None
) -> int:
    """Hand every current assignment of ``leaving`` to ``successor``; the number moved.

    Where the successor is already the firm's other commissioner, the leaving one's role
    is ended without a replacement rather than giving one person both roles.
    """
    if successor.id == leaving.id:
        raise FirmError(_l("Choose a different commissioner to take over."), "successor")
    if successor.role != "commissioner" or not successor.active:
        raise FirmError(_l("Only an active commissioner can take over."), "successor")
    stmt = (
        select(Assignment)
        .where(Assignment.commissioner_id == leaving.id, Assignment.ended_at.is_(None))
        .options(selectinload(Assignment.firm).selectinload(Firm.assignments))
    )
    if street_id is not None:
        stmt = stmt.join(Firm).where(Firm.street_id == street_id)
    currents = db.session.scalars(stmt).all()
    # Checked before anything changes, so a refusal leaves every firm as it was.
    if any(current.firm.street_id != successor.street_id for current in currents):
        raise FirmError(
            _l("The successor works in another street than some of these firms."), "successor"
        )
    moved = 0
    now = utcnow()
    for current in currents:
        firm = current.firm
        _end(current, reason=reason, actor=actor, now=now)
        other = firm.current_assignment("backup" if current.role == "primary" else "primary")
        if other is not None and other.commissioner_id == successor.id:
            continue
        _start(
            firm, successor, current.role, reason=reason, actor=actor, now=now, replaces=leaving.id
        )
        moved += 1
    return moved


def open_assignment_counts(commissioner_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(Assignment.commissioner_id, func.count())
        .where(Assignment.commissioner_id.in_(commissioner_ids), Assignment.ended_at.is_(None))
        .group_by(Assignment.commissioner_id)
    ).all()
    return dict(rows)
