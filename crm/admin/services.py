"""Managing accounts, streets and departments. Callers commit."""

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from crm.audit.services import record
from crm.auth.models import ROLES, User
from crm.auth.passwords import hash_password, policy_errors
from crm.auth.services import PasswordRejected, find_user, set_active, set_password
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow

ROLES_WITH_STREET = ("street", "commissioner")
# A talent commissioner (人才专员) is a commissioner with the "talent" specialty.
SPECIALTIES = ("talent",)
# What a user form may set; the password has its own path and never appears in a diff.
USER_FIELDS = (
    "username",
    "display_name",
    "role",
    "street",
    "department",
    "firm",
    "phone",
    "email",
    "specialty",
)


class AccountError(ValueError):
    """A user account that cannot be created or changed as asked; ``field`` says where."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.field = field


class UnitError(ValueError):
    """A street or department that cannot be saved as asked; ``field`` says where."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.field = field


# -- users: listing ----------------------------------------------------------------------


@dataclass
class UserFilter:
    q: str = ""
    role: str | None = None
    street_id: int | None = None
    department_id: int | None = None
    status: str | None = None  # "active" or "disabled"
    locked: str | None = None  # "yes" or "no"


def user_query(f: UserFilter) -> Select:
    """Users narrowed by ``f``, with what the list shows loaded in a fixed number of queries."""
    stmt = select(User)
    if q := f.q.strip():
        stmt = stmt.where(
            or_(
                User.username.icontains(q, autoescape=True),
                User.display_name.icontains(q, autoescape=True),
            )
        )
    if f.role:
        stmt = stmt.where(User.role == f.role)
    if f.street_id:
        stmt = stmt.where(User.street_id == f.street_id)
    if f.department_id:
        stmt = stmt.where(User.department_id == f.department_id)
    if f.status == "active":
        stmt = stmt.where(User.active.is_(True))
    elif f.status == "disabled":
        stmt = stmt.where(User.active.is_(False))
    now = utcnow()
    if f.locked == "yes":
        stmt = stmt.where(User.locked_until > now)
    elif f.locked == "no":
        stmt = stmt.where(or_(User.locked_until.is_(None), User.locked_until <= now))
    return stmt.order_by(User.username, User.id).options(
        selectinload(User.street), selectinload(User.department), selectinload(User.firm)
    )


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def open_assignment_count(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.commissioner_id == user.id, Assignment.ended_at.is_(None))
        )
        or 0
    )


# -- users: changes ----------------------------------------------------------------------


