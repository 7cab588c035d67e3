"""The visit pages: the form (rows, errors, courtesy warning), a visit's page, its edit, the
ledger with its filters and Excel export."""

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.demands.models import Demand
from crm.extensions import db
from crm.visits import services
from crm.visits.models import Visit
from crm.workcal.services import today
from tests.conftest import csrf_token, post_form


@pytest.fixture
def home(make_street, make_firm, make_user, assign):
    street = make_street(name="华阳路街道")
    firm = make_firm(street=street, name="上海华阳走访科技有限公司", tier="district")
    commissioner = make_user("commissioner", street=street)
    assign(firm, commissioner, "primary")
    return street, firm, commissioner


def _visit(firm, actor, days_ago=0, **kw):
    values = {"method": "on_site", "summary": "走访了解经营情况。", **kw}
    visit = services.log_visit(
        firm, actor=actor, visited_on=today() - timedelta(days=days_ago), **values
    )
    db.session.commit()
    return visit


def _form(firm, **extra):
    return {
        "visited_on": today().isoformat(),
        "method": "on_site",
        "summary": "与企业负责人座谈，了解扩产计划。",
        **extra,
    }


def test_the_form_posts_any_number_of_rows(client, login_as, home, make_user, category):
    _street, firm, commissioner = home
    login_as(commissioner)
    dept_user = make_user("department")
    url = f"/visits/new?firm_id={firm.id}"
    data = _form(
        firm,
        **{
            "participants-0-user_id": str(dept_user.id),
            "participants-1-name": "王科长",
            "participants-1-unit": "区发改委",
            "participants-1-level": "district",
            "participants-2-name": "",  # an empty row
            "demands-0-category_id": str(category().id),
            "demands-0-title": "招工难",
            "demands-0-description": "缺少技术工人。",
            "demands-0-urgency": "normal",
            "demands-1-category_id": str(category().id),
            "demands-1-title": "租金补贴",
            "demands-1-description": "咨询租金补贴。",
            "demands-1-urgency": "urgent",
        },
    )
    response = post_form(client, url, data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    visit = db.session.scalar(select(Visit))
    assert response.headers["Location"].endswith(f"/visits/{visit.id}")
    assert [p.name for p in visit.participants] == [dept_user.display_name, "王科长"]
    assert visit.joint
    demands = db.session.scalars(select(Demand).order_by(Demand.id)).all()
    assert [(d.title, d.channel, d.visit_id) for d in demands] == [
        ("招工难", "visit", visit.id),
        ("租金补贴", "visit", visit.id),
    ]
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    for d in demands:
        assert f"/demands/{d.id}" in page
    # The demands are in the demand loop: the demand list shows them.
    listing = client.get("/demands/").get_data(as_text=True)
    assert "招工难" in listing and "租金补贴" in listing


def test_a_form_sent_twice_records_one_visit_and_one_demand(client, login_as, home, category):
    _street, firm, commissioner = home
    login_as(commissioner)
    url = f"/visits/new?firm_id={firm.id}"
    page = client.get(url).get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    data = _form(
        firm,
        submission_key=key,
        **{
            "demands-0-category_id": str(category().id),
            "demands-0-title": "用电扩容",
            "demands-0-description": "新厂房需要增容。",
            "demands-0-urgency": "normal",
        },
    )
    first = post_form(client, url, data)
    again = post_form(client, url, data)  # a double tap, or a retry on a bad connection
    (visit,) = db.session.scalars(select(Visit)).all()
    assert first.headers["Location"] == again.headers["Location"]
    assert again.headers["Location"].endswith(f"/visits/{visit.id}")
    assert [d.title for d in db.session.scalars(select(Demand))] == ["用电扩容"]


def test_the_form_keeps_what_was_typed_on_error(client, login_as, home, category):
    _street, firm, commissioner = home
    login_as(commissioner)
    data = _form(
        firm,
        **{
            "summary": "",
            "participants-0-name": "李娜",
            "participants-0-unit": "区人社局",
            "demands-0-category_id": str(category().id),
            "demands-0-title": "社保补贴怎么申请",
            "demands-0-description": "",
        },
    )
    response = post_form(client, f"/visits/new?firm_id={firm.id}", data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "李娜" in body and "区人社局" in body and "社保补贴怎么申请" in body
    assert "is-invalid" in body
    assert db.session.scalars(select(Visit)).all() == []
    assert db.session.scalars(select(Demand)).all() == []


def test_a_future_date_is_refused_with_the_form(client, login_as, home):
    _street, firm, commissioner = home
    login_as(commissioner)
    data = _form(firm, visited_on=(today() + timedelta(days=3)).isoformat())
    response = post_form(client, f"/visits/new?firm_id={firm.id}", data)
    assert response.status_code == 422
    assert "与企业负责人座谈" in response.get_data(as_text=True)


def test_the_courtesy_warning_asks_for_a_reason(client, login_as, home):
    _street, firm, commissioner = home
    firm.tier = None  # one unrequested visit in 30 days
    db.session.commit()
    _visit(firm, commissioner, days_ago=5)
    login_as(commissioner)
    url = f"/visits/new?firm_id={firm.id}"
    assert 'name="courtesy_override"' in client.get(url).get_data(as_text=True)
    response = post_form(client, url, _form(firm))
    assert response.status_code == 422
    assert "courtesy_override" in response.get_data(as_text=True)
    assert len(db.session.scalars(select(Visit)).all()) == 1
    response = post_form(client, url, _form(firm, courtesy_override="企业主动来电要求"))
    assert response.status_code == 302
    assert db.session.scalar(select(Visit).order_by(Visit.id.desc())).courtesy_override


def test_a_commissioner_of_another_street_may_not_open_the_form(
    client, login_as, home, make_street
):
    _street, firm, _commissioner = home
    login_as("commissioner", street=make_street())
    assert client.get(f"/visits/new?firm_id={firm.id}").status_code == 403


def test_the_firm_picker_finds_firms_in_scope(client, login_as, home, make_firm, make_street):
    _street, firm, commissioner = home
    make_firm(street=make_street(), name="上海别处走访科技有限公司")
    login_as(commissioner)
    body = client.get("/visits/new?q=走访").get_data(as_text=True)
    assert firm.name in body
    assert "别处" not in body


def test_edit_by_the_office(client, login_as, home):
    _street, firm, commissioner = home
    visit = _visit(firm, commissioner)
    login_as("office")
    url = f"/visits/{visit.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "走访了解经营情况。" in page
    loaded = services.fingerprint(visit)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "loaded": loaded,
            "visited_on": visit.visited_on.isoformat(),
            "method": "phone",
            "summary": "电话回访，企业经营正常。",
        },
    )
    assert response.status_code == 302
    db.session.refresh(visit)
    assert (visit.method, visit.summary) == ("phone", "电话回访，企业经营正常。")
    # A second save from the same stale page is refused and keeps the typing.
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "loaded": loaded,
            "visited_on": visit.visited_on.isoformat(),
            "method": "meeting",
            "summary": "迟到的修改",
        },
    )
    assert response.status_code == 409
    assert "迟到的修改" in response.get_data(as_text=True)


