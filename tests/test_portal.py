"""The firm's portal (issue 4): its start page, its demands from submission to rating, its
service requests and profile proposals; and that it never shows another firm's data, an
internal note or an internal file."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from crm.demands import attachments, services
from crm.demands.models import Attachment, Demand, DemandEvent, Notification
from crm.demands.services import Unit
from crm.extensions import db
from crm.portal import services as portal_services
from crm.portal.models import ProfileChange, ServiceRequest
from tests.conftest import csrf_token, login, post_form

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def english(client) -> None:
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(make_street, make_department, make_firm, make_user, assign):
    home = make_street(
        name="华阳路街道",
        service_centre_address="长宁区华阳路112号",
        service_centre_phone="021-62110000",
    )
    away = make_street(name="新泾镇")
    dept = make_department(name="区市场监管局")
    firm = make_firm(name="上海华阳示例科技有限公司", street=home, address="长宁区定西路1号")
    other_firm = make_firm(name="上海新泾另一家贸易有限公司", street=away)
    commissioner = make_user(
        "commissioner",
        street=home,
        display_name="赵专员",
        phone="13900001111",
        email="zhao@example.cn",
        specialty="talent",
    )
    assign(firm, commissioner, "primary")
    return {
        "home": home,
        "dept": dept,
        "firm": firm,
        "other_firm": other_firm,
        "office": make_user("office", display_name="王芳内部"),
        "street": make_user("street", street=home, display_name="李街道"),
        "commissioner": commissioner,
        "handler": make_user("department", department=dept, display_name="陈处理内部"),
        "firm_user": make_user("firm", firm=firm, display_name="企业联系人", phone="13700002222"),
        "other_firm_user": make_user("firm", firm=other_firm),
    }


@pytest.fixture
def firm_client(client, world):
    login(client, world["firm_user"].username)
    english(client)
    return client


def portal_demand(world, make_demand, **kw):
    """A demand the firm user raised in the portal (state ``submitted``)."""
    return make_demand(world["firm"], actor=world["firm_user"], channel="portal", **kw)


def dispatched(world, demand, *, accepted=True):
    services.accept_demand(demand, actor=world["office"])
    services.dispatch_demand(
        demand, actor=world["office"], level=3, lead=Unit(department=world["dept"])
    )
    if accepted:
        services.accept_task(demand.tasks[0], actor=world["handler"])
    db.session.commit()
    return demand


def resolved(world, demand):
    dispatched(world, demand)
    services.resolve_task(demand.tasks[0], actor=world["handler"], resolution="已协调，下周办结。")
    db.session.commit()
    return demand


def act(client, demand, path: str, prefix: str, version=None, **fields):
    data = {f"{prefix}-{k}": v for k, v in fields.items()}
    data[f"{prefix}-version"] = demand.version if version is None else version
    return post_form(
        client, f"/portal/demands/{demand.id}/{path}", data, form_url="/account/password"
    )


# -- the start page and who may open the portal ------------------------------------------------


def test_a_firm_user_starts_in_the_portal(client, world):
    login(client, world["firm_user"].username)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/portal/")


def test_the_start_page_shows_the_firm_its_commissioner_and_centre(firm_client, world):
    page = text_of(firm_client.get("/portal/"))
    assert world["firm"].name in page
    assert "赵专员" in page
    assert "Talent commissioner" in page
    assert 'href="tel:13900001111"' in page
    assert "zhao@example.cn" in page
    assert "长宁区华阳路112号" in page
    assert 'href="tel:021-62110000"' in page
    assert 'href="/portal/demands/new"' in page
    assert 'href="/portal/services/new"' in page


def test_the_start_page_lists_open_work(firm_client, world, make_demand):
    open_demand = portal_demand(world, make_demand, title="用电增容")
    finished = portal_demand(world, make_demand, title="已撤回的诉求")
    services.withdraw_demand(finished, actor=world["firm_user"])
    portal_services.request_service(
        firm=world["firm"], actor=world["firm_user"], kind="errand", details="代办社保登记"
    )
    portal_services.propose_change(world["firm"], actor=world["firm_user"], values={"employees": 9})
    db.session.commit()
    page = text_of(firm_client.get("/portal/"))
    assert "用电增容" in page and f'href="/portal/demands/{open_demand.id}"' in page
    assert "已撤回的诉求" not in page
    assert "代办社保登记" in page
    assert "1 proposal sent, waiting for your commissioner." in page


@pytest.mark.parametrize(
    "path",
    [
        "/portal/",
        "/portal/demands",
        "/portal/demands/new",
        "/portal/services",
        "/portal/services/new",
        "/portal/profile",
    ],
)
@pytest.mark.parametrize(
    "role", ["admin", "office", "street", "commissioner", "department", "leader"]
)
def test_staff_get_403_in_the_portal(client, login_as, role, path):
    login_as(role)
    assert client.get(path).status_code == 403


def test_anonymous_users_go_to_login(client):
    response = client.get("/portal/demands")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# -- the firm's demands ----------------------------------------------------------------------


def test_the_list_shows_only_the_firms_own_demands(firm_client, world, make_demand):
    mine = portal_demand(world, make_demand, title="本企业的诉求")
    make_demand(world["other_firm"], title="别家企业的诉求")
    done = portal_demand(world, make_demand, title="撤回的诉求")
    services.withdraw_demand(done, actor=world["firm_user"])
    db.session.commit()
    page = text_of(firm_client.get("/portal/demands"))
    assert "本企业的诉求" in page and "撤回的诉求" in page
    assert "别家企业的诉求" not in page
    assert page.index("撤回的诉求") < page.index("本企业的诉求")  # newest first
    open_only = text_of(firm_client.get("/portal/demands?state=open"))
    assert "本企业的诉求" in open_only and "撤回的诉求" not in open_only
    finished = text_of(firm_client.get("/portal/demands?state=finished"))
    assert "撤回的诉求" in finished and mine.title not in finished


def test_an_empty_list_says_so(firm_client):
    page = text_of(firm_client.get("/portal/demands"))
    assert "Your firm has not raised any demand yet." in page


def test_the_list_is_paginated_with_few_queries(firm_client, world, make_demand, count_queries):
    for i in range(25):
        portal_demand(world, make_demand, title=f"诉求{i:02d}")
    with count_queries() as queries:
        first = text_of(firm_client.get("/portal/demands"))
    assert "诉求24" in first and "诉求04" not in first
    assert "25 in all, page 1 of 2" in first
    assert len(queries) <= 12
    assert "诉求04" in text_of(firm_client.get("/portal/demands?page=2"))


def _new_form(client, **overrides):
    page = client.get("/portal/demands/new").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    category = re.search(r'<option value="(\d+)">', page).group(1)
    return {
        "category_id": category,
        "title": "新厂房用电增容",
        "description": "企业新建厂房，需要用电增容，希望协调供电部门。",
        "urgency": "normal",
        "submission_key": key,
        **overrides,
    }


def test_a_firm_submits_a_demand_with_an_attachment(firm_client, world):
    data = _new_form(firm_client, attachments=(io.BytesIO(PDF), "用电申请.pdf"))
    response = post_form(firm_client, "/portal/demands/new", data)
    assert response.status_code == 302
    demand = db.session.scalar(select(Demand))
    assert response.headers["Location"].endswith(f"/portal/demands/{demand.id}")
    assert (demand.channel, demand.state, demand.firm_id) == (
        "portal",
        "submitted",
        world["firm"].id,
    )
    assert demand.owner_id is None  # the first staff member who accepts it owns it
    page = text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    assert f"Your demand {demand.number} has been sent." in page
    assert "用电申请.pdf" in page
    (row,) = db.session.scalars(select(Attachment)).all()
    download = firm_client.get(f"/portal/demands/{demand.id}/files/{row.id}")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()
    # The office and the street centre are told.
    told = set(
        db.session.scalars(select(Notification.user_id).where(Notification.kind == "submitted"))
    )
    assert {world["office"].id, world["street"].id} <= told


def test_a_refused_file_keeps_what_was_typed(firm_client):
    data = _new_form(firm_client, attachments=(io.BytesIO(EXE), "证明.pdf"))
    response = post_form(firm_client, "/portal/demands/new", data)
    assert response.status_code == 422
    page = text_of(response)
    assert "is not a file type we accept" in page
    assert 'value="新厂房用电增容"' in page
    assert "企业新建厂房，需要用电增容" in page
    assert count(Demand) == 0 and count(Attachment) == 0


def test_a_file_over_the_limit_is_refused_with_413(app, firm_client):
    app.config["ATTACHMENT_MAX_MB"] = 0.01
    data = _new_form(firm_client, attachments=(io.BytesIO(PDF + b"0" * 20_000), "大文件.pdf"))
    response = post_form(firm_client, "/portal/demands/new", data)
    assert response.status_code == 413
    assert "larger than" in text_of(response)
    assert count(Demand) == 0


def test_missing_fields_are_marked_and_typed_text_kept(firm_client):
    response = post_form(firm_client, "/portal/demands/new", _new_form(firm_client, title=""))
    assert response.status_code == 422
    page = text_of(response)
    assert "is-invalid" in page
    assert "企业新建厂房，需要用电增容" in page
    assert count(Demand) == 0


def test_the_same_form_sent_twice_makes_one_demand(firm_client):
    data = _new_form(firm_client)
    first = post_form(firm_client, "/portal/demands/new", data)
    second = post_form(firm_client, "/portal/demands/new", data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Demand) == 1
    assert "This form was already sent" in text_of(firm_client.get(second.headers["Location"]))


def test_the_demand_page_shows_dates_handlers_and_the_public_timeline(
    firm_client, world, make_demand
):
    demand = dispatched(world, portal_demand(world, make_demand))
    services.add_note(
        demand, actor=world["office"], message="内部备注：企业材料不全", internal=True
    )
    services.add_note(
        demand, actor=world["office"], message="请补充营业执照复印件。", internal=False
    )
    services.add_progress(
        demand.tasks[0], actor=world["handler"], message="内部进展：待领导签字", internal=True
    )
    (secret,) = attachments.store(
        demand,
        [attachments.Upload("内部审批单.pdf", "application/pdf", PDF)],
        actor=world["office"],
        internal=True,
    )
    (public,) = attachments.store(
        demand, [attachments.Upload("办理指南.pdf", "application/pdf", PDF)], actor=world["office"]
    )
    db.session.commit()
    page = text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    assert demand.number in page and "In progress" in page
    assert "To be solved by" in page and demand.due_on.isoformat() in page
    assert "区市场监管局" in page  # the handling unit
    assert "请补充营业执照复印件。" in page
    assert "办理指南.pdf" in page
    for hidden in ("内部备注", "内部进展", "内部审批单.pdf", "data-internal"):
        assert hidden not in page
    # Staff are named by their unit, not as persons.
    assert "王芳内部" not in page and "陈处理内部" not in page
    assert firm_client.get(f"/portal/demands/{demand.id}/files/{secret.id}").status_code == 404
    download = firm_client.get(f"/portal/demands/{demand.id}/files/{public.id}")
    assert download.status_code == 200
    download.close()


def test_another_firms_demand_and_files_are_not_found(firm_client, world, make_demand):
    other = make_demand(world["other_firm"], title="别家企业的诉求")
    (row,) = attachments.store(
        other, [attachments.Upload("别家.pdf", "application/pdf", PDF)], actor=world["office"]
    )
    mine = portal_demand(world, make_demand)
    db.session.commit()
    for url in (
        f"/portal/demands/{other.id}",
        f"/portal/demands/{other.id}/files/{row.id}",
        f"/portal/demands/{mine.id}/files/{row.id}",  # its own demand, another's file
    ):
        response = firm_client.get(url)
        assert response.status_code == 404, url
        assert "别家" not in text_of(response)
    for path, prefix, fields in (
        ("withdraw", "withdraw", {}),
        ("message", "message", {"message": "你好"}),
        ("rate", "rate", {"rating": "satisfied"}),
    ):
        response = act(firm_client, other, path, prefix, **fields)
        assert response.status_code == 404
        assert world["other_firm"].name not in text_of(response)
    assert other.state == "submitted"


def test_withdraw_while_submitted(firm_client, world, make_demand):
    demand = portal_demand(world, make_demand)
    page = text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    assert 'id="action-withdraw"' in page and "data-confirm=" in page
    response = act(firm_client, demand, "withdraw", "withdraw", reason="已自行解决")
    assert response.status_code == 302
    assert demand.state == "withdrawn"
    assert "Your demand has been withdrawn." in text_of(
        firm_client.get(response.headers["Location"])
    )


def test_no_withdrawal_once_accepted(firm_client, world, make_demand):
    demand = portal_demand(world, make_demand)
    services.accept_demand(demand, actor=world["office"])
    db.session.commit()
    assert 'id="action-withdraw"' not in text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    response = act(firm_client, demand, "withdraw", "withdraw")
    assert response.status_code == 422
    assert "not possible in the demand's current state" in text_of(response)
    assert demand.state == "accepted"


def test_a_stale_form_is_refused_with_409(firm_client, world, make_demand):
    demand = portal_demand(world, make_demand)
    version = demand.version
    services.accept_demand(demand, actor=world["office"])
    db.session.commit()
    response = act(firm_client, demand, "withdraw", "withdraw", version=version)
    assert response.status_code == 409
    assert "Someone changed this demand in the meantime" in text_of(response)
    assert demand.state == "accepted"


def test_rating_satisfied_closes_the_demand(firm_client, world, make_demand):
    demand = resolved(world, portal_demand(world, make_demand))
    page = text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    assert "已协调，下周办结。" in page
    assert 'id="action-rate"' in page and "sends your demand back to the office" in page
    response = act(firm_client, demand, "rate", "rate", rating="satisfied", comment="谢谢")
    assert response.status_code == 302
    assert (demand.state, demand.rating) == ("closed", "satisfied")
    page = text_of(firm_client.get(response.headers["Location"]))
    assert "The demand is closed." in page and 'data-state="closed"' in page
    assert 'id="action-rate"' not in page


def test_not_satisfied_reopens_the_demand(firm_client, world, make_demand):
    demand = resolved(world, portal_demand(world, make_demand))
    response = act(firm_client, demand, "rate", "rate", rating="not_satisfied", comment="未解决")
    assert response.status_code == 302
    assert (demand.state, demand.reopen_count) == ("reopened", 1)
    assert "open again" in text_of(firm_client.get(response.headers["Location"]))


def test_rating_needs_a_choice_and_a_resolved_demand(firm_client, world, make_demand):
    demand = portal_demand(world, make_demand)
    assert 'id="action-rate"' not in text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    assert act(firm_client, demand, "rate", "rate", rating="satisfied").status_code == 422
    resolved(world, demand)
    response = act(firm_client, demand, "rate", "rate", rating="", comment="还行")
    assert response.status_code == 422
    assert "Choose one of the three answers." in text_of(response)
    assert demand.state == "resolved"


def test_a_message_with_a_file_reaches_the_handler(firm_client, world, make_demand):
    demand = dispatched(world, portal_demand(world, make_demand))
    response = post_form(
        firm_client,
        f"/portal/demands/{demand.id}/message",
        {
            "message-version": demand.version,
            "message-message": "补充材料已上传，请查收。",
            "message-files": (io.BytesIO(PDF), "补充材料.pdf"),
        },
        form_url="/account/password",
    )
    assert response.status_code == 302
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == world["handler"].id, Notification.kind == "message"
        )
    )
    assert note is not None and note.demand_id == demand.id
    event = db.session.scalar(select(DemandEvent).where(DemandEvent.kind == "message"))
    row = db.session.scalar(select(Attachment).where(Attachment.filename == "补充材料.pdf"))
    assert row.event_id == event.id and not row.internal
    page = text_of(firm_client.get(f"/portal/demands/{demand.id}"))
    assert "补充材料已上传，请查收。" in page and "补充材料.pdf" in page


def test_an_empty_message_is_refused(firm_client, world, make_demand):
    demand = portal_demand(world, make_demand)
    response = act(firm_client, demand, "message", "message", message="")
    assert response.status_code == 422
    assert count(Notification) == 2  # only the office's and the centre's "submitted"


# -- service requests ----------------------------------------------------------------------


def test_a_firm_books_an_on_site_visit(firm_client, world):
    page = text_of(firm_client.get("/portal/services/new"))
    assert 'value="长宁区定西路1号"' in page  # the firm's address by default
    assert 'value="13700002222"' in page
    response = post_form(
        firm_client,
        "/portal/services/new",
        {
            "kind": "onsite",
            "details": "上门指导高企申报",
            "preferred_date": "2099-05-06",
            "preferred_slot": "afternoon",
            "address": "长宁区定西路1号",
            "contact_phone": "13700002222",
        },
    )
    assert response.status_code == 302
    req = db.session.scalar(select(ServiceRequest))
    assert response.headers["Location"].endswith(f"/portal/services/{req.id}")
    assert (req.kind, req.state, req.commissioner_id) == (
        "onsite",
        "requested",
        world["commissioner"].id,
    )
    assert req.address == "长宁区定西路1号"
    told = db.session.scalar(
        select(Notification).where(Notification.user_id == world["commissioner"].id)
    )
    assert told.link == f"/service-requests/{req.id}"
    page = text_of(firm_client.get(f"/portal/services/{req.id}"))
    assert "上门指导高企申报" in page and "赵专员" in page and "Requested" in page
    listing = text_of(firm_client.get("/portal/services"))
    assert "上门指导高企申报" in listing


def test_a_wrong_service_request_keeps_what_was_typed(firm_client):
    response = post_form(
        firm_client,
        "/portal/services/new",
        {"kind": "appointment", "details": "预约办理人才落户", "preferred_date": "2001-01-01"},
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "The preferred date is in the past." in page
    assert "预约办理人才落户" in page
    response = post_form(firm_client, "/portal/services/new", {"details": "只写了内容"})
    assert response.status_code == 422
    assert "只写了内容" in text_of(response)
    assert count(ServiceRequest) == 0


def test_services_list_is_empty_at_first(firm_client):
    assert "No service requests yet." in text_of(firm_client.get("/portal/services"))


def _service(world, **kw):
    req = portal_services.request_service(
        firm=world["firm"], actor=world["firm_user"], kind="appointment", details="预约咨询", **kw
    )
    db.session.commit()
    return req


def test_a_firm_cancels_its_request_with_a_reason(firm_client, world):
    req = _service(world)
    page = text_of(firm_client.get(f"/portal/services/{req.id}"))
    assert 'id="action-cancel"' in page and "data-confirm=" in page
    url = f"/portal/services/{req.id}/cancel"
    refused = post_form(
        firm_client,
        url,
        {"cancel-version": req.version, "cancel-reason": ""},
        form_url="/account/password",
    )
    assert refused.status_code == 422 and req.state == "requested"
    response = post_form(
        firm_client,
        url,
        {"cancel-version": req.version, "cancel-reason": "已自行办理"},
        form_url="/account/password",
    )
    assert response.status_code == 302
    assert (req.state, req.cancel_reason) == ("cancelled", "已自行办理")
    page = text_of(firm_client.get(f"/portal/services/{req.id}"))
    assert "Cancelled" in page and 'id="action-cancel"' not in page


def test_a_stale_cancel_is_refused_with_409(firm_client, world):
    req = _service(world)
    version = req.version
    from datetime import datetime

    portal_services.schedule_service(
        req, actor=world["commissioner"], scheduled_for=datetime(2099, 5, 6, 9, 30)
    )
    db.session.commit()
    response = post_form(
        firm_client,
        f"/portal/services/{req.id}/cancel",
        {"cancel-version": version, "cancel-reason": "不需要了"},
        form_url="/account/password",
    )
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone changed this request in the meantime" in page
    assert "2099-05-06 09:30" in page  # the time as agreed, local
    assert req.state == "scheduled"


def test_another_firms_request_is_not_found(firm_client, world, make_user):
    other = portal_services.request_service(
        firm=world["other_firm"],
        actor=world["other_firm_user"],
        kind="errand",
        details="别家的代办",
    )
    db.session.commit()
    response = firm_client.get(f"/portal/services/{other.id}")
    assert response.status_code == 404 and "别家的代办" not in text_of(response)
    response = post_form(
        firm_client,
        f"/portal/services/{other.id}/cancel",
        {"cancel-version": other.version, "cancel-reason": "x"},
        form_url="/account/password",
    )
    assert response.status_code == 404
    assert other.state == "requested"


# -- the profile -------------------------------------------------------------------------------


def _profile_data(client) -> dict:
    """The profile form as the page pre-fills it, as a browser would send it."""
    page = client.get("/portal/profile").get_data(as_text=True)
    form = page[page.index('id="profile-form"') :]
    data = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="(\w+)"', tag).group(1)
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag and " checked" not in tag:
            continue
        data[name] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', body)
        data[name] = chosen.group(1) if chosen else ""
    data.pop("csrf_token", None)
    return data


def test_the_profile_shows_the_record_and_a_prefilled_form(firm_client, world):
    page = text_of(firm_client.get("/portal/profile"))
    assert world["firm"].uscc in page
    assert 'value="上海华阳示例科技有限公司"' in page
    assert "No proposals yet." in page


def test_proposing_nothing_new_is_refused(firm_client, world):
    response = post_form(firm_client, "/portal/profile", _profile_data(firm_client))
    assert response.status_code == 422
    assert "Nothing differs from the profile on record." in text_of(response)
    assert count(ProfileChange) == 0


def test_a_proposal_records_from_and_to_for_review(firm_client, world):
    data = {**_profile_data(firm_client), "employees": "321", "note": "2026年社保人数"}
    response = post_form(firm_client, "/portal/profile", data)
    assert response.status_code == 302
    change = db.session.scalar(select(ProfileChange))
    assert change.state == "pending"
    assert change.changes == {"employees": {"from": None, "to": 321}}
    assert change.note == "2026年社保人数"
    assert world["firm"].employees is None  # not applied before review
    page = text_of(firm_client.get("/portal/profile"))
    assert "Waiting for review" in page and "321" in page


def test_a_wrong_value_is_marked_and_kept(firm_client):
    data = {**_profile_data(firm_client), "industry_code": "ZZ", "employees": "88"}
    response = post_form(firm_client, "/portal/profile", data)
    assert response.status_code == 422
    page = text_of(response)
    assert "Use a GB/T 4754 code" in page
    assert 'value="88"' in page
    assert count(ProfileChange) == 0


def test_the_reviewers_note_is_shown(firm_client, world):
    change = portal_services.propose_change(
        world["firm"], actor=world["firm_user"], values={"employees": 5}
    )
    portal_services.review_change(
        change, actor=world["commissioner"], approve=False, note="请提供社保证明"
    )
    db.session.commit()
    page = text_of(firm_client.get("/portal/profile"))
    assert "Not accepted" in page and "请提供社保证明" in page
