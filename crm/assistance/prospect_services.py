"""Prospects (待落户企业) and their registration as firms, which keeps their cases.

Functions change the session, write the audit record and leave the commit to the caller.
"""

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from crm.assistance.models import AssistanceCase, CaseEvent, Prospect
from crm.audit.services import changes, record
from crm.auth.models import User
from crm.auth.permissions import can_create_firm, can_view_firm, prospect_scope
from crm.extensions import db
from crm.firms import services as firm_services
from crm.firms.models import Firm
from crm.firms.uscc import normalise, uscc_error
from crm.org.models import Street
from crm.timeutil import utcnow

PROSPECT_FIELDS = [
    "name",
    "street_id",
    "industry_code",
    "contact_name",
    "contact_phone",
    "source",
    "notes",
    "owner_id",
]
# What the registration form may set on the new firm.
REGISTRATION_FIELDS = [
    "name",
    "legal_representative",
    "industry_code",
    "registered_capital",
    "established_on",
    "street_id",
    "address",
]
OWNER_ROLES = ("office", "street", "commissioner")
# Stored as data, like every reason people type: in the office's language.
ASSIGN_REASON = "待落户企业登记为企业，由跟进人包保"
REGISTERED_NOTE = "待落户企业已登记为企业：{name}（{uscc}），事项随之转入该企业。"


class ProspectError(ValueError):
    """A change that breaks a rule; ``field`` names the form field to blame."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


class StaleProspect(ProspectError):
    def __init__(self):
        super().__init__(
            _l(
                "Someone else changed this prospect while you were editing. Your entries are "
                "kept: check the current record, then submit again."
            )
        )


# -- listing -------------------------------------------------------------------------------


@dataclass
class ProspectFilter:
    q: str = ""
    state: str | None = None
    street_id: int | None = None
    owner_id: int | None = None


def prospect_query(user: User, f: ProspectFilter) -> Select:
    """The prospects ``user`` may see, narrowed by ``f``, newest first, with what a list shows."""
    stmt = select(Prospect).where(prospect_scope(user))
    if q := f.q.strip():
        stmt = stmt.where(
            or_(
                Prospect.name.icontains(q, autoescape=True),
                Prospect.contact_name.icontains(q, autoescape=True),
                Prospect.source.icontains(q, autoescape=True),
            )
        )
    if f.state:
        stmt = stmt.where(Prospect.state == f.state)
    if f.street_id:
        stmt = stmt.where(Prospect.street_id == f.street_id)
    if f.owner_id:
        stmt = stmt.where(Prospect.owner_id == f.owner_id)
    return stmt.order_by(Prospect.created_at.desc(), Prospect.id.desc()).options(
        selectinload(Prospect.street),
        selectinload(Prospect.owner),
        selectinload(Prospect.firm),
    )


def case_counts(prospect_ids: list[int]) -> dict[int, int]:
    if not prospect_ids:
        return {}
    rows = db.session.execute(
        select(AssistanceCase.prospect_id, func.count())
        .where(AssistanceCase.prospect_id.in_(prospect_ids))
        .group_by(AssistanceCase.prospect_id)
    ).all()
    return dict(rows)


def prospect_cases(prospect: Prospect) -> list[AssistanceCase]:
    """Every case opened for the prospect, those since moved to its firm included."""
    return list(
        db.session.scalars(
            select(AssistanceCase)
            .where(AssistanceCase.prospect_id == prospect.id)
            .order_by(AssistanceCase.opened_on.desc(), AssistanceCase.id.desc())
            .options(
                selectinload(AssistanceCase.case_type),
                selectinload(AssistanceCase.stage),
                selectinload(AssistanceCase.owner),
            )
        )
    )


def owner_choices(user: User) -> list[User]:
    """Who may follow a prospect: office staff, and a street's centre and commissioners;
    a street's people choose within their street."""
    stmt = select(User).where(User.active.is_(True), User.role.in_(OWNER_ROLES))
    if user.role in ("street", "commissioner"):
        stmt = stmt.where(User.street_id == user.street_id, User.role != "office")
    return list(
        db.session.scalars(
            stmt.order_by(User.role, User.street_id, User.display_name, User.id).options(
                selectinload(User.street)
            )
        )
    )