def _snapshot(user: User) -> dict[str, Any]:
    """The account's fields as the audit log shows them: units by name, never a secret."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "street": user.street.name if user.street else None,
        "department": user.department.name if user.department else None,
        "firm": user.firm.uscc if user.firm else None,
        "phone": user.phone,
        "email": user.email,
        "specialty": user.specialty,
    }


def _check_unit(
    role: str,
    street: Street | None,
    department: Department | None,
    firm: Firm | None,
    specialty: str,
) -> None:
    if role not in ROLES:
        raise AccountError(_l("Unknown role %(role)s.", role=role), "role")
    if role in ROLES_WITH_STREET and street is None:
        raise AccountError(_l("A street or commissioner account needs a street."), "street")
    if role == "department" and department is None:
        raise AccountError(_l("A department account needs a department."), "department")
    if role == "firm" and firm is None:
        raise AccountError(_l("A firm account needs the firm's USCC."), "firm")
    if specialty and role != "commissioner":
        raise AccountError(_l("Only a commissioner has a specialty."), "specialty")
    if specialty and specialty not in SPECIALTIES:
        raise AccountError(_l("Unknown specialty %(s)s.", s=specialty), "specialty")


def _find_firm(uscc: str) -> Firm:
    firm = db.session.scalar(select(Firm).where(Firm.uscc == uscc.strip().upper()))
    if firm is None:
        raise AccountError(_l("No firm has the USCC %(uscc)s.", uscc=uscc.strip()), "firm")
    return firm


def create_user(
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    street_name: str | None = None,
    department_name: str | None = None,
    firm_uscc: str | None = None,
    street: Street | None = None,
    department: Department | None = None,
    firm: Firm | None = None,
    phone: str = "",
    email: str = "",
    specialty: str = "",
    actor: User | None,
    check_policy: bool = True,
) -> User:
    username = username.strip()
    if role not in ROLES:
        raise AccountError(_l("Unknown role %(role)s.", role=role), "role")
    if find_user(username) is not None:
        raise AccountError(_l("The user name %(name)s is taken.", name=username), "username")
    if check_policy and (errors := policy_errors(password, username=username)):
        raise AccountError(" ".join(str(e) for e in errors), "password")
    if street is None and street_name:
        street = db.session.scalar(select(Street).where(Street.name == street_name))
        if street is None:
            raise AccountError(_l("No street is named %(name)s.", name=street_name), "street")
    if department is None and department_name:
        department = db.session.scalar(select(Department).where(Department.name == department_name))
        if department is None:
            raise AccountError(
                _l("No department is named %(name)s.", name=department_name), "department"
            )
    if firm is None and firm_uscc and role == "firm":
        firm = _find_firm(firm_uscc)
    _check_unit(role, street, department, firm, specialty)
    if role in ROLES_WITH_STREET and not street.active:
        raise AccountError(_l("The street %(name)s is deactivated.", name=street.name), "street")
    if role == "department" and not department.active:
        raise AccountError(
            _l("The department %(name)s is deactivated.", name=department.name), "department"
        )
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        password_hash=hash_password(password),
        street=street if role in ROLES_WITH_STREET else None,
        department=department if role == "department" else None,
        firm=firm if role == "firm" else None,
        phone=phone.strip(),
        email=email.strip(),
        specialty=specialty if role == "commissioner" else "",
    )
    db.session.add(user)
    db.session.flush()
    detail = {k: v for k, v in _snapshot(user).items() if v not in (None, "")}
    record("user.create", user, user=actor, detail=detail)
    return user


def update_user(user: User, data: dict[str, Any], *, actor: User) -> dict[str, list]:
    """Apply the form's ``data`` (units as objects, the firm as a USCC); audit the changes."""
    data = {k: v for k, v in data.items() if k in (*USER_FIELDS, "firm_uscc")}
    role = data.get("role", user.role)
    username = (data.get("username") or user.username).strip()
    if username.lower() != user.username.lower() and find_user(username) is not None:
        raise AccountError(_l("The user name %(name)s is taken.", name=username), "username")
    if actor.id == user.id and user.role == "admin" and role != "admin":
        raise AccountError(_l("You cannot take away your own administrator role."), "role")
    street = data.get("street", user.street)
    department = data.get("department", user.department)
    firm = user.firm
    if role == "firm" and "firm_uscc" in data:
        firm = _find_firm(data["firm_uscc"]) if (data["firm_uscc"] or "").strip() else None
    specialty = data.get("specialty", user.specialty) or ""
    _check_unit(role, street, department, firm, specialty)
    street = street if role in ROLES_WITH_STREET else None
    department = department if role == "department" else None
    firm = firm if role == "firm" else None
    if street is not None and street != user.street and not street.active:
        raise AccountError(_l("The street %(name)s is deactivated.", name=street.name), "street")
    if department is not None and department != user.department and not department.active:
        raise AccountError(
            _l("The department %(name)s is deactivated.", name=department.name), "department"
        )
    moves_away = user.role == "commissioner" and (role != "commissioner" or street != user.street)
    if moves_away and (n := open_assignment_count(user)):
        raise AccountError(
            _l(
                "This commissioner still looks after %(n)s firms: hand them over first "
                "(Firms › Reassign), then change the role or street.",
                n=n,
            ),
            "role" if role != "commissioner" else "street",
        )
    before = _snapshot(user)
    user.username = username
    user.display_name = (data.get("display_name", user.display_name) or "").strip() or username
    user.role = role
    user.street = street
    user.department = department
    user.firm = firm
    user.phone = (data.get("phone", user.phone) or "").strip()
    user.email = (data.get("email", user.email) or "").strip()
    user.specialty = specialty if role == "commissioner" else ""
    after = _snapshot(user)
    diff = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if diff:
        db.session.flush()
        record("user.update", user, user=actor, detail={"changes": diff})
    return diff


