"""Firms, and what a firm asks for outside the demand loop: profile changes and service
requests (``crm.portal``)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from crm.api.schemas import Answer, Id, PageInfo, PageQuery, Ref, Request, Text, UtcTime, Version
from crm.firms.models import REVENUE_BANDS, SIZES, STATUSES, TIERS
from crm.portal.models import REVIEW_STATES, SERVICE_KINDS, SERVICE_STATES, SLOTS

_SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(value: datetime) -> datetime:
    # An appointment is agreed in local time and stored as such.
    return value.replace(tzinfo=_SHANGHAI) if value.tzinfo is None else value


LocalTime = Annotated[datetime, AfterValidator(_local)]


# -- firms ----------------------------------------------------------------------------------


class FirmQuery(PageQuery):
    q: Text(100, 0) = Field("", description="Part of the name or the USCC.")
    street_id: Id | None = None
    tier: Literal[(*TIERS, "none")] | None = None


class FirmSummary(Answer):
    id: int
    name: str
    uscc: str
    street: Ref
    tier: Literal[TIERS] | None
    status: Literal[STATUSES]
    industry_code: str
    size: str | None


class FirmPage(PageInfo):
    items: list[FirmSummary]


class StreetOut(Answer):
    id: int
    name: str
    service_centre_address: str
    service_centre_phone: str


class CommissionerOut(Answer):
    role: Literal["primary", "backup"]
    name: str
    phone: str
    email: str
    specialty: str


class ContactOut(Answer):
    id: int
    name: str
    title: str
    phone: str = Field(description="Masked (138****5678) unless the caller may see it whole.")
    phone_masked: bool
    email: str
    is_primary: bool


class FirmOut(FirmSummary):
    street: StreetOut
    legal_representative: str
    address: str
    registered_capital: str | None = Field(description="In 10,000 yuan, as a decimal string.")
    employees: int | None
    revenue_band: str | None
    established_on: date | None
    high_tech: bool
    foreign_invested: bool
    tags: list[str]
    commissioners: list[CommissionerOut]
    contacts: list[ContactOut]
    version: int


# -- profile changes ------------------------------------------------------------------------


class ProfileValues(Request):
    """The profile fields a firm may propose to change (``crm.portal.services.PROPOSABLE``)."""

    name: Text(128) | None = None
    legal_representative: Text(64, 0) | None = None
    address: Text(200, 0) | None = None
    industry_code: Text(5, 0) | None = None
    size: Literal[SIZES] | None = None
    registered_capital: Decimal | None = Field(None, ge=0, le=Decimal("1e11"))
    employees: int | None = Field(None, ge=0, le=10**7)
    revenue_band: Literal[REVENUE_BANDS] | None = None
    established_on: date | None = None
    high_tech: bool | None = None
    foreign_invested: bool | None = None


class ChangeCreate(Request):
    changes: ProfileValues
    note: Text(1000, 0) = ""


class ChangeOut(Answer):
    id: int
    state: Literal[REVIEW_STATES]
    changes: dict[str, dict[str, Any]] = Field(description='Field → {"from": …, "to": …}.')
    note: str
    created_at: UtcTime
    reviewed_at: UtcTime | None
    review_note: str


class ChangePage(PageInfo):
    items: list[ChangeOut]


# -- service requests ------------------------------------------------------------------------


class ServiceQuery(PageQuery):
    state: Literal[SERVICE_STATES] | None = None


class ServiceCreate(Request):
    kind: Literal[SERVICE_KINDS] = Field(
        description="appointment 预约, onsite 上门 or errand 跑腿代办."
    )
    details: Text(2000)
    preferred_date: date | None = None
    preferred_slot: Literal[SLOTS] | None = None
    address: Text(200, 0) = Field("", description="For an on-site visit; default the firm's.")
    contact_phone: Text(32, 0) = ""


class ServiceCancel(Request):
    reason: Text(500)
    version: Version | None = None


class ServiceOut(Answer):
    id: int
    firm: Ref
    kind: Literal[SERVICE_KINDS]
    state: Literal[SERVICE_STATES]
    details: str
    preferred_date: date | None
    preferred_slot: str
    address: str
    contact_phone: str
    commissioner: Ref | None
    scheduled_for: LocalTime | None = Field(description="Agreed time, Asia/Shanghai.")
    schedule_note: str
    outcome: str
    cancel_reason: str
    created_at: UtcTime
    closed_at: UtcTime | None
    version: int


class ServicePage(PageInfo):
    items: list[ServiceOut]
