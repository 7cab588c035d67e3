"""Staff's service-request pages (issue 4): the list of what firms asked through the portal,
a request's page, and scheduling, recording as done and cancelling it.

The ``portal_world`` fixture and the helpers here are shared by the other staff-portal tests.
"""

import html
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.demands.models import Notification
from crm.extensions import db
from crm.portal import queries, services
from crm.portal.models import ServiceRequest
from crm.workcal.services import today
from tests.conftest import csrf_token, login, post_form

STAFF = ("office", "street", "commissioner")
OTHERS = ("admin", "department", "leader", "firm")


# -- shared helpers -----------------------------------------------------------------------------


def english(client) -> None:
    """Switch the logged-in user's interface to English, as the footer button does."""
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def enter(client, user) -> None:
    assert login(client, user.username).status_code == 302
    english(client)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, url: str, data: dict):
    return post_form(client, url, data, form_url="/account/password")


@pytest.fixture
def portal_world(make_street, make_firm, make_user, assign):
    """A home street whose firm has a primary commissioner and a portal user; a second
    commissioner of the street who does not look after it; another street's firm."""
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    firm = make_firm(name="上海华阳示例科技有限公司", street=home, address="长宁路100号")
    other_firm = make_firm(name="上海新泾另一家贸易有限公司", street=away)
    world = {
        "home": home,
        "away": away,
        "firm": firm,
        "other_firm": other_firm,
        "office": make_user("office", display_name="王芳"),
        "street": make_user("street", street=home, display_name="李街道"),
        "commissioner": make_user("commissioner", street=home, display_name="赵专员"),
        "colleague": make_user("commissioner", street=home, display_name="钱专员"),
        "away_street": make_user("street", street=away),
        "firm_user": make_user("firm", firm=firm, display_name="企业联系人", phone="13700002222"),
        "other_firm_user": make_user("firm", firm=other_firm, phone="13998765432"),
        "admin": make_user("admin"),
        "department": make_user("department"),
        "leader": make_user("leader"),
    }
    assign(firm, world["commissioner"], "primary")
    return world


def user_of(world, role: str):
    return world["firm_user"] if role == "firm" else world[role]


@pytest.fixture
def ask(portal_world):
    """A service request the firm asked through the real service."""

    def _ask(firm=None, *, kind="appointment", details="预约办理人才落户咨询", **kw):
        firm = firm or portal_world["firm"]
        actor = (
            portal_world["firm_user"]
            if firm.id == portal_world["firm"].id
            else portal_world["other_firm_user"]
        )
        req = services.request_service(firm=firm, actor=actor, kind=kind, details=details, **kw)
        db.session.commit()
        return req

    return _ask


# -- who may open the pages ---------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF + OTHERS)
def test_the_list_and_a_request_open_for_staff_of_its_street_only(client, portal_world, ask, role):
    req = ask()
    login(client, user_of(portal_world, role).username)
    expected = 200 if role in STAFF else 403
    assert client.get("/service-requests/").status_code == expected
    assert client.get(f"/service-requests/{req.id}").status_code == expected