# -- prospects -----------------------------------------------------------------------------


def _check_data(data: dict[str, Any], *, actor: User, prospect: Prospect | None) -> dict:
    data = {k: v for k, v in data.items() if k in PROSPECT_FIELDS}
    for key in ("name", "industry_code", "contact_name", "contact_phone", "source", "notes"):
        if key in data:
            data[key] = (data[key] or "").strip()
    if "name" in data and not data["name"]:
        raise ProspectError(_l("Enter the prospect's name."), "name")
    street_id = data.get("street_id", prospect.street_id if prospect else None)
    street = db.session.get(Street, street_id) if street_id else None
    if street is None:
        raise ProspectError(_l("Choose a street."), "street_id")
    if not can_create_firm(actor, street.id):
        raise ProspectError(_l("You may record prospects only in your own street."), "street_id")
    owner_id = data.get("owner_id", prospect.owner_id if prospect else None)
    if owner_id is not None:
        owner = db.session.get(User, owner_id)
        if (
            owner is None
            or not owner.active
            or owner.role not in OWNER_ROLES
            or (owner.role != "office" and owner.street_id != street.id)
        ):
            raise ProspectError(
                _l("The person following it must be office staff or work in its street."),
                "owner_id",
            )
    return data


def create_prospect(data: dict[str, Any], *, actor: User) -> Prospect:
    clean = _check_data(data, actor=actor, prospect=None)
    prospect = Prospect(created_by_id=actor.id, state="open", **clean)
    db.session.add(prospect)
    db.session.flush()
    record(
        "prospect.create",
        prospect,
        user=actor,
        detail={"name": prospect.name, "street_id": prospect.street_id},
    )
    return prospect


