"""Every model, imported once so mappers and Alembic see the whole schema."""

from crm.audit.models import AuditLog
from crm.auth.models import User, UserSession
from crm.demands.models import (
    Attachment,
    Demand,
    DemandCategory,
    DemandEvent,
    DemandTask,
    Escalation,
    ExtensionRequest,
    Notification,
)
from crm.firms.models import Assignment, Contact, Firm
from crm.org.models import Department, Street
from crm.workcal.models import CalendarDay

__all__ = [
    "Assignment",
    "Attachment",
    "AuditLog",
    "CalendarDay",
    "Contact",
    "Demand",
    "DemandCategory",
    "DemandEvent",
    "DemandTask",
    "Department",
    "Escalation",
    "ExtensionRequest",
    "Firm",
    "Notification",
    "Street",
    "User",
    "UserSession",
]