def test_anonymous_people_go_to_login(client, ask):
    req = ask()
    for url in ("/service-requests/", f"/service-requests/{req.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["street", "commissioner"])
def test_another_streets_request_is_not_found_and_not_listed(client, portal_world, ask, role):
    other = ask(portal_world["other_firm"], details="另一家企业的跑腿代办")
    enter(client, portal_world[role])
    for url in (f"/service-requests/{other.id}",):
        response = client.get(url)
        assert response.status_code == 404
        assert "上海新泾另一家贸易有限公司" not in text_of(response)
    response = post(
        client, f"/service-requests/{other.id}/cancel", {"cancel-version": 1, "cancel-reason": "x"}
    )
    assert response.status_code == 404
    page = text_of(client.get("/service-requests/?commissioner=all&state=all"))
    assert "上海新泾另一家贸易有限公司" not in page
    assert db.session.get(ServiceRequest, other.id).state == "requested"


# -- the list -----------------------------------------------------------------------------------


def test_a_commissioner_sees_its_own_open_requests_first_and_can_widen(
    client, portal_world, ask, make_firm, make_user, assign
):
    mine = ask(details="我的企业的预约")
    neighbour = make_firm(name="上海华阳邻居有限公司", street=portal_world["home"])
    assign(neighbour, portal_world["colleague"], "primary")
    services.request_service(
        firm=neighbour,
        actor=make_user("firm", firm=neighbour),
        kind="errand",
        details="邻居企业的跑腿",
    )
    db.session.commit()
    enter(client, portal_world["commissioner"])

    page = text_of(client.get("/service-requests/"))
    assert "上海华阳示例科技有限公司" in page and "上海华阳邻居有限公司" not in page
    page = text_of(client.get("/service-requests/?commissioner=all"))
    assert "上海华阳示例科技有限公司" in page and "上海华阳邻居有限公司" in page
    page = text_of(client.get("/service-requests/?commissioner=all&kind=errand"))
    assert "上海华阳示例科技有限公司" not in page and "上海华阳邻居有限公司" in page
    page = text_of(client.get("/service-requests/?commissioner=all&q=邻居"))
    assert "上海华阳示例科技有限公司" not in page and "上海华阳邻居有限公司" in page

    services.complete_service(mine, actor=portal_world["commissioner"], outcome="已办结")
    db.session.commit()
    page = text_of(client.get("/service-requests/"))
    assert "No open service requests of your firms." in page
    page = text_of(client.get("/service-requests/?state=done"))
    assert "上海华阳示例科技有限公司" in page


def test_the_street_sees_every_request_of_its_street(client, portal_world, ask):
    ask()
    enter(client, portal_world["street"])
    page = text_of(client.get("/service-requests/"))
    assert "上海华阳示例科技有限公司" in page
    assert "预约办理人才落户咨询" in page


def test_an_empty_list_says_so(client, portal_world):
    enter(client, portal_world["office"])
    page = text_of(client.get("/service-requests/"))
    assert "No open service requests" in page
    page = text_of(client.get("/service-requests/?q=nothing-like-this"))
    assert "No service request matches these filters." in page


def test_the_list_runs_the_same_statements_for_5_or_50_requests(
    client, portal_world, ask, count_queries
):
    enter(client, portal_world["office"])
    for _ in range(5):
        ask()
    with count_queries() as few:
        assert client.get("/service-requests/?per_page=5").status_code == 200
    for n in range(45):
        ask(kind=("appointment", "onsite", "errand")[n % 3])
    with count_queries() as many:
        page = client.get("/service-requests/?per_page=50")
        assert page.status_code == 200
    assert text_of(page).count("data-request=") == 50
    assert len(few) == len(many)


def test_open_service_requests_of_a_commissioner_or_a_street(portal_world, ask):
    later = ask(preferred_date=today() + timedelta(days=9))
    sooner = ask(preferred_date=today() + timedelta(days=2))
    scheduled = ask()
    services.schedule_service(
        scheduled,
        actor=portal_world["street"],
        scheduled_for=datetime.combine(today() + timedelta(days=5), datetime.min.time()),
    )
    finished = ask()
    services.cancel_service(finished, actor=portal_world["firm_user"], reason="不需要了")
    away = ask(portal_world["other_firm"])
    db.session.commit()

    def ids(**kw):
        return [r.id for r in db.session.scalars(queries.open_service_requests(**kw))]

    expected = [scheduled.id, sooner.id, later.id]
    assert ids(commissioner_id=portal_world["commissioner"].id) == expected
    assert ids(street_id=portal_world["home"].id) == expected
    assert ids(street_id=portal_world["away"].id) == [away.id]
    assert ids(commissioner_id=portal_world["colleague"].id) == []


# -- a request's page ---------------------------------------------------------------------------


def test_the_page_shows_what_the_firm_asked_and_records_the_full_phone_view(
    client, portal_world, ask
):
    req = ask(
        kind="onsite",
        details="请上门指导高新技术企业申报",
        preferred_date=today() + timedelta(days=3),
        preferred_slot="afternoon",
        contact_phone="13911112222",
    )
    enter(client, portal_world["street"])
    page = text_of(client.get(f"/service-requests/{req.id}"))
    assert f'href="/firms/{portal_world["firm"].id}"' in page
    assert "On-site visit" in page
    assert "请上门指导高新技术企业申报" in page
    assert (today() + timedelta(days=3)).isoformat() in page and "Afternoon" in page
    assert "长宁路100号" in page  # the firm's address, as the service filled it in
    assert "13911112222" in page
    assert "企业联系人" in page  # who asked
    assert "Requested" in page
    views = db.session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.action == "service_request.reveal_phone", AuditLog.object_id == req.id)
    )
    assert views == 1


def test_the_commissioners_notification_opens_the_request(client, portal_world, ask):
    req = ask()
    note = db.session.scalar(
        select(Notification).where(Notification.user_id == portal_world["commissioner"].id)
    )
    assert note.link == f"/service-requests/{req.id}"
    enter(client, portal_world["commissioner"])
    response = client.get(f"/notifications/{note.id}")
    assert response.headers["Location"].endswith(f"/service-requests/{req.id}")
    assert client.get(response.headers["Location"]).status_code == 200


# -- answers ------------------------------------------------------------------------------------


def schedule(client, req, *, version=None, **fields):
    data = {f"schedule-{k}": v for k, v in fields.items()}
    data["schedule-version"] = req.version if version is None else version
    return post(client, f"/service-requests/{req.id}/schedule", data)


