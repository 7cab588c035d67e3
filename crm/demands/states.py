"""The demand state machine (DESIGN §8): which action moves a demand from which state to
which, and who may take it. Plain data and functions, no database, tested alone.

Task-level actions (a unit accepting, returning or resolving its task) move the demand
only through the rules in ``after_task_*`` below; they are listed here with the demand
states in which they may happen.
"""

from dataclasses import dataclass

SUBMITTED = "submitted"
ACCEPTED = "accepted"
DISPATCHED = "dispatched"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
CLOSED = "closed"
WITHDRAWN = "withdrawn"
REJECTED = "rejected"
RETURNED = "returned"
REOPENED = "reopened"

STATES = (
    SUBMITTED,
    ACCEPTED,
    DISPATCHED,
    IN_PROGRESS,
    RESOLVED,
    CLOSED,
    WITHDRAWN,
    REJECTED,
    RETURNED,
    REOPENED,
)
# Not yet finished: counted as open work, swept for deadlines.
OPEN_STATES = (SUBMITTED, ACCEPTED, DISPATCHED, IN_PROGRESS, RETURNED, REOPENED)
# Being handled by units: deadlines run, pause and extensions apply.
HANDLING_STATES = (DISPATCHED, IN_PROGRESS)
FINAL_STATES = (CLOSED, WITHDRAWN, REJECTED)

OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER, FIRM = (
    "office",
    "street",
    "commissioner",
    "department",
    "leader",
    "firm",
)
DISPATCHERS = (OFFICE, STREET)
STAFF = (OFFICE, STREET, COMMISSIONER, DEPARTMENT)
HANDLERS = (STREET, COMMISSIONER, DEPARTMENT)


@dataclass(frozen=True)
class Action:
    name: str
    sources: tuple[str, ...]
    target: str | None  # None: the demand's state does not change by this action itself
    roles: tuple[str, ...]


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("accept", (SUBMITTED,), ACCEPTED, DISPATCHERS),
        Action("reject", (SUBMITTED,), REJECTED, DISPATCHERS),
        Action("merge", (SUBMITTED,), REJECTED, DISPATCHERS),
        Action("withdraw", (SUBMITTED,), WITHDRAWN, (FIRM,)),
        Action("dispatch", (ACCEPTED, RETURNED, REOPENED), DISPATCHED, DISPATCHERS),
        Action("accept_task", HANDLING_STATES, None, HANDLERS),
        Action("return_task", HANDLING_STATES, None, HANDLERS),
        Action("resolve_task", (IN_PROGRESS,), None, HANDLERS),
        Action("progress", HANDLING_STATES, None, HANDLERS),
        Action("request_extension", HANDLING_STATES, None, HANDLERS),
        Action("decide_extension", HANDLING_STATES, None, (OFFICE,)),
        Action("pause", HANDLING_STATES, None, (OFFICE, *HANDLERS)),
        Action("resume", HANDLING_STATES, None, (OFFICE, *HANDLERS)),
        Action("rate", (RESOLVED,), None, (FIRM, *DISPATCHERS, COMMISSIONER)),
        Action("close_unrated", (RESOLVED,), CLOSED, ()),  # the sweep only
        Action("follow_up", (RESOLVED, CLOSED), None, (*DISPATCHERS, COMMISSIONER)),
        Action("note", (*OPEN_STATES, RESOLVED, CLOSED), None, STAFF),
        # The firm's messages to whoever handles its demand; staff answer with a note the
        # firm may see (``internal=False``).
        Action("message", (*OPEN_STATES, RESOLVED), None, (FIRM,)),
    )
}


class TransitionError(Exception):
    """An action that may not happen now; ``message`` says why, for the person who tried."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def check(action: str, state: str, role: str) -> Action:
    """The action, if ``role`` may take it in ``state``; otherwise ``TransitionError``.

    Messages are English here; the service layer passes them through gettext.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise TransitionError(f"Unknown action {action!r}.", "unknown_action")
    if role not in spec.roles:
        raise TransitionError("Your role may not take this action.", "role")
    if state not in spec.sources:
        raise TransitionError("This action is not possible in the demand's current state.", "state")
    return spec


def rating_target(rating: str) -> str:
    """Satisfied or basically satisfied closes the demand; not satisfied reopens it."""
    return REOPENED if rating == "not_satisfied" else CLOSED


def after_task_accepted(state: str) -> str:
    return IN_PROGRESS if state == DISPATCHED else state


def after_task_returned(state: str, *, lead: bool) -> str:
    """A returned lead task sends the demand back for re-dispatch; a co-task does not."""
    return RETURNED if lead else state


def can_resolve_demand(lead_state: str, open_co_tasks: int) -> bool:
    """A demand resolves only when its lead task is resolved and no co-handling task is open."""
    return lead_state == "resolved" and open_co_tasks == 0