def set_user_active(user: User, active: bool, *, actor: User) -> None:
    """Disable (ending every session of the user) or enable an account."""
    if not active and actor.id == user.id:
        raise AccountError(_l("You cannot disable your own account."), "active")
    set_active(user, active, actor=actor)


def reset_password(user: User, password: str, *, actor: User) -> None:
    """An administrator sets a new password: the policy applies, the user's sessions end."""
    if actor.id == user.id:
        raise AccountError(
            _l("Change your own password under Change password, with your current one."),
            "password",
        )
    try:
        set_password(user, password, actor=actor)
    except PasswordRejected as exc:
        raise AccountError(" ".join(str(e) for e in exc.errors), "password") from exc


def unlock_user(user: User, *, actor: User) -> bool:
    """Clear the lockout and the failure count. False when there was nothing to clear."""
    if user.locked_until is None and not user.failed_logins:
        return False
    detail = {
        "locked_until": [user.locked_until.isoformat() if user.locked_until else None, None],
        "failed_logins": [user.failed_logins, 0],
    }
    user.locked_until = None
    user.failed_logins = 0
    record("user.unlock", user, user=actor, detail=detail)
    return True


# -- streets and departments -------------------------------------------------------------

STREET_FIELDS = ("name", "code", "service_centre_address", "service_centre_phone")
DEPARTMENT_FIELDS = ("name", "code", "phone")
_UNITS = {Street: ("street", STREET_FIELDS), Department: ("department", DEPARTMENT_FIELDS)}


def _clean_unit_data(model: type, data: dict[str, Any], *, unit_id: int | None) -> dict:
    fields = _UNITS[model][1]
    data = {k: (data.get(k) or "").strip() for k in fields if k in data}
    if "code" in data:
        data["code"] = data["code"].upper()
    for name, message in (
        ("name", _l("Another entry already has this name.")),
        ("code", _l("Another entry already has this code.")),
    ):
        if name not in data:
            continue
        column = getattr(model, name)
        clash = db.session.scalar(
            select(model.id).where(
                func.lower(column) == data[name].lower(), model.id != (unit_id or 0)
            )
        )
        if clash:
            raise UnitError(message, name)
    return data


def create_unit(model: type, data: dict[str, Any], *, actor: User) -> Street | Department:
    """Create a street or a department from the form's ``data``."""
    kind, _fields = _UNITS[model]
    data = _clean_unit_data(model, data, unit_id=None)
    unit = model(**data)
    db.session.add(unit)
    db.session.flush()
    record(f"{kind}.create", unit, user=actor, detail=data)
    return unit


def update_unit(unit: Street | Department, data: dict[str, Any], *, actor: User) -> dict:
    kind, _fields = _UNITS[type(unit)]
    data = _clean_unit_data(type(unit), data, unit_id=unit.id)
    diff = {k: [getattr(unit, k), v] for k, v in data.items() if getattr(unit, k) != v}
    for key, (_old, new) in diff.items():
        setattr(unit, key, new)
    if diff:
        record(f"{kind}.update", unit, user=actor, detail={"changes": diff})
    return diff


def unit_usage(model: type, ids: list[int]) -> dict[int, dict[str, int]]:
    """For each street or department id: how many users (and, for streets, firms) use it."""
    usage = {i: {"users": 0, "firms": 0} for i in ids}
    if not ids:
        return usage
    column = User.street_id if model is Street else User.department_id
    for unit_id, n in db.session.execute(
        select(column, func.count()).where(column.in_(ids)).group_by(column)
    ):
        usage[unit_id]["users"] = n
    if model is Street:
        for unit_id, n in db.session.execute(
            select(Firm.street_id, func.count())
            .where(Firm.street_id.in_(ids))
            .group_by(Firm.street_id)
        ):
            usage[unit_id]["firms"] = n
    return usage


def set_unit_active(unit: Street | Department, active: bool, *, actor: User) -> bool:
    """Deactivate or reactivate; never delete, since users and firms may still refer to it."""
    if unit.active == active:
        return False
    kind, _fields = _UNITS[type(unit)]
    unit.active = active
    record(
        f"{kind}.{'reactivate' if active else 'deactivate'}",
        unit,
        user=actor,
        detail={"active": [not active, active], **unit_usage(type(unit), [unit.id])[unit.id]},
    )
    return True
