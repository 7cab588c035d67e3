"""The demand state machine alone (crm/demands/states.py): no app, no database.

``SPEC`` below is DESIGN §8 written out by hand, independently of ``states.ACTIONS``: a
careless edit of either table makes these tests fail.
"""

import itertools

import pytest

from crm.demands import states
from crm.demands.states import TransitionError

ROLES = ("admin", "office", "street", "commissioner", "department", "leader", "firm")
ALL_STATES = (
    "submitted",
    "accepted",
    "dispatched",
    "in_progress",
    "resolved",
    "closed",
    "withdrawn",
    "rejected",
    "returned",
    "reopened",
)
HANDLING = ("dispatched", "in_progress")
UNITS = ("street", "commissioner", "department")  # who works on a task
NOTE_STATES = (
    "submitted",
    "accepted",
    "dispatched",
    "in_progress",
    "returned",
    "reopened",
    "resolved",
    "closed",
)

# action: (states it may happen in, the state it moves the demand to, roles that may take it)
SPEC: dict[str, tuple[tuple[str, ...], str | None, tuple[str, ...]]] = {
    # Intake: the office or the firm's street accepts, rejects or merges a duplicate.
    "accept": (("submitted",), "accepted", ("office", "street")),
    "reject": (("submitted",), "rejected", ("office", "street")),
    "merge": (("submitted",), "rejected", ("office", "street")),
    # Withdrawn by the firm before acceptance.
    "withdraw": (("submitted",), "withdrawn", ("firm",)),
    # Dispatched after acceptance, after a unit returned it, after the firm was not satisfied.
    "dispatch": (("accepted", "returned", "reopened"), "dispatched", ("office", "street")),
    # Units work on their tasks while the demand is being handled.
    "accept_task": (HANDLING, None, UNITS),
    "return_task": (HANDLING, None, UNITS),
    "resolve_task": (("in_progress",), None, UNITS),
    "progress": (HANDLING, None, UNITS),
    "request_extension": (HANDLING, None, UNITS),
    # Extensions are approved or declined by the office.
    "decide_extension": (HANDLING, None, ("office",)),
    "pause": (HANDLING, None, ("office", *UNITS)),
    "resume": (HANDLING, None, ("office", *UNITS)),
    # The firm rates; staff record a rating given on a follow-up call.
    "rate": (("resolved",), None, ("firm", "office", "street", "commissioner")),
    # Only the sweep closes an unrated demand: no person's role may.
    "close_unrated": (("resolved",), "closed", ()),
    "follow_up": (("resolved", "closed"), None, ("office", "street", "commissioner")),
    "note": (NOTE_STATES, None, ("office", "street", "commissioner", "department")),
    # The firm writes to whoever handles its demand until the demand is finished.
    "message": (
        ("submitted", "accepted", "dispatched", "in_progress", "returned", "reopened", "resolved"),
        None,
        ("firm",),
    ),
}

COMBINATIONS = list(itertools.product(SPEC, ALL_STATES, ROLES))


def _id(combo) -> str:
    return "-".join(str(part) for part in combo)


# -- the two tables agree ------------------------------------------------------------------


def test_roles_match_the_user_model():
    from crm.auth.models import ROLES as USER_ROLES

    assert set(ROLES) == set(USER_ROLES)


def test_states_are_the_designed_ones():
    assert set(states.STATES) == set(ALL_STATES)
    assert len(states.STATES) == len(ALL_STATES)


def test_state_groups_partition_the_states():
    assert set(states.OPEN_STATES) == {
        "submitted",
        "accepted",
        "dispatched",
        "in_progress",
        "returned",
        "reopened",
    }
    assert set(states.HANDLING_STATES) == set(HANDLING)
    assert set(states.FINAL_STATES) == {"closed", "withdrawn", "rejected"}
    # Every state is open, final, or resolved (waiting for the firm's answer): exactly one.
    groups = [set(states.OPEN_STATES), set(states.FINAL_STATES), {"resolved"}]
    assert set().union(*groups) == set(ALL_STATES)
    assert sum(len(g) for g in groups) == len(ALL_STATES)


def test_action_names_match_the_spec():
    assert set(states.ACTIONS) == set(SPEC)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_action_matches_the_spec(name):
    sources, target, roles = SPEC[name]
    action = states.ACTIONS[name]
    assert action.name == name
    assert set(action.sources) == set(sources)
    assert action.target == target
    assert set(action.roles) == set(roles)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_action_names_only_known_states_and_roles(name):
    action = states.ACTIONS[name]
    assert set(action.sources) <= set(ALL_STATES)
    assert action.target is None or action.target in ALL_STATES
    assert set(action.roles) <= set(ROLES)
    assert "admin" not in action.roles  # the administrator configures, never handles
    assert "leader" not in action.roles  # leaders read


# -- check(): every action x state x role --------------------------------------------------


