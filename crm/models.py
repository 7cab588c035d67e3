"""Every model, imported once so mappers and Alembic see the whole schema."""

from crm.api.models import ApiToken
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
from crm.portal.models import Invitation, ProfileChange, ServiceRequest, SignupRequest
from crm.workcal.models import CalendarDay

__all__ = [
    "ApiToken",
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
    "Invitation",
    "Notification",
    "ProfileChange",
    "ServiceRequest",
    "SignupRequest",
    "Street",
    "User",
    "UserSession",
]
