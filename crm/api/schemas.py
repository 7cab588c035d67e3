"""What the API accepts and answers, as pydantic models: the same classes validate the
requests and make the OpenAPI description (``crm.api.openapi``), so the two cannot drift.

Request models forbid unknown fields, so a misspelt field is an error, not a silent no-op.
Times are UTC with an offset; dates are the office's (Asia/Shanghai) working days.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from crm.demands.models import RATINGS, STAFF_CHANNELS, URGENCIES
from crm.demands.states import STATES

MAX_ID = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL): nothing lies beyond
MAX_PAGE = 100_000


def _utc(value: datetime) -> datetime:
    # Stored naive in UTC (crm.timeutil): say so, so clients never guess the zone.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
UtcTime = Annotated[datetime, AfterValidator(_utc)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


def Text(max_length: int, min_length: int = 1):
    """A string of at most ``max_length`` characters, surrounding blanks removed."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)
    ]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    pass


# -- errors and lists ----------------------------------------------------------------------


class ErrorDetail(Answer):
    code: str = Field(description="A stable word to branch on: not_found, invalid, state …")
    message: str = Field(description="For a person, in the request's language.")
    fields: dict[str, str] = Field(description="Field name → what is wrong with it.")


class Error(Answer):
    error: ErrorDetail


class PageQuery(Request):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(25, ge=1, le=100)


class PageInfo(Answer):
    page: int
    per_page: int
    total: int = Field(description="How many items match, on all pages.")


# -- tokens -------------------------------------------------------------------------------


class TokenRequest(Request):
    username: Text(64)
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    label: Text(64, 0) = Field("", description="What the token is for, e.g. the device.")


class UserOut(Answer):
    id: int
    username: str
    display_name: str
    role: str
    firm_id: int | None
    street_id: int | None
    department_id: int | None


class TokenOut(Answer):
    token: str = Field(description="Send as Authorization: Bearer <token>. Shown once.")
    token_type: Literal["Bearer"]
    expires_at: UtcTime
    user: UserOut


# -- demands ------------------------------------------------------------------------------


class DemandQuery(PageQuery):
    state: Literal[STATES] | None = None
    firm_id: Id | None = None
    open: bool | None = Field(None, description="true: only demands not yet finished.")


class DemandCreate(Request):
    firm_id: Id | None = Field(
        None, description="Staff: required. A firm's user: its own firm, or left out."
    )
    category: Text(16) = Field(description="A category code, e.g. OTHER.")
    title: Text(120)
    description: Text(5000)
    urgency: Literal[URGENCIES] = "normal"
    channel: Literal[STAFF_CHANNELS] | None = Field(
        None, description="Staff only, and required for them; a firm's demands come by API."
    )


class Ref(Answer):
    id: int
    name: str


class CategoryRef(Answer):
    code: str
    name: str


class UnitOut(Answer):
    department_id: int | None
    street_id: int | None
    name: str


class ExtensionOut(Answer):
    id: int
    days: int
    reason: str
    state: str
    requested_at: UtcTime
    decided_at: UtcTime | None
    decision_note: str
    new_due_on: date | None


class TaskOut(Answer):
    id: int
    role: Literal["lead", "co"]
    unit: UnitOut
    state: str
    due_on: date
    dispatched_at: UtcTime
    accepted_at: UtcTime | None
    resolved_at: UtcTime | None
    return_reason: str
    resolution: str
    extensions: list[ExtensionOut]
    actions: list[str] = Field(description="Task actions the caller may take now.")


class AttachmentOut(Answer):
    id: int
    filename: str
    content_type: str
    size: int
    uploaded_at: UtcTime
    internal: bool


class DemandListItem(Answer):
    id: int
    number: str
    state: Literal[STATES]
    firm: Ref
    category: CategoryRef
    title: str
    urgency: str
    channel: str
    level: int | None
    submitted_at: UtcTime
    accept_due_on: date
    due_on: date | None
    version: int


class DemandOut(DemandListItem):
    description: str
    accepted_at: UtcTime | None
    dispatched_at: UtcTime | None
    paused_at: UtcTime | None
    pause_reason: str
    resolved_at: UtcTime | None
    reply: str = Field(description="The resolution's reply to the firm.")
    rating: Literal[RATINGS] | None
    rated_at: UtcTime | None
    closed_at: UtcTime | None
    closed_without_rating: bool
    reject_reason: str
    merged_into: str | None = Field(description="The number of the demand it repeats.")
    withdrawn_at: UtcTime | None
    owner: Ref | None = Field(description="Staff only: who owns it (首问负责).")
    tasks: list[TaskOut] | None = Field(description="Staff only; null for a firm's user.")
    attachments: list[AttachmentOut]
    actions: list[str] = Field(description="Demand actions the caller may take now.")


class DemandPage(PageInfo):
    items: list[DemandListItem]


class EventOut(Answer):
    id: int
    at: UtcTime
    kind: str
    actor: str | None = Field(description="Who acted; null for the system.")
    from_state: str | None
    to_state: str | None
    message: str
    task_id: int | None
    internal: bool
    data: dict[str, Any]


class EventPage(PageInfo):
    items: list[EventOut]


class AttachmentList(Answer):
    items: list[AttachmentOut]


# Multipart bodies are not JSON: their schema is written out (see crm.api.openapi).
ATTACHMENT_UPLOAD = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "internal": {"type": "boolean", "description": "Staff only: not shown to the firm."},
    },
    "required": ["files"],
}
