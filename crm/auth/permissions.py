"""Who may do what: the one place pages, the API and templates ask.

Every view carries the roles it admits (``roles_required``) or says it is public; the
permission matrix test refuses any route that does neither. Object checks answer for one
record (``can_view_firm``), scopes answer for a list (``firm_scope``).
"""

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user
from sqlalchemy import ColumnElement, false, true

from crm.auth.models import ROLES, User
from crm.extensions import login_manager

ADMIN, OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER, FIRM = ROLES
STAFF = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER)
ALL_ROLES = frozenset(ROLES)
PUBLIC = "public"

# Roles that work with firms' contact people and may see their full phone numbers.
_FULL_PHONE_ROLES = (OFFICE, STREET, COMMISSIONER)


def roles_required(*roles: str) -> Callable:
    """Admit logged-in users of ``roles``; send others to login (anonymous) or 403."""
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                deny()
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(roles)
        return wrapped

    return decorator


def login_required(view: Callable) -> Callable:
    """Any logged-in user, whatever the role."""
    return roles_required(*ROLES)(view)


def public(view: Callable) -> Callable:
    view.allowed_roles = PUBLIC
    return view


def deny(reason: str = "forbidden"):
    """Record the refusal in the audit log and answer 403."""
    from crm.audit.services import record_denied

    record_denied(request.path, reason)
    abort(403)


def allowed(endpoint: str) -> bool:
    """May the current user open ``endpoint``? Used to build each role's navigation."""
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "allowed_roles", None)
    if roles == PUBLIC:
        return True
    return bool(roles) and current_user.is_authenticated and current_user.role in roles


# -- firms -----------------------------------------------------------------------------


def firm_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``Firm`` that keeps only the firms ``user`` may see."""
    from crm.firms.models import Firm

    if user.role == OFFICE:
        return true()
    if user.role in (STREET, COMMISSIONER):
        return Firm.street_id == user.street_id
    if user.role == LEADER:
        return Firm.leader_id == user.id
    if user.role == FIRM:
        return Firm.id == user.firm_id
    if user.role == DEPARTMENT:
        return Firm.id.in_(_department_firm_ids(user))
    return false()


def _department_firm_ids(user: User):
    """The firms with a demand dispatched to ``user``'s department: it sees their profile."""
    from sqlalchemy import select

    from crm.demands.models import Demand, DemandTask

    return (
        select(Demand.firm_id)
        .join(DemandTask, DemandTask.demand_id == Demand.id)
        .where(DemandTask.department_id == user.department_id)
    )


def can_view_firm(user: User, firm) -> bool:
    if user.role == OFFICE:
        return True
    if user.role in (STREET, COMMISSIONER):
        return firm.street_id == user.street_id
    if user.role == LEADER:
        return firm.leader_id == user.id
    if user.role == FIRM:
        return firm.id == user.firm_id
    if user.role == DEPARTMENT:
        from crm.demands.models import Demand
        from crm.extensions import db

        stmt = _department_firm_ids(user).where(Demand.firm_id == firm.id).limit(1)
        return db.session.scalar(stmt) is not None
    return False


def can_create_firm(user: User, street_id: int | None = None) -> bool:
    if user.role == OFFICE:
        return True
    if user.role in (STREET, COMMISSIONER):
        return street_id is None or street_id == user.street_id
    return False


def can_edit_firm(user: User, firm) -> bool:
    """Office anywhere, a street in its street, a commissioner for the firms it looks after."""
    if user.role == OFFICE:
        return True
    if user.role == STREET:
        return firm.street_id == user.street_id
    if user.role == COMMISSIONER:
        return firm.street_id == user.street_id and any(
            a.commissioner_id == user.id and a.ended_at is None for a in firm.assignments
        )
    return False


def can_assign(user: User, firm) -> bool:
    return user.role == OFFICE or (user.role == STREET and firm.street_id == user.street_id)


