"""Every model, imported once so mappers and Alembic see the whole schema."""

from crm.api.models import ApiToken
from crm.assistance.models import (
    AssistanceCase,
    CaseChecklistItem,
    CaseEvent,
    CaseNote,
    CaseStage,
    CaseType,
    ChecklistTemplateItem,
    FinancingReferral,
    Prospect,
)
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
from crm.policies.models import (
    BulkIssuance,
    PackageDocument,
    Policy,
    PolicyAttachment,
    PolicyCriterion,
    ServicePackage,
)
from crm.portal.models import Invitation, ProfileChange, ServiceRequest, SignupRequest
from crm.stats.models import Bulletin
from crm.visits.models import Visit, VisitCadence, VisitParticipant
from crm.workcal.models import CalendarDay

__all__ = [
    "ApiToken",
    "Assignment",
    "AssistanceCase",
    "Attachment",
    "AuditLog",
    "BulkIssuance",
    "Bulletin",
    "CalendarDay",
    "CaseChecklistItem",
    "CaseEvent",
    "CaseNote",
    "CaseStage",
    "CaseType",
    "ChecklistTemplateItem",
    "Contact",
    "Demand",
    "DemandCategory",
    "DemandEvent",
    "DemandTask",
    "Department",
    "Escalation",
    "ExtensionRequest",
    "FinancingReferral",
    "Firm",
    "Invitation",
    "Notification",
    "PackageDocument",
    "Policy",
    "PolicyAttachment",
    "PolicyCriterion",
    "ProfileChange",
    "Prospect",
    "ServicePackage",
    "ServiceRequest",
    "SignupRequest",
    "Street",
    "User",
    "UserSession",
    "Visit",
    "VisitCadence",
    "VisitParticipant",
]
