"""Logging visits: the demands they raise, joint visits, the courtesy limit, who may log."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.demands.models import Demand
from crm.extensions import db
from crm.portal import services as portal
from crm.visits import queries, services
from crm.visits.models import Visit
from crm.visits.services import VisitError
from crm.workcal.services import today


@pytest.fixture
def street_world(make_street, make_firm, make_user, assign, make_department):
    street = make_street(name="华阳路街道")
    firm = make_firm(street=street, name="上海走访测试有限公司")
    commissioner = make_user("commissioner", street=street)
    assign(firm, commissioner, "primary")
    return {
        "street": street,
        "firm": firm,
        "commissioner": commissioner,
        "colleague": make_user("commissioner", street=street),
        "department": make_user("department", department=make_department(name="区人社局")),
    }


def _log(firm, actor, **kw):
    values = {"visited_on": today(), "method": "on_site", "summary": "了解企业经营情况。", **kw}
    visit = services.log_visit(firm, actor=actor, **values)
    db.session.commit()
    return visit


def test_a_visit_with_two_demands_puts_them_in_the_demand_loop(street_world, category):
    firm, commissioner = street_world["firm"], street_world["commissioner"]
    visit = _log(
        firm,
        commissioner,
        demands=[
            {"category_id": category().id, "title": "招聘补贴", "description": "咨询补贴。"},
            {"category_id": None, "title": "", "description": ""},  # an empty row
            {
                "category_id": category().id,
                "title": "停车位紧张",
                "description": "员工停车难。",
                "urgency": "urgent",
            },
        ],
    )
    demands = db.session.scalars(select(Demand).where(Demand.firm_id == firm.id)).all()
    assert [d.title for d in demands] == ["招聘补贴", "停车位紧张"]
    assert {d.channel for d in demands} == {"visit"}
    assert {d.visit_id for d in demands} == {visit.id}
    assert {d.state for d in demands} == {"submitted"}
    assert demands[1].urgency == "urgent"
    assert visit.street_id == firm.street_id
    assert visit.commissioner_id == commissioner.id
    assert [d.id for d in visit.demands] == [d.id for d in demands]
    assert db.session.scalar(
        select(AuditLog).where(AuditLog.action == "visit.create", AuditLog.object_id == visit.id)
    )


def test_a_bad_demand_row_records_nothing(street_world, category):
    with pytest.raises(VisitError) as exc:
        services.log_visit(
            street_world["firm"],
            actor=street_world["commissioner"],
            visited_on=today(),
            method="phone",
            summary="电话回访。",
            demands=[
                {"category_id": category().id, "title": "第一条", "description": "内容。"},
                {"category_id": category().id, "title": "第二条", "description": ""},
            ],
        )
    assert exc.value.field == ("demands", 1, "description")
    db.session.rollback()
    assert db.session.scalars(select(Visit)).all() == []
    assert db.session.scalars(select(Demand)).all() == []


def test_joint_when_someone_came_from_another_level_or_department(street_world):
    firm, commissioner = street_world["firm"], street_world["commissioner"]
    own_street = _log(firm, commissioner, participants=[{"user_id": street_world["colleague"].id}])
    assert not own_street.joint
    with_department = _log(
        firm,
        commissioner,
        visited_on=today() - timedelta(days=40),
        participants=[{"user_id": street_world["department"].id}],
    )
    assert with_department.joint
    (p,) = with_department.participants
    assert (p.level, p.unit, p.department_id) == (
        "department",
        "区人社局",
        street_world["department"].department_id,
    )
    written = _log(
        firm,
        commissioner,
        visited_on=today() - timedelta(days=80),
        participants=[{"name": "王科长", "unit": "区发改委", "level": "district"}],
    )
    assert written.joint
    assert written.participants[0].name == "王科长"


def test_courtesy_limit_refuses_then_records_with_a_reason(street_world):
    firm, commissioner = street_world["firm"], street_world["commissioner"]  # no tier: 1 in 30
    _log(firm, commissioner, visited_on=today() - timedelta(days=10))
    with pytest.raises(VisitError) as exc:
        _log(firm, commissioner)
    assert exc.value.code == "courtesy"
    assert exc.value.field == "courtesy_override"
    db.session.rollback()
    visit = _log(firm, commissioner, courtesy_override="企业临时通知需要现场协调")
    assert visit.courtesy_override == "企业临时通知需要现场协调"


def test_courtesy_limit_follows_a_change_of_tier(street_world):
    firm, commissioner = street_world["firm"], street_world["commissioner"]
    _log(firm, commissioner, visited_on=today() - timedelta(days=10))
    assert queries.courtesy_warning(firm, today())
    firm.tier = "district"  # 3 in 30 days
    db.session.commit()
    assert not queries.courtesy_warning(firm, today())
    _log(firm, commissioner)
    _log(firm, commissioner, visited_on=today() - timedelta(days=2))
    with pytest.raises(VisitError):
        _log(firm, commissioner, visited_on=today() - timedelta(days=1))


def test_a_visit_the_firm_asked_for_is_exempt_and_completes_the_request(street_world, make_user):
    firm, commissioner = street_world["firm"], street_world["commissioner"]
    firm_user = make_user("firm", firm=firm)
    req = portal.request_service(
        firm=firm, actor=firm_user, kind="onsite", details="请上门指导", address="某路1号"
    )
    db.session.commit()
    _log(firm, commissioner, visited_on=today() - timedelta(days=3))
    visit = _log(firm, commissioner, service_request=req, summary="按企业预约上门指导。")
    assert visit.requested_by_firm
    assert visit.service_request_id == req.id
    assert req.state == "done"
    assert req.outcome == "按企业预约上门指导。"
    # Asked-for visits do not count: the firm is one unrequested visit in, at its limit.
    assert queries.unrequested_visit_dates(firm.id, today()) == [today() - timedelta(days=3)]


def test_a_cancelled_or_errand_request_is_not_asking_for_a_visit(street_world, make_user):
    firm = street_world["firm"]
    firm_user = make_user("firm", firm=firm)
    errand = portal.request_service(firm=firm, actor=firm_user, kind="errand", details="代办")
    db.session.commit()
    with pytest.raises(VisitError) as exc:
        _log(firm, street_world["commissioner"], service_request=errand)
    assert exc.value.field == "service_request_id"


def test_a_commissioner_of_another_street_is_refused(street_world, make_user, make_street):
    stranger = make_user("commissioner", street=make_street())
    with pytest.raises(VisitError) as exc:
        _log(street_world["firm"], stranger)
    assert exc.value.code == "role"


def test_any_commissioner_of_the_street_and_the_office_may_log(street_world, make_user):
    firm = street_world["firm"]
    firm.tier = "district"
    db.session.commit()
    by_colleague = _log(firm, street_world["colleague"])
    assert by_colleague.commissioner_id == street_world["colleague"].id
    by_office = _log(firm, make_user("office"))
    # The office records for the firm's primary commissioner.
    assert by_office.commissioner_id == street_world["commissioner"].id


def test_a_visit_in_the_future_or_without_summary_is_refused(street_world):
    firm, commissioner = street_world["firm"], street_world["commissioner"]
    with pytest.raises(VisitError) as exc:
        _log(firm, commissioner, visited_on=today() + timedelta(days=1))
    assert exc.value.field == "visited_on"
    with pytest.raises(VisitError) as exc:
        _log(firm, commissioner, summary="   ")
    assert exc.value.field == "summary"
    with pytest.raises(VisitError) as exc:
        _log(firm, commissioner, method="carrier_pigeon")
    assert exc.value.field == "method"


def test_editing_keeps_demands_and_refuses_a_stale_form(street_world, category):
    firm, commissioner = street_world["firm"], street_world["commissioner"]
    visit = _log(
        firm,
        commissioner,
        demands=[{"category_id": category().id, "title": "融资", "description": "贷款。"}],
    )
    loaded = services.fingerprint(visit)
    services.update_visit(
        visit,
        actor=commissioner,
        visited_on=visit.visited_on,
        method="meeting",
        summary="座谈。",
        participants=[{"name": "李处长", "unit": "区科委", "level": "district"}],
        loaded=loaded,
    )
    db.session.commit()
    assert (visit.method, visit.joint, len(visit.demands)) == ("meeting", True, 1)
    with pytest.raises(VisitError) as exc:
        services.update_visit(
            visit,
            actor=commissioner,
            visited_on=visit.visited_on,
            method="phone",
            summary="x",
            loaded=loaded,
        )
    assert exc.value.code == "stale"


def test_only_the_recording_commissioner_edits_among_commissioners(street_world):
    visit = _log(street_world["firm"], street_world["commissioner"])
    with pytest.raises(VisitError) as exc:
        services.update_visit(
            visit,
            actor=street_world["colleague"],
            visited_on=visit.visited_on,
            method="phone",
            summary="改",
        )
    assert exc.value.code == "role"


def test_the_office_sets_the_cadence(make_user):
    office = make_user("office")
    changed = services.update_cadences(
        {"local": services.rules.Cadence(45, 2), "none": services.rules.Cadence(180, 1)},
        actor=office,
    )
    db.session.commit()
    assert changed == ["local"]
    assert queries.cadence_for("local") == services.rules.Cadence(45, 2)
    with pytest.raises(VisitError):
        services.update_cadences({"local": services.rules.Cadence(45, 0)}, actor=office)
    with pytest.raises(VisitError):
        services.update_cadences(
            {"local": services.rules.Cadence(45, 2)}, actor=make_user("street")
        )
