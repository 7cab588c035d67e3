"""The actions on a demand (``POST /demands/{id}/actions``): one body per action, told
apart by ``action``. The names are the state machine's (``crm.demands.states.ACTIONS``);
the fields are the page forms' (``crm.demands.forms``)."""

from typing import Annotated, Literal

from pydantic import Field, RootModel

from crm.api.schemas import Id, Request, Text, Version
from crm.demands.models import RATINGS
from crm.demands.services import MAX_EXTENSION_DAYS


class _Action(Request):
    version: Version | None = Field(
        None, description="The demand's version as last read: a stale one is refused (409)."
    )


class _TaskAction(_Action):
    task_id: Id = Field(description="One of this demand's tasks.")


class DepartmentUnit(Request):
    department_id: Id


class StreetUnit(Request):
    street_id: Id


Unit = DepartmentUnit | StreetUnit


class Accept(_Action):
    action: Literal["accept"]
    note: Text(500, 0) = ""


class Reject(_Action):
    action: Literal["reject"]
    reason: Text(200)


class Merge(_Action):
    action: Literal["merge"]
    into: Text(20) = Field(description="The number of the demand it repeats, same firm.")
    reason: Text(200, 0) = ""


class Withdraw(_Action):
    action: Literal["withdraw"]
    reason: Text(200, 0) = ""


class Dispatch(_Action):
    action: Literal["dispatch"]
    level: Literal[1, 2, 3]
    lead: Unit
    co_units: list[Unit] = Field([], max_length=20, description="Level 3 only.")
    note: Text(500, 0) = ""


class AcceptTask(_TaskAction):
    action: Literal["accept_task"]


class ReturnTask(_TaskAction):
    action: Literal["return_task"]
    reason: Text(200)


class Progress(_TaskAction):
    action: Literal["progress"]
    message: Text(2000)
    internal: bool = False


class RequestExtension(_TaskAction):
    action: Literal["request_extension"]
    days: int = Field(ge=1, le=MAX_EXTENSION_DAYS, description="Extra working days.")
    reason: Text(200)


class ResolveTask(_TaskAction):
    action: Literal["resolve_task"]
    resolution: Text(5000) = Field(description="The reply to the firm.")


class DecideExtension(_Action):
    action: Literal["decide_extension"]
    request_id: Id = Field(description="An extension request of one of this demand's tasks.")
    approve: bool
    note: Text(200, 0) = ""


class Pause(_Action):
    action: Literal["pause"]
    reason: Text(200) = Field(description="What the firm must provide.")


class Resume(_Action):
    action: Literal["resume"]


class Rate(_Action):
    action: Literal["rate"]
    rating: Literal[RATINGS]
    comment: Text(1000, 0) = ""


class FollowUp(_Action):
    action: Literal["follow_up"]
    message: Text(2000)
    rating: Literal[RATINGS] | None = None


class Note(_Action):
    action: Literal["note"]
    message: Text(2000)
    internal: bool = True


class Message(_Action):
    action: Literal["message"]
    message: Text(2000)


ACTION_MODELS = (
    Accept,
    Reject,
    Merge,
    Withdraw,
    Dispatch,
    AcceptTask,
    ReturnTask,
    Progress,
    RequestExtension,
    ResolveTask,
    DecideExtension,
    Pause,
    Resume,
    Rate,
    FollowUp,
    Note,
    Message,
)


class ActionRequest(RootModel):
    root: Annotated[
        Accept
        | Reject
        | Merge
        | Withdraw
        | Dispatch
        | AcceptTask
        | ReturnTask
        | Progress
        | RequestExtension
        | ResolveTask
        | DecideExtension
        | Pause
        | Resume
        | Rate
        | FollowUp
        | Note
        | Message,
        Field(discriminator="action"),
    ]