def test_another_commissioner_of_the_street_reads_but_does_not_edit(
    client, login_as, home, make_user
):
    street, firm, commissioner = home
    visit = _visit(firm, commissioner)
    login_as("commissioner", street=street)
    assert client.get(f"/visits/{visit.id}").status_code == 200
    assert client.get(f"/visits/{visit.id}/edit").status_code == 403


# -- the ledger ---------------------------------------------------------------------------


@pytest.fixture
def ledger_world(home, make_street, make_firm, make_user, make_department):
    street, firm, commissioner = home
    other_street = make_street(name="新泾镇")
    other_firm = make_firm(street=other_street, name="上海新泾贸易有限公司", tier="local")
    office = make_user("office")
    dept = make_department(name="区科委")
    joint = _visit(
        firm,
        commissioner,
        days_ago=20,
        participants=[{"name": "科委联络员", "level": "department", "department_id": dept.id}],
    )
    phone = _visit(firm, commissioner, days_ago=2, method="phone")
    away = _visit(other_firm, office, days_ago=40)
    return {"street": street, "dept": dept, "joint": joint, "phone": phone, "away": away}


def _ids(body: str, world) -> set[str]:
    return {k for k in ("joint", "phone", "away") if f'data-visit="{world[k].id}"' in body}


def test_ledger_filters(client, login_as, ledger_world):
    login_as("office")
    w = ledger_world
    assert _ids(client.get("/visits/").get_data(as_text=True), w) == {"joint", "phone", "away"}
    assert _ids(client.get("/visits/?method=phone").get_data(as_text=True), w) == {"phone"}
    assert _ids(client.get("/visits/?joint=y").get_data(as_text=True), w) == {"joint"}
    assert _ids(client.get("/visits/?q=新泾").get_data(as_text=True), w) == {"away"}
    assert _ids(client.get("/visits/?tier=local").get_data(as_text=True), w) == {"away"}
    start = (today() - timedelta(days=30)).isoformat()
    body = client.get(f"/visits/?visited_from={start}").get_data(as_text=True)
    assert _ids(body, w) == {"joint", "phone"}
    body = client.get(f"/visits/?street_id={w['street'].id}").get_data(as_text=True)
    assert _ids(body, w) == {"joint", "phone"}
    # A wrong filter is shown and left out; the page still answers.
    response = client.get("/visits/?visited_from=not-a-date")
    assert response.status_code == 200
    assert _ids(response.get_data(as_text=True), w) == {"joint", "phone", "away"}


