"""Managing accounts, streets and departments. Callers commit."""

from sqlalchemy import select

from crm.audit.services import record
from crm.auth.models import ROLES, User
from crm.auth.passwords import hash_password, policy_errors
from crm.auth.services import find_user
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street


class AccountError(ValueError):
    """A user account that cannot be created or changed as asked; ``field`` says where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _unit_for_role(role, street, department, firm) -> None:
    if role in ("street", "commissioner") and street is None:
        raise AccountError("a street or commissioner account needs a street", "street")
    if role == "department" and department is None:
        raise AccountError("a department account needs a department", "department")
    if role == "firm" and firm is None:
        raise AccountError("a firm account needs a firm", "firm")


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
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}", "role")
    if find_user(username) is not None:
        raise AccountError(f"user name {username!r} is taken", "username")
    if check_policy and (errors := policy_errors(password, username=username)):
        raise AccountError(" ".join(str(e) for e in errors), "password")
    if street is None and street_name:
        street = db.session.scalar(select(Street).where(Street.name == street_name))
        if street is None:
            raise AccountError(f"no street named {street_name!r}", "street")
    if department is None and department_name:
        department = db.session.scalar(select(Department).where(Department.name == department_name))
        if department is None:
            raise AccountError(f"no department named {department_name!r}", "department")
    if firm is None and firm_uscc:
        firm = db.session.scalar(select(Firm).where(Firm.uscc == firm_uscc.strip().upper()))
        if firm is None:
            raise AccountError(f"no firm with USCC {firm_uscc!r}", "firm")
    _unit_for_role(role, street, department, firm)
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        street=street if role in ("street", "commissioner") else None,
        department=department if role == "department" else None,
        firm_id=firm.id if role == "firm" and firm else None,
        phone=phone,
        email=email,
        specialty=specialty,
    )
    db.session.add(user)
    db.session.flush()
    record("user.create", user, user=actor, detail={"username": username, "role": role})
    return user