def _require_open(prospect: Prospect, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != prospect.version:
        raise StaleProspect()
    if prospect.state == "registered":
        raise ProspectError(_l("This prospect has registered already: it is a firm now."))
    if prospect.state == "dropped":
        raise ProspectError(_l("This prospect was dropped."))


def update_prospect(
    prospect: Prospect,
    data: dict[str, Any],
    *,
    actor: User,
    expected_version: int | None = None,
) -> dict:
    if expected_version is not None and expected_version != prospect.version:
        raise StaleProspect()
    clean = _check_data(data, actor=actor, prospect=prospect)
    for key, value in clean.items():
        setattr(prospect, key, value)
    diff = changes(prospect, list(clean))
    if diff:
        db.session.flush()
        record("prospect.update", prospect, user=actor, detail={"changes": diff})
    return diff


def reveal_phone(prospect: Prospect, *, actor: User, via: str = "edit_form") -> None:
    """Record that ``actor`` saw the contact's full number (the edit form shows it)."""
    record("prospect.reveal_phone", prospect, user=actor, detail={"via": via})


def drop_prospect(
    prospect: Prospect, *, actor: User, reason: str, expected_version: int | None = None
) -> None:
    """It will not come: kept with the reason; its open cases are left to their owners."""
    _require_open(prospect, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise ProspectError(_l("Say why the prospect is dropped."), "reason")
    prospect.state = "dropped"
    prospect.drop_reason = reason[:200]
    db.session.flush()
    record("prospect.drop", prospect, user=actor, detail={"reason": prospect.drop_reason})


# -- registration --------------------------------------------------------------------------


def register_prospect(
    prospect: Prospect,
    *,
    actor: User,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> tuple[Firm, bool]:
    """The prospect registered: make its firm (or link the firm already on file with that
    USCC), and move every case of the prospect to the firm. Returns (firm, linked).

    One transaction with the caller's commit; nothing changes when it raises.
    """
    _require_open(prospect, expected_version)
    code = normalise(data.get("uscc") or "")
    if error := uscc_error(code):
        raise ProspectError(firm_services.USCC_MESSAGES[error], "uscc")
    firm = db.session.scalar(select(Firm).where(Firm.uscc == code))
    linked = firm is not None
    if firm is not None:
        if not can_view_firm(actor, firm):
            # Say no more than the firm form would: the code is taken.
            raise ProspectError(firm_services.USCC_MESSAGES["taken"], "uscc")
        other = db.session.scalar(
            select(Prospect).where(Prospect.firm_id == firm.id, Prospect.id != prospect.id)
        )
        if other is not None:
            raise ProspectError(
                _l("This firm is already the registration of prospect %(name)s.", name=other.name),
                "uscc",
            )
    else:
        firm = _create_firm(prospect, data, code, actor=actor)
    prospect.state = "registered"
    prospect.firm_id = firm.id
    prospect.registered_at = utcnow()
    moved = _move_cases(prospect, firm, actor=actor)
    _assign_owner(prospect, firm, actor=actor)
    db.session.flush()  # the version check: a concurrent change raises StaleDataError here
    record(
        "prospect.register",
        prospect,
        user=actor,
        detail={
            "firm_id": firm.id,
            "uscc": firm.uscc,
            "linked_existing_firm": linked,
            "cases": [c.id for c in moved],
        },
    )
    return firm, linked


def _create_firm(prospect: Prospect, data: dict[str, Any], code: str, *, actor: User) -> Firm:
    values = {k: v for k, v in data.items() if k in REGISTRATION_FIELDS}
    values["name"] = (values.get("name") or "").strip() or prospect.name
    values["street_id"] = values.get("street_id") or prospect.street_id
    values.setdefault("industry_code", prospect.industry_code)
    if not can_create_firm(actor, values["street_id"]):
        raise ProspectError(_l("You may register firms only in your own street."), "street_id")
    try:
        firm = firm_services.create_firm({**values, "uscc": code, "status": "active"}, actor=actor)
    except firm_services.FirmError as exc:
        raise ProspectError(str(exc), exc.field) from exc
    if prospect.contact_name:
        firm_services.save_contact(
            firm,
            {
                "name": prospect.contact_name,
                "phone": prospect.contact_phone,
                "is_primary": True,
            },
            actor=actor,
        )
    return firm


def _move_cases(prospect: Prospect, firm: Firm, *, actor: User) -> list[AssistanceCase]:
    cases = list(
        db.session.scalars(
            select(AssistanceCase)
            .where(AssistanceCase.prospect_id == prospect.id)
            .order_by(AssistanceCase.id)
        )
    )
    note = REGISTERED_NOTE.format(name=firm.name, uscc=firm.uscc)
    for case in cases:
        before = {"firm_id": case.firm_id, "street_id": case.street_id}
        case.firm_id = firm.id
        case.street_id = firm.street_id  # the case follows the firm's street; prospect_id stays
        case.updated_at = utcnow()
        db.session.add(CaseEvent(case=case, action="registered", actor_id=actor.id, note=note))
        record(
            "case.registered",
            case,
            user=actor,
            detail={
                "prospect_id": prospect.id,
                "firm_id": firm.id,
                "from": before,
                "street_id": firm.street_id,
            },
        )
    return cases


def _assign_owner(prospect: Prospect, firm: Firm, *, actor: User) -> None:
    """The commissioner who followed the prospect looks after the firm, if nobody does."""
    owner = prospect.owner
    if (
        owner is None
        or owner.role != "commissioner"
        or not owner.active
        or owner.street_id != firm.street_id
        or firm.current_assignment("primary") is not None
    ):
        return
    firm_services.assign(firm, owner, "primary", actor=actor, reason=ASSIGN_REASON)