def can_see_full_phone(user: User, firm) -> bool:
    if user.role == FIRM:
        return firm.id == user.firm_id  # its own people
    return user.role in _FULL_PHONE_ROLES and can_view_firm(user, firm)


def mask_phone(phone: str) -> str:
    """138****5678: enough to tell numbers apart, not enough to call."""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 11 else 2
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


# -- demands ---------------------------------------------------------------------------


def demand_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``Demand`` that keeps only the demands ``user`` may see."""
    from sqlalchemy import or_, select

    from crm.demands.models import Demand, DemandTask
    from crm.firms.models import Firm

    if user.role == OFFICE:
        return true()
    if user.role == STREET:
        return or_(
            Demand.street_id == user.street_id,
            Demand.id.in_(
                select(DemandTask.demand_id).where(DemandTask.street_id == user.street_id)
            ),
        )
    if user.role == COMMISSIONER:
        return Demand.street_id == user.street_id
    if user.role == DEPARTMENT:
        return Demand.id.in_(
            select(DemandTask.demand_id).where(DemandTask.department_id == user.department_id)
        )
    if user.role == LEADER:
        return Demand.firm_id.in_(select(Firm.id).where(Firm.leader_id == user.id))
    if user.role == FIRM:
        return Demand.firm_id == user.firm_id
    return false()


def can_view_demand(user: User, demand) -> bool:
    if user.role == OFFICE:
        return True
    if user.role == STREET:
        return demand.street_id == user.street_id or any(
            t.street_id == user.street_id for t in demand.tasks
        )
    if user.role == COMMISSIONER:
        return demand.street_id == user.street_id
    if user.role == DEPARTMENT:
        return any(t.department_id == user.department_id for t in demand.tasks)
    if user.role == LEADER:
        return demand.firm.leader_id == user.id
    if user.role == FIRM:
        return demand.firm_id == user.firm_id
    return False


def is_task_member(user: User, task) -> bool:
    """Does ``user`` work in the unit ``task`` was dispatched to?

    A street's level-1 demands (小事网格办) are handled by its commissioners as well as its
    service centre.
    """
    if task.department_id is not None:
        return user.role == DEPARTMENT and user.department_id == task.department_id
    if user.street_id != task.street_id:
        return False
    return user.role == STREET or (user.role == COMMISSIONER and task.demand.level == 1)


def can_dispatch(user: User, demand) -> bool:
    return user.role == OFFICE or (user.role == STREET and demand.street_id == user.street_id)


# -- assistance cases --------------------------------------------------------------------


def case_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``AssistanceCase`` keeping the cases ``user`` may see.

    Street and commissioner: their street's cases; department: the cases it is involved
    in; leader: the cases of its linked firms.
    """
    from sqlalchemy import select

    from crm.assistance.models import AssistanceCase, case_departments
    from crm.firms.models import Firm

    if user.role == OFFICE:
        return true()
    if user.role in (STREET, COMMISSIONER):
        return AssistanceCase.street_id == user.street_id
    if user.role == DEPARTMENT:
        return AssistanceCase.id.in_(
            select(case_departments.c.case_id).where(
                case_departments.c.department_id == user.department_id
            )
        )
    if user.role == LEADER:
        return AssistanceCase.firm_id.in_(select(Firm.id).where(Firm.leader_id == user.id))
    return false()


def can_view_case(user: User, case) -> bool:
    if user.role == OFFICE:
        return True
    if user.role in (STREET, COMMISSIONER):
        return case.street_id == user.street_id
    if user.role == DEPARTMENT:
        return any(d.id == user.department_id for d in case.departments)
    if user.role == LEADER:
        return case.firm is not None and case.firm.leader_id == user.id
    return False


def can_edit_case(user: User, case) -> bool:
    """Office any case; a street or its commissioners the cases in their street."""
    if user.role == OFFICE:
        return True
    return user.role in (STREET, COMMISSIONER) and case.street_id == user.street_id