def test_scheduling_agrees_a_local_time_and_tells_the_firm(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["commissioner"])
    day = today() + timedelta(days=4)
    response = schedule(client, req, day=day.isoformat(), time="09:30", note="带上营业执照")
    assert response.status_code == 302
    db.session.refresh(req)
    assert req.state == "scheduled"
    assert req.scheduled_for == datetime.combine(day, datetime.min.time()).replace(
        hour=9, minute=30
    )
    assert req.schedule_note == "带上营业执照"
    assert req.handled_by_id == portal_world["commissioner"].id
    page = text_of(client.get(f"/service-requests/{req.id}"))
    assert f"{day.isoformat()} 09:30" in page  # shown as agreed, not shifted as UTC
    told = db.session.scalar(
        select(Notification).where(Notification.user_id == portal_world["firm_user"].id)
    )
    assert told.link == f"/portal/services/{req.id}"


def test_scheduling_without_a_date_is_refused_keeping_what_was_typed(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["street"])
    response = schedule(client, req, day="", time="10:00", note="请带公章")
    assert response.status_code == 422
    page = text_of(response)
    assert "Give a date." in page
    assert "请带公章" in page
    assert db.session.get(ServiceRequest, req.id).state == "requested"


def test_scheduling_in_the_past_is_refused(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["street"])
    response = schedule(client, req, day=(today() - timedelta(days=1)).isoformat(), time="10:00")
    assert response.status_code == 422
    assert "The date is in the past." in text_of(response)


def test_a_stale_form_is_refused_naming_someone_else(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["commissioner"])
    old_version = req.version
    services.schedule_service(
        req,
        actor=portal_world["street"],
        scheduled_for=datetime.combine(today() + timedelta(days=1), datetime.min.time()),
    )
    db.session.commit()
    response = schedule(
        client,
        req,
        version=old_version,
        day=(today() + timedelta(days=6)).isoformat(),
        time="15:00",
        note="改到周五",
    )
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else changed this request" in page
    assert "改到周五" in page
    db.session.refresh(req)
    assert req.scheduled_for.date() == today() + timedelta(days=1)


def test_completing_records_the_outcome(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["commissioner"])
    response = post(
        client,
        f"/service-requests/{req.id}/complete",
        {"complete-version": req.version, "complete-outcome": "已协助完成人才落户材料预审"},
    )
    assert response.status_code == 302
    db.session.refresh(req)
    assert req.state == "done" and req.closed_at is not None
    page = text_of(client.get(f"/service-requests/{req.id}"))
    assert "已协助完成人才落户材料预审" in page
    assert "This request is finished" in page
    assert 'action="/service-requests/' not in page  # no answer forms any more


def test_completing_without_an_outcome_is_refused(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["commissioner"])
    response = post(
        client,
        f"/service-requests/{req.id}/complete",
        {"complete-version": req.version, "complete-outcome": ""},
    )
    assert response.status_code == 422
    assert db.session.get(ServiceRequest, req.id).state == "requested"


def test_cancelling_needs_a_reason_and_then_the_request_is_finished(client, portal_world, ask):
    req = ask()
    enter(client, portal_world["street"])
    page = text_of(client.get(f"/service-requests/{req.id}"))
    assert "data-confirm=" in page[page.index('id="answer-cancel"') - 400 :]

    response = post(client, f"/service-requests/{req.id}/cancel", {"cancel-version": req.version})
    assert response.status_code == 422
    assert db.session.get(ServiceRequest, req.id).state == "requested"

    response = post(
        client,
        f"/service-requests/{req.id}/cancel",
        {"cancel-version": req.version, "cancel-reason": "企业已自行办理"},
    )
    assert response.status_code == 302
    db.session.refresh(req)
    assert req.state == "cancelled" and req.cancel_reason == "企业已自行办理"

    # A form still open in another tab, carrying the current version: already finished.
    response = post(
        client,
        f"/service-requests/{req.id}/complete",
        {"complete-version": req.version, "complete-outcome": "办完了"},
    )
    assert response.status_code == 409
    assert "This request is already finished." in text_of(response)
    assert db.session.get(ServiceRequest, req.id).state == "cancelled"


def test_the_menu_badge_counts_open_items_in_one_statement(portal_world, ask, count_queries):
    ask()
    ask(portal_world["other_firm"])
    services.propose_change(
        portal_world["firm"], actor=portal_world["firm_user"], values={"employees": 5}
    )
    db.session.commit()
    commissioner = db.session.get(
        type(portal_world["commissioner"]), portal_world["commissioner"].id
    )
    with count_queries() as statements:
        counts = queries.open_counts(commissioner)
    assert len(statements) == 1
    assert counts == {"service_requests": 1, "profile_changes": 1, "signups": 0}
    assert queries.open_counts(portal_world["colleague"])["service_requests"] == 0
    assert queries.open_counts(portal_world["office"])["service_requests"] == 2