def test_ledger_scope_by_role(client, login_as, ledger_world, make_user):
    w = ledger_world
    login_as("street", street=w["street"])
    assert _ids(client.get("/visits/").get_data(as_text=True), w) == {"joint", "phone"}
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    login_as("department", department=w["dept"])
    assert _ids(client.get("/visits/").get_data(as_text=True), w) == {"joint"}
    assert client.get(f"/visits/{w['phone'].id}").status_code == 404


def test_export_holds_the_filtered_rows(client, login_as, ledger_world):
    login_as("office")
    response = client.get("/visits/export.xlsx?method=on_site")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("走访日期", "企业名称")
    firms = sorted(r[1] for r in rows[1:])
    assert firms == ["上海华阳走访科技有限公司", "上海新泾贸易有限公司"]
    joint_row = next(r for r in rows[1:] if r[1] == "上海华阳走访科技有限公司")
    assert "科委联络员" in joint_row[8]
    assert joint_row[7] == "是"


def _many_visits(firm, actor, n, category):
    for i in range(n):
        services.log_visit(
            firm,
            actor=actor,
            visited_on=today() - timedelta(days=i),
            method="on_site",
            summary=f"第{i}次走访",
            participants=[{"name": f"参与人{i}", "level": "district"}],
            demands=[{"category_id": category().id, "title": f"诉求{i}", "description": "内容"}],
            courtesy_override="测试",
        )
    db.session.commit()


def test_ledger_statement_count_does_not_grow_with_rows(
    client, login_as, home, category, count_queries
):
    _street, firm, commissioner = home
    login_as("office")

    def statements():
        with count_queries() as queries:
            assert client.get("/visits/?per_page=50").status_code == 200
        return len(queries)

    _many_visits(firm, commissioner, 3, category)
    few = statements()
    _many_visits(firm, commissioner, 27, category)
    assert statements() == few


def test_the_firm_page_partial_lists_visits_and_offers_to_log_one(app, home, make_user):
    from flask import render_template_string
    from flask_login import login_user

    _street, firm, commissioner = home
    visit = _visit(firm, commissioner, days_ago=40, method="phone")
    template = (
        "{% with visits = recent_visits(firm.id) %}"
        '{% include "visits/_firm_visits.html" %}{% endwith %}'
    )
    with app.test_request_context("/"):
        login_user(commissioner)
        html = render_template_string(template, firm=firm)
    assert f"/visits/new?firm_id={firm.id}" in html
    assert f'href="/visits/{visit.id}"' in html
    # District: every 30 days; the visit was 40 days ago.
    assert "badge text-bg-danger" in html
    with app.test_request_context("/"):
        login_user(make_user("firm", firm=firm))
        assert "/visits/" not in render_template_string(template, firm=firm)
    with app.test_request_context("/"):
        login_user(make_user("leader"))
        html = render_template_string(template, firm=firm)
        assert "Log a visit" not in html and "/visits/new" not in html
