"""The firm's messages to whoever handles its demand, and staff's answers it may see."""

import pytest
from sqlalchemy import select

from crm.demands import services
from crm.demands.models import DemandEvent, Notification
from crm.demands.services import DemandError, Unit
from crm.extensions import db


@pytest.fixture(autouse=True)
def english(app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def loop(make_street, make_department, make_firm, make_user, make_demand):
    street = make_street()
    dept = make_department()
    firm = make_firm(street=street)
    people = {
        "office": make_user("office"),
        "centre": make_user("street", street=street),
        "handler": make_user("department", department=dept),
        "firm": make_user("firm", firm=firm),
        "stranger": make_user("firm"),
    }
    demand = make_demand(firm, actor=people["firm"], channel="portal")
    return demand, dept, people


def _notified(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)))


def test_before_acceptance_the_message_goes_to_the_dispatchers(loop):
    demand, _, people = loop
    services.post_message(demand, actor=people["firm"], message="请问需要补充哪些材料？")
    db.session.commit()
    event = db.session.scalar(select(DemandEvent).where(DemandEvent.kind == "message"))
    assert (event.actor_id, event.internal) == (people["firm"].id, False)
    assert event.message == "请问需要补充哪些材料？"
    assert [n.kind for n in _notified(people["centre"])][-1] == "message"
    assert _notified(people["handler"]) == []


def test_while_handled_it_goes_to_the_owner_and_the_units_with_open_tasks(loop):
    demand, dept, people = loop
    services.accept_demand(demand, actor=people["office"])
    services.dispatch_demand(demand, actor=people["office"], level=3, lead=Unit(department=dept))
    db.session.commit()
    before = len(_notified(people["centre"]))
    services.post_message(demand, actor=people["firm"], message="现场勘查可以安排在周三吗？")
    db.session.commit()
    assert _notified(people["handler"])[-1].kind == "message"
    assert _notified(people["office"])[-1].kind == "message"  # the owner since acceptance
    assert len(_notified(people["centre"])) == before  # not theirs any more


@pytest.mark.parametrize("who", ["office", "handler", "stranger"])
def test_only_the_firm_itself_writes_messages(loop, who):
    demand, _, people = loop
    with pytest.raises(DemandError):
        services.post_message(demand, actor=people[who], message="你好")


def test_no_message_once_the_demand_is_finished(loop):
    demand, _, people = loop
    services.withdraw_demand(demand, actor=people["firm"])
    db.session.commit()
    with pytest.raises(DemandError) as info:
        services.post_message(demand, actor=people["firm"], message="还在吗？")
    assert info.value.code == "state"


def test_an_empty_message_is_refused(loop):
    demand, _, people = loop
    with pytest.raises(DemandError) as info:
        services.post_message(demand, actor=people["firm"], message="   ")
    assert info.value.field == "message"


def test_a_public_note_tells_the_firm_and_an_internal_one_does_not(loop):
    demand, _, people = loop
    services.add_note(demand, actor=people["office"], message="内部：核实营业执照", internal=True)
    db.session.commit()
    assert _notified(people["firm"]) == []
    services.add_note(demand, actor=people["office"], message="请补充租赁合同", internal=False)
    db.session.commit()
    (told,) = _notified(people["firm"])
    assert demand.number in told.message
