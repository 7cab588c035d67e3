"""Assistance case services: opening for a firm or a prospect, the moves, the checklist,
who may change what, stale forms, financing referrals and the talent route."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.assistance import referrals, services
from crm.assistance.models import AssistanceCase, CaseEvent, CaseType, Prospect
from crm.assistance.services import CaseError, StaleCase
from crm.audit.models import AuditLog
from crm.auth.permissions import can_edit_case, can_note_case, can_view_case, case_scope
from crm.extensions import db
from crm.workcal.services import today


def case_type(code: str) -> CaseType:
    return db.session.scalar(select(CaseType).where(CaseType.code == code))


@pytest.fixture
def street(make_street):
    return make_street()


@pytest.fixture
def office(make_user):
    return make_user("office")


@pytest.fixture
def commissioner(make_user, street):
    return make_user("commissioner", street=street)


@pytest.fixture
def firm(make_firm, street):
    return make_firm(street=street)


@pytest.fixture
def open_for(office, commissioner, firm):
    def _open(code="REG", *, actor=None, client=None, **kw):
        client = client or firm
        key = "prospect" if isinstance(client, Prospect) else "firm"
        case = services.open_case(
            case_type=case_type(code),
            actor=actor or office,
            title="帮办" + code,
            owner=kw.pop("owner", commissioner),
            **{key: client},
            **kw,
        )
        db.session.commit()
        return case

    return _open


def tick_stage(case, actor):
    for item in case.checklist:
        if item.stage_id == case.stage_id and services.applicable(case, item):
            services.tick_item(case, item, True, actor)


def tick_all(case, actor):
    for item in case.checklist:
        if services.applicable(case, item):
            services.tick_item(case, item, True, actor)


def to_last_stage(case, actor):
    for _ in case.case_type.stages[case.stage.position + 1 :]:
        tick_stage(case, actor)
        services.advance_case(case, actor=actor)
    db.session.commit()


def events(case) -> list[str]:
    return list(
        db.session.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


# -- opening ------------------------------------------------------------------------------


def test_a_case_for_a_firm_opens_at_the_first_stage_with_the_checklist_copied(
    open_for, firm, make_department, office
):
    dept = make_department()
    case = open_for("REG", departments=[dept], expected_investment="1200.5", expected_jobs=30)
    reg = case_type("REG")
    assert case.number == f"BB{today():%Y%m%d}{case.id:06d}"
    assert case.street_id == firm.street_id and case.firm_id == firm.id
    assert case.stage_id == reg.stages[0].id and case.state == "open"
    assert [i.label for i in case.checklist] == [t.label for t in reg.checklist]
    assert not any(i.done for i in case.checklist)
    assert [d.id for d in case.departments] == [dept.id]
    assert case.expected_investment == Decimal("1200.50") and case.expected_jobs == 30
    assert events(case) == ["opened"]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "case.open")) is not None


def test_later_template_edits_do_not_change_an_open_case(open_for):
    case = open_for("SITE")
    labels = [i.label for i in case.checklist]
    case_type("SITE").checklist[0].label = "改过的条目"
    db.session.commit()
    db.session.expire_all()
    assert [i.label for i in db.session.get(AssistanceCase, case.id).checklist] == labels


def test_a_case_for_a_prospect_takes_its_street_and_stays_with_the_firm_it_becomes(
    open_for, street, office, make_firm
):
    prospect = Prospect(name="待落户科技", street_id=street.id, created_by_id=office.id)
    db.session.add(prospect)
    db.session.commit()
    case = open_for("REG", client=prospect)
    assert case.firm_id is None and case.street_id == street.id
    assert case.client_name == "待落户科技"
    # When it registers (the prospects' service moves its cases), the case is the firm's.
    registered = make_firm(street=street, name="待落户科技有限公司")
    prospect.firm_id, prospect.state = registered.id, "registered"
    case.firm_id = registered.id
    db.session.commit()
    assert case.client_name == "待落户科技有限公司" and case.prospect_id == prospect.id
    # A case opened for a prospect that has registered belongs to both.
    later = open_for("SITE", client=prospect)
    assert later.firm_id == registered.id and later.prospect_id == prospect.id


def test_a_dropped_prospect_gets_no_case(open_for, street, office):
    prospect = Prospect(name="放弃", street_id=street.id, created_by_id=office.id, state="dropped")
    db.session.add(prospect)
    db.session.commit()
    with pytest.raises(CaseError):
        open_for("REG", client=prospect)


def test_a_commissioner_opens_cases_only_in_its_street(open_for, make_user, make_firm):
    elsewhere = make_firm()
    with pytest.raises(CaseError) as exc:
        open_for("REG", client=elsewhere, actor=make_user("commissioner"))
    assert exc.value.code == "scope"


def test_the_owner_must_belong_to_the_case_street(open_for, make_user, office):
    with pytest.raises(CaseError) as exc:
        open_for("REG", owner=make_user("commissioner"))
    assert exc.value.field == "owner_id"
    with pytest.raises(CaseError):
        open_for("REG", owner=office)


def test_an_inactive_case_type_opens_nothing(open_for):
    case_type("HOUSE").active = False
    db.session.commit()
    with pytest.raises(CaseError) as exc:
        open_for("HOUSE")
    assert exc.value.field == "case_type_id"


def test_a_route_is_only_for_talent_cases(open_for):
    with pytest.raises(CaseError) as exc:
        open_for("REG", talent_route="points")
    assert exc.value.field == "talent_route"


def test_negative_expected_values_are_refused(open_for):
    with pytest.raises(CaseError) as exc:
        open_for("REG", registered_capital=-1)
    assert exc.value.field == "registered_capital"


# -- moving through the stages ------------------------------------------------------------


def test_advance_is_held_by_the_stage_items_until_they_are_ticked(open_for, commissioner):
    case = open_for("SITE")  # stage 0 has "明确面积、区位与预算"
    with pytest.raises(CaseError) as exc:
        services.advance_case(case, actor=commissioner)
    assert exc.value.code == "checklist"
    tick_stage(case, commissioner)
    services.advance_case(case, actor=commissioner)
    db.session.commit()
    assert case.stage.position == 1
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.action == "advanced"))
    assert event.from_stage_id == case.case_type.stages[0].id
    assert event.to_stage_id == case.stage_id and event.actor_id == commissioner.id


def test_back_moves_one_stage_back_but_not_before_the_first(open_for, commissioner):
    case = open_for("SITE")
    with pytest.raises(CaseError) as exc:
        services.move_case_back(case, actor=commissioner)
    assert exc.value.code == "first_stage"
    tick_stage(case, commissioner)
    services.advance_case(case, actor=commissioner)
    services.move_case_back(case, actor=commissioner)
    db.session.commit()
    assert case.stage.position == 0
    assert events(case) == ["opened", "advanced", "moved_back"]


def test_land_only_at_the_last_stage_with_everything_ticked(open_for, commissioner):
    case = open_for("REG")
    with pytest.raises(CaseError) as exc:
        services.land_case(case, actor=commissioner)
    assert exc.value.code == "not_last_stage"
    to_last_stage(case, commissioner)
    # "银行开户" and "税务登记" belong to no stage: they hold the landing, not the moves.
    with pytest.raises(CaseError) as exc:
        services.land_case(case, actor=commissioner)
    assert exc.value.code == "land_checklist"
    tick_all(case, commissioner)
    services.land_case(case, actor=commissioner)
    db.session.commit()
    assert case.state == "landed" and case.landed_on == today()
    with pytest.raises(CaseError) as exc:
        services.drop_case(case, actor=commissioner, reason="x")
    assert exc.value.code == "final"


def test_drop_needs_a_reason_and_reopen_returns_to_the_same_stage(
    open_for, commissioner, make_user, street
):
    case = open_for("SITE")
    tick_stage(case, commissioner)
    services.advance_case(case, actor=commissioner)
    with pytest.raises(CaseError) as exc:
        services.drop_case(case, actor=commissioner, reason="  ")
    assert exc.value.field == "reason"
    services.drop_case(case, actor=commissioner, reason="企业选择外区")
    db.session.commit()
    assert (case.state, case.dropped_on, case.drop_reason) == ("dropped", today(), "企业选择外区")
    with pytest.raises(CaseError) as exc:
        services.tick_item(case, case.checklist[1], True, commissioner)
    with pytest.raises(CaseError) as exc:
        services.reopen_case(case, actor=commissioner)
    assert exc.value.code == "reopen_role"
    services.reopen_case(case, actor=make_user("street", street=street))
    db.session.commit()
    assert case.state == "open" and case.stage.position == 1
    assert case.dropped_on is None
    dropped = db.session.scalar(select(CaseEvent).where(CaseEvent.action == "dropped"))
    assert dropped.note == "企业选择外区"


def test_a_commissioner_of_another_street_is_refused(open_for, make_user):
    case = open_for("SITE")
    stranger = make_user("commissioner")
    assert not can_edit_case(stranger, case) and not can_view_case(stranger, case)
    with pytest.raises(CaseError) as exc:
        services.advance_case(case, actor=stranger)
    assert exc.value.code == "scope"
    with pytest.raises(CaseError):
        services.add_note(case, actor=stranger, body="看看")


def test_a_department_involved_views_and_notes_but_does_not_edit(
    open_for, make_department, make_user
):
    dept = make_department()
    case = open_for("SITE", departments=[dept])
    involved, other = make_user("department", department=dept), make_user("department")
    assert can_view_case(involved, case) and can_note_case(involved, case)
    assert not can_edit_case(involved, case)
    assert not can_view_case(other, case) and not can_note_case(other, case)
    services.add_note(case, actor=involved, body="已对接房源")
    db.session.commit()
    assert [n.body for n in case.notes] == ["已对接房源"]
    for call in (
        lambda: services.tick_item(case, case.checklist[0], True, involved),
        lambda: services.update_details(case, actor=involved, title="x", owner=case.owner),
        lambda: services.set_departments(case, [], actor=involved),
    ):
        with pytest.raises(CaseError):
            call()
    ids = lambda user: set(  # noqa: E731
        db.session.scalars(select(AssistanceCase.id).where(case_scope(user)))
    )
    assert ids(involved) == {case.id} and ids(other) == set()


def test_a_leader_sees_the_cases_of_its_firms_read_only(open_for, make_user, firm):
    leader = make_user("leader")
    case = open_for("SITE")
    assert not can_view_case(leader, case)
    firm.leader_id = leader.id
    db.session.commit()
    assert can_view_case(leader, case) and not can_edit_case(leader, case)
    assert not can_note_case(leader, case)


def test_a_stale_form_is_refused_naming_who_changed_the_case(open_for, commissioner, office):
    case = open_for("SITE")
    seen = case.version
    services.update_details(case, actor=office, title="新标题", owner=commissioner)
    db.session.commit()
    assert case.version != seen
    with pytest.raises(StaleCase) as exc:
        services.drop_case(case, actor=commissioner, reason="x", expected_version=seen)
    assert office.display_name in exc.value.message


# -- checklist, details, departments ------------------------------------------------------


def test_tick_records_who_and_when_and_refuses_items_of_other_cases(open_for, commissioner):
    case, other = open_for("SITE"), open_for("HIRE")
    item = case.checklist[0]
    services.tick_item(case, item, True, commissioner)
    db.session.commit()
    assert item.done and item.done_by_id == commissioner.id and item.done_at is not None
    services.tick_item(case, item, False, commissioner)
    assert not item.done and item.done_by_id is None
    with pytest.raises(CaseError):
        services.tick_item(case, other.checklist[0], True, commissioner)


def test_update_details_changes_the_values_and_writes_the_timeline(open_for, commissioner, office):
    case = open_for("REG")
    services.update_details(
        case,
        actor=office,
        title="注册帮办",
        owner=commissioner,
        expected_investment=Decimal("800"),
        registered_capital=Decimal("1000"),
        expected_jobs=12,
    )
    db.session.commit()
    assert (case.registered_capital, case.expected_jobs) == (Decimal("1000"), 12)
    assert events(case)[-1] == "edited"
    version = case.version
    services.update_details(
        case,
        actor=office,
        title="注册帮办",
        owner=commissioner,
        expected_investment=Decimal("800"),
        registered_capital=Decimal("1000"),
        expected_jobs=12,
    )
    db.session.commit()
    assert case.version == version  # nothing changed, nothing written


def test_set_departments(open_for, make_department, office):
    case = open_for("REG")
    a, b = make_department(), make_department()
    services.set_departments(case, [a, b], actor=office)
    db.session.commit()
    assert {d.id for d in case.departments} == {a.id, b.id}
    b.active = False
    with pytest.raises(CaseError):
        services.set_departments(case, [b], actor=office)


# -- financing ----------------------------------------------------------------------------


def test_referrals_record_the_bank_and_the_amounts(open_for, commissioner):
    case = open_for("FIN")
    referral = referrals.add_referral(
        case, actor=commissioner, bank="工商银行", amount_requested="500"
    )
    db.session.commit()
    assert (referral.outcome, referral.referred_on) == ("pending", today())
    with pytest.raises(CaseError) as exc:
        referrals.update_referral(referral, actor=commissioner, outcome="granted")
    assert exc.value.field == "amount_granted"
    with pytest.raises(CaseError):
        referrals.update_referral(
            referral, actor=commissioner, outcome="declined", amount_granted=10
        )
    referrals.update_referral(referral, actor=commissioner, outcome="granted", amount_granted=300)
    db.session.commit()
    assert referral.amount_granted == Decimal("300")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"bank": "", "amount_requested": 100}, "bank"),
        ({"bank": "中国银行", "amount_requested": 0}, "amount_requested"),
        ({"bank": "中国银行", "amount_requested": None}, "amount_requested"),
        ({"bank": "中国银行", "amount_requested": -5}, "amount_requested"),
    ],
)
def test_a_referral_needs_a_bank_and_an_amount_above_zero(open_for, commissioner, kw, field):
    case = open_for("FIN")
    with pytest.raises(CaseError) as exc:
        referrals.add_referral(case, actor=commissioner, **kw)
    assert exc.value.field == field


def test_a_referral_is_not_in_the_future_nor_on_other_kinds(open_for, commissioner):
    with pytest.raises(CaseError) as exc:
        referrals.add_referral(
            open_for("FIN"),
            actor=commissioner,
            bank="建设银行",
            amount_requested=1,
            referred_on=today() + timedelta(days=1),
        )
    assert exc.value.field == "referred_on"
    with pytest.raises(CaseError):
        referrals.add_referral(
            open_for("REG"), actor=commissioner, bank="建设银行", amount_requested=1
        )


# -- talent settlement --------------------------------------------------------------------


def test_the_talent_route_chooses_the_materials(open_for, commissioner, office):
    case = open_for("TAL")
    points_item = next(i for i in case.checklist if i.route == "points")
    with pytest.raises(CaseError) as exc:
        services.advance_case(case, actor=commissioner)
    assert exc.value.code == "route"
    with pytest.raises(CaseError):
        services.tick_item(case, points_item, True, commissioner)
    services.update_details(
        case, actor=office, title=case.title, owner=commissioner, talent_route="points"
    )
    services.advance_case(case, actor=commissioner)  # stage 0 has no items
    materials = [i for i in case.checklist if services.applicable(case, i)]
    assert {i.route for i in materials} == {None, "points"}
    high_tech_item = next(i for i in case.checklist if i.route == "high_tech")
    with pytest.raises(CaseError):
        services.tick_item(case, high_tech_item, True, commissioner)
    # One by one: the stage holds until every common and points material is ticked.
    for item in materials[:-1]:
        services.tick_item(case, item, True, commissioner)
    with pytest.raises(CaseError):
        services.advance_case(case, actor=commissioner)
    services.tick_item(case, materials[-1], True, commissioner)
    services.advance_case(case, actor=commissioner)
    db.session.commit()
    assert case.stage.position == 2


def test_the_high_tech_route_is_for_high_tech_firms(open_for, commissioner, firm):
    with pytest.raises(CaseError) as exc:
        open_for("TAL", talent_route="high_tech")
    assert exc.value.field == "talent_route"
    firm.high_tech = True
    db.session.commit()
    case = open_for("TAL", talent_route="high_tech")
    tick_all(case, commissioner)
    to_last_stage(case, commissioner)
    services.land_case(case, actor=commissioner)
    assert case.state == "landed"