def can_note_case(user: User, case) -> bool:
    """Whoever may edit the case, and a department involved in it."""
    if can_edit_case(user, case):
        return True
    return user.role == DEPARTMENT and any(d.id == user.department_id for d in case.departments)


def can_open_case_in(user: User, street_id: int) -> bool:
    """May ``user`` open a case for a firm or prospect of ``street_id``?"""
    if user.role == OFFICE:
        return True
    return user.role in (STREET, COMMISSIONER) and street_id == user.street_id


# -- visits ----------------------------------------------------------------------------
# Visits (走访) and the visit cadence. Office: everything. A street's centre and its
# commissioners: the visits of firms in their street (a commissioner may log a visit to any
# firm of its street, and edit the ones it made). Leader: visits to its linked firms, read
# only. Department: the visits it took part in. Firm users: none (visit notes are internal).

VISIT_VIEWERS = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER)
VISIT_LOGGERS = (OFFICE, STREET, COMMISSIONER)


def visit_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``Visit`` that keeps only the visits ``user`` may see."""
    from sqlalchemy import select

    from crm.firms.models import Firm
    from crm.visits.models import Visit, VisitParticipant

    if user.role == OFFICE:
        return true()
    if user.role in (STREET, COMMISSIONER) and user.street_id is not None:
        return Visit.street_id == user.street_id
    if user.role == LEADER:
        return Visit.firm_id.in_(select(Firm.id).where(Firm.leader_id == user.id))
    if user.role == DEPARTMENT and user.department_id is not None:
        return Visit.id.in_(
            select(VisitParticipant.visit_id).where(
                VisitParticipant.department_id == user.department_id
            )
        )
    return false()


def can_view_visit(user: User, visit) -> bool:
    if user.role == OFFICE:
        return True
    if user.role in (STREET, COMMISSIONER):
        return user.street_id is not None and visit.street_id == user.street_id
    if user.role == LEADER:
        return visit.firm.leader_id == user.id
    if user.role == DEPARTMENT:
        return user.department_id is not None and any(
            p.department_id == user.department_id for p in visit.participants
        )
    return False


def can_log_visit(user: User, firm) -> bool:
    """Office for any firm; a street's centre and commissioners for any firm of the street."""
    if user.role == OFFICE:
        return True
    return user.role in (STREET, COMMISSIONER) and firm.street_id == user.street_id


def can_edit_visit(user: User, visit) -> bool:
    """Office, the visit's street, or the commissioner who made or recorded it (in its street)."""
    if user.role == OFFICE:
        return True
    if user.street_id is None or visit.street_id != user.street_id:
        return False
    if user.role == STREET:
        return True
    return user.role == COMMISSIONER and user.id in (visit.commissioner_id, visit.created_by_id)


def can_edit_cadence(user: User) -> bool:
    return user.role == OFFICE


# -- prospects, case types and pipeline figures ----------------------------------------


def prospect_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``Prospect``: the office sees all, a street's people their own."""
    from crm.assistance.models import Prospect

    if user.role == OFFICE:
        return true()
    if user.role in (STREET, COMMISSIONER) and user.street_id is not None:
        return Prospect.street_id == user.street_id
    return false()


def can_view_prospect(user: User, prospect) -> bool:
    if user.role == OFFICE:
        return True
    return (
        user.role in (STREET, COMMISSIONER)
        and user.street_id is not None
        and prospect.street_id == user.street_id
    )


def can_edit_prospect(user: User, prospect) -> bool:
    """The office, and the street's centre and commissioners in the prospect's street."""
    return can_view_prospect(user, prospect)


def pipeline_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``AssistanceCase`` for the pipeline figures: the cases page's
    scope (office all, a street's people their street, a leader its linked firms), but not
    a department's, which sees single cases it is involved in and no figures."""
    if user.role in (OFFICE, STREET, COMMISSIONER, LEADER):
        return case_scope(user)
    return false()
