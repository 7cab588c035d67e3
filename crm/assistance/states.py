"""The assistance case's life (DESIGN §6): which action may happen to a case now, and who
may take it. Plain data and functions, no database, tested alone.

A case is open at one stage of its type's template, moving forward (advance) or back
(back) one stage at a time; it ends landed (落地) from the last stage with its checklist
done, or dropped with a reason; a dropped case may be reopened at the stage it was
dropped at. Landed is final.

Stage positions here are indexes in the type's ordered stages: 0 is the first stage,
``last_position`` the last.
"""

from dataclasses import dataclass

OPEN = "open"
LANDED = "landed"
DROPPED = "dropped"
STATES = (OPEN, LANDED, DROPPED)

ADVANCE = "advance"
BACK = "back"
LAND = "land"
DROP = "drop"
REOPEN = "reopen"
ACTIONS = (ADVANCE, BACK, LAND, DROP, REOPEN)

OFFICE, STREET, COMMISSIONER = "office", "street", "commissioner"
# Who moves cases: whoever may edit them (their street is the service's check).
MOVERS = (OFFICE, STREET, COMMISSIONER)
# Reopening a dropped case undoes someone's decision: the office or the street centre.
REOPENERS = (OFFICE, STREET)
ROLES = {ADVANCE: MOVERS, BACK: MOVERS, LAND: MOVERS, DROP: MOVERS, REOPEN: REOPENERS}


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about one case, gathered by the caller."""

    state: str
    stage_position: int
    last_position: int
    # Applicable checklist items not done: those of the current stage, and all of them.
    open_stage_items: int = 0
    open_items: int = 0
    # A talent case whose route (high-tech or points) is not chosen yet.
    route_missing: bool = False


class CaseTransitionError(Exception):
    """An action that may not happen now; ``message`` (English, translated by the caller)
    says why, ``code`` names the rule."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def check(action: str, facts: CaseFacts, *, role: str, reason: str = "") -> None:
    """Return if ``role`` may take ``action`` on a case with ``facts``; else raise."""
    if action not in ROLES:
        raise CaseTransitionError(f"Unknown action {action!r}.", "unknown_action")
    if role not in ROLES[action]:
        if action == REOPEN:
            raise CaseTransitionError(
                "Only the office or the street centre may reopen a case.", "reopen_role"
            )
        raise CaseTransitionError("Your role may not move cases.", "role")
    if facts.state == LANDED:
        raise CaseTransitionError("The case has landed: it is final.", "final")
    if action == REOPEN:
        if facts.state != DROPPED:
            raise CaseTransitionError("Only a dropped case can be reopened.", "reopen_state")
        return
    if facts.state != OPEN:
        raise CaseTransitionError("The case is dropped: reopen it first.", "state")
    if action == ADVANCE:
        if facts.stage_position >= facts.last_position:
            raise CaseTransitionError(
                "The case is at its last stage: land it or drop it.", "last_stage"
            )
        if facts.route_missing:
            raise CaseTransitionError(
                "Choose the talent settlement route before moving on.", "route"
            )
        if facts.open_stage_items:
            raise CaseTransitionError(
                "Tick this stage's checklist items before moving on.", "checklist"
            )
    elif action == BACK:
        if facts.stage_position <= 0:
            raise CaseTransitionError("The case is at its first stage.", "first_stage")
    elif action == LAND:
        if facts.stage_position < facts.last_position:
            raise CaseTransitionError("A case lands only from its last stage.", "not_last_stage")
        if facts.route_missing:
            raise CaseTransitionError("Choose the talent settlement route first.", "land_route")
        if facts.open_items:
            raise CaseTransitionError(
                "Every checklist item must be ticked before the case lands.", "land_checklist"
            )
    elif action == DROP and not (reason or "").strip():
        raise CaseTransitionError("Say why the case is dropped.", "reason")


def allowed_actions(facts: CaseFacts, *, role: str) -> dict[str, CaseTransitionError | None]:
    """Each action → None if ``role`` may take it now, else the refusal saying why.

    A drop is offered whenever the rest allows it: its reason is asked on the form.
    """
    result: dict[str, CaseTransitionError | None] = {}
    for action in ACTIONS:
        try:
            check(action, facts, role=role, reason="(asked on the form)")
        except CaseTransitionError as exc:
            result[action] = exc
        else:
            result[action] = None
    return result