@pytest.mark.parametrize(("action", "state", "role"), COMBINATIONS, ids=map(_id, COMBINATIONS))
def test_check(action, state, role):
    sources, target, roles = SPEC[action]
    if role in roles and state in sources:
        spec = states.check(action, state, role)
        assert spec.name == action
        assert spec.target == target
        return
    with pytest.raises(TransitionError) as info:
        states.check(action, state, role)
    # The role is checked first: someone who may never take the action is told so.
    expected = "role" if role not in roles else "state"
    assert info.value.code == expected
    assert info.value.message
    assert str(info.value) == info.value.message
    if expected == "role":
        assert "role" in info.value.message
    else:
        assert "state" in info.value.message


def test_every_action_is_allowed_somewhere_and_refused_somewhere():
    for action in SPEC:
        outcomes = set()
        for state, role in itertools.product(ALL_STATES, ROLES):
            try:
                states.check(action, state, role)
                outcomes.add("allowed")
            except TransitionError:
                outcomes.add("refused")
        expected = {"refused"} if action == "close_unrated" else {"allowed", "refused"}
        assert outcomes == expected, action


@pytest.mark.parametrize("role", ROLES)
def test_unknown_action(role):
    with pytest.raises(TransitionError) as info:
        states.check("teleport", "submitted", role)
    assert info.value.code == "unknown_action"
    assert "teleport" in info.value.message


def test_final_states_allow_nothing_but_a_follow_up_or_note_on_closed():
    for state in ("withdrawn", "rejected"):
        for action, role in itertools.product(SPEC, ROLES):
            with pytest.raises(TransitionError):
                states.check(action, state, role)
    allowed_on_closed = {
        action
        for action, role in itertools.product(SPEC, ROLES)
        if _allowed(action, "closed", role)
    }
    assert allowed_on_closed == {"follow_up", "note"}


def _allowed(action: str, state: str, role: str) -> bool:
    try:
        states.check(action, state, role)
    except TransitionError:
        return False
    return True


# -- the loop as a graph -------------------------------------------------------------------


def _moves() -> set[tuple[str, str]]:
    """Every (from, to) a demand can make: actions with a target, and the task rules."""
    moves = {(s, a.target) for a in states.ACTIONS.values() if a.target for s in a.sources}
    moves |= {(s, states.after_task_accepted(s)) for s in HANDLING}
    moves |= {(s, states.after_task_returned(s, lead=True)) for s in HANDLING}
    moves.add(("in_progress", "resolved"))  # the lead task resolved, no co-task open
    moves |= {("resolved", states.rating_target(r)) for r in ("satisfied", "not_satisfied")}
    return {(a, b) for a, b in moves if a != b}


def test_the_loop_moves_exactly_as_designed():
    assert _moves() == {
        ("submitted", "accepted"),
        ("submitted", "rejected"),
        ("submitted", "withdrawn"),
        ("accepted", "dispatched"),
        ("returned", "dispatched"),
        ("reopened", "dispatched"),
        ("dispatched", "in_progress"),
        ("dispatched", "returned"),
        ("in_progress", "returned"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
        ("resolved", "reopened"),
    }


def test_every_state_is_reachable_and_every_open_one_can_finish():
    moves = _moves()
    reachable, frontier = {"submitted"}, ["submitted"]
    while frontier:
        here = frontier.pop()
        for a, b in moves:
            if a == here and b not in reachable:
                reachable.add(b)
                frontier.append(b)
    assert reachable == set(ALL_STATES)
    for state in ALL_STATES:
        if state in states.FINAL_STATES:
            assert not any(a == state for a, _ in moves), state
        else:
            assert any(a == state for a, _ in moves), state


# -- the rules that move a demand through its tasks and the firm's answer -------------------


@pytest.mark.parametrize(
    ("rating", "target"),
    [
        ("satisfied", "closed"),
        ("basically_satisfied", "closed"),
        ("not_satisfied", "reopened"),
    ],
)
def test_rating_target(rating, target):
    assert states.rating_target(rating) == target


@pytest.mark.parametrize("state", ALL_STATES)
def test_after_task_accepted(state):
    # The first unit to accept starts the work; later acceptances change nothing.
    expected = "in_progress" if state == "dispatched" else state
    assert states.after_task_accepted(state) == expected


@pytest.mark.parametrize("state", HANDLING)
def test_after_lead_task_returned(state):
    assert states.after_task_returned(state, lead=True) == "returned"


@pytest.mark.parametrize("state", HANDLING)
def test_after_co_task_returned(state):
    assert states.after_task_returned(state, lead=False) == state


TASK_STATES = ("pending", "accepted", "resolved", "returned", "cancelled")


@pytest.mark.parametrize(
    ("lead_state", "open_co_tasks"),
    list(itertools.product(TASK_STATES, (0, 1, 2))),
)
def test_can_resolve_demand(lead_state, open_co_tasks):
    expected = lead_state == "resolved" and open_co_tasks == 0
    assert states.can_resolve_demand(lead_state, open_co_tasks) is expected


def test_transition_error_is_an_exception_with_a_message_and_code():
    err = TransitionError("Nope.", "state")
    assert isinstance(err, Exception)
    assert (err.message, err.code, str(err)) == ("Nope.", "state", "Nope.")
