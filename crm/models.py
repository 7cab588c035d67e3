"""Every model, imported once so mappers and Alembic see the whole schema."""

from crm.audit.models import AuditLog
from crm.auth.models import User, UserSession
from crm.firms.models import Assignment, Contact, Firm
from crm.org.models import Department, Street

__all__ = [
    "Assignment",
    "AuditLog",
    "Contact",
    "Department",
    "Firm",
    "Street",
    "User",
    "UserSession",
]
