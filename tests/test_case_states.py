"""The assistance case's life, alone: every action from every state, allowed and refused,
with the reason the page shows."""

import pytest

from crm.assistance import states
from crm.assistance.states import CaseFacts, CaseTransitionError, allowed_actions, check

ROLES = ("office", "street", "commissioner", "department", "leader", "firm", "admin")


def facts(state="open", position=1, last=3, **kw) -> CaseFacts:
    return CaseFacts(state=state, stage_position=position, last_position=last, **kw)


def refusal(action, f, role="office", reason="") -> str:
    with pytest.raises(CaseTransitionError) as exc:
        check(action, f, role=role, reason=reason)
    return exc.value.code


# -- allowed -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ("office", "street", "commissioner"))
def test_an_open_case_in_the_middle_moves_either_way_or_drops(role):
    f = facts(position=1)
    check(states.ADVANCE, f, role=role)
    check(states.BACK, f, role=role)
    check(states.DROP, f, role=role, reason="企业决定不落户")


@pytest.mark.parametrize("role", ("office", "street", "commissioner"))
def test_a_case_lands_from_its_last_stage_with_its_checklist_done(role):
    check(states.LAND, facts(position=3), role=role)


@pytest.mark.parametrize("role", ("office", "street"))
def test_the_office_and_the_street_reopen_a_dropped_case(role):
    check(states.REOPEN, facts(state="dropped", position=2), role=role)


def test_a_dropped_case_at_its_first_stage_reopens_too():
    check(states.REOPEN, facts(state="dropped", position=0), role="office")


def test_items_of_other_stages_do_not_hold_an_advance():
    # Items left open elsewhere (e.g. "before landing") only matter for landing.
    check(states.ADVANCE, facts(open_stage_items=0, open_items=3), role="office")


# -- refused, with the reason ---------------------------------------------------------------


def test_advance_at_the_last_stage_is_refused():
    assert refusal(states.ADVANCE, facts(position=3)) == "last_stage"


def test_advance_with_the_stage_items_open_is_refused():
    assert refusal(states.ADVANCE, facts(open_stage_items=1, open_items=1)) == "checklist"


def test_a_talent_case_without_its_route_cannot_advance_or_land():
    assert refusal(states.ADVANCE, facts(position=0, route_missing=True)) == "route"
    assert refusal(states.LAND, facts(position=3, route_missing=True)) == "land_route"


def test_back_at_the_first_stage_is_refused():
    assert refusal(states.BACK, facts(position=0)) == "first_stage"


@pytest.mark.parametrize("position", (0, 1, 2))
def test_land_before_the_last_stage_is_refused(position):
    assert refusal(states.LAND, facts(position=position)) == "not_last_stage"


def test_land_with_any_item_open_is_refused():
    assert refusal(states.LAND, facts(position=3, open_items=1)) == "land_checklist"


@pytest.mark.parametrize("reason", ("", "   "))
def test_drop_without_a_reason_is_refused(reason):
    assert refusal(states.DROP, facts(), reason=reason) == "reason"


@pytest.mark.parametrize("state", ("open", "landed"))
def test_only_a_dropped_case_reopens(state):
    code = refusal(states.REOPEN, facts(state=state))
    assert code == ("final" if state == "landed" else "reopen_state")


@pytest.mark.parametrize("action", states.ACTIONS)
def test_landed_is_final(action):
    assert refusal(action, facts(state="landed", position=3), reason="x") == "final"


@pytest.mark.parametrize("action", (states.ADVANCE, states.BACK, states.LAND, states.DROP))
def test_a_dropped_case_does_not_move_until_reopened(action):
    assert refusal(action, facts(state="dropped", position=3), reason="x") == "state"


def test_a_commissioner_may_not_reopen():
    assert refusal(states.REOPEN, facts(state="dropped"), role="commissioner") == "reopen_role"


@pytest.mark.parametrize("role", ("department", "leader", "firm", "admin"))
@pytest.mark.parametrize("action", states.ACTIONS)
def test_other_roles_move_nothing(action, role):
    state = "dropped" if action == states.REOPEN else "open"
    assert refusal(action, facts(state=state), role=role, reason="x") in ("role", "reopen_role")


def test_an_unknown_action_is_refused():
    assert refusal("teleport", facts()) == "unknown_action"


def test_every_refusal_has_words_for_the_page():
    with pytest.raises(CaseTransitionError) as exc:
        check(states.LAND, facts(position=1), role="office")
    assert "last stage" in exc.value.message


# -- the buttons ---------------------------------------------------------------------------


def test_allowed_actions_of_an_open_case_in_the_middle():
    result = allowed_actions(facts(position=1, open_stage_items=1, open_items=2), role="street")
    assert result[states.BACK] is None and result[states.DROP] is None
    assert result[states.ADVANCE].code == "checklist"
    assert result[states.LAND].code == "not_last_stage"
    assert result[states.REOPEN].code == "reopen_state"


def test_allowed_actions_of_a_dropped_case():
    office = allowed_actions(facts(state="dropped"), role="office")
    assert office[states.REOPEN] is None
    assert all(office[a] is not None for a in states.ACTIONS if a != states.REOPEN)
    commissioner = allowed_actions(facts(state="dropped"), role="commissioner")
    assert commissioner[states.REOPEN].code == "reopen_role"


@pytest.mark.parametrize("role", ROLES)
def test_a_landed_case_offers_nothing(role):
    assert all(e is not None for e in allowed_actions(facts(state="landed"), role=role).values())
