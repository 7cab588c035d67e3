"""The ledger (台账): every demand in the user's scope, its filters, and its Excel export."""

import io
import re
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.auth.models import User
from crm.demands import services
from crm.demands.ledger import LedgerFilter, ledger_query
from crm.demands.ledger_export import COLUMNS
from crm.demands.models import Demand
from crm.demands.services import Unit
from crm.demo.plan import DEMO_PASSWORD
from crm.extensions import db
from crm.workcal.services import today
from tests.conftest import csrf_token, login

NUMBER = re.compile(r'<a href="/demands/\d+"[^>]*>(SQ\d+)</a>')


def listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return set(NUMBER.findall(response.get_data(as_text=True)))


def exported(response) -> list[tuple]:
    assert response.status_code == 200
    return list(load_workbook(io.BytesIO(response.data), read_only=True).active.values)


def ledger_total(user, filters: LedgerFilter) -> int:
    stmt = ledger_query(user, filters, today=today())
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


@pytest.fixture
def world(make_street, make_department, make_firm, make_user, make_demand):
    """Two streets, two departments, and demands in several states and channels."""
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    market, tax = make_department(name="区市场监管局"), make_department(name="区税务局")
    leader = make_user("leader")
    office = make_user("office")
    home_firm = make_firm(name="上海华阳云端软件有限公司", street=home, leader_id=leader.id)
    away_firm = make_firm(name="上海新泾物流有限公司", street=away)

    submitted = make_demand(home_firm, actor=office, title="企业开办一网通办遇到问题")

    joint = make_demand(
        home_firm, actor=office, code="TAX", channel="visit", title="跨区迁移税务清税咨询"
    )
    services.accept_demand(joint, actor=office)
    services.dispatch_demand(
        joint,
        actor=office,
        level=3,
        lead=Unit(department=market),
        co_units=[Unit(department=tax)],
    )
    joint.due_on = today() - timedelta(days=3)  # open past its deadline

    late = make_demand(away_firm, actor=office, channel="walk_in", title="人才落户积分材料审核进度")
    services.accept_demand(late, actor=office)
    (task,) = services.dispatch_demand(late, actor=office, level=1, lead=Unit(street=away))
    centre = make_user("street", street=away)
    services.accept_task(task, actor=centre)
    services.resolve_task(task, actor=centre, resolution="已协调办理。")
    late.due_on = today() - timedelta(days=10)  # resolved after its deadline

    rejected = make_demand(away_firm, actor=office, channel="walk_in", title="办公场地续租补贴咨询")
    services.reject_demand(rejected, actor=office, reason="不属于受理范围")
    db.session.commit()
    return {
        "home": home,
        "away": away,
        "market": market,
        "tax": tax,
        "leader": leader,
        "home_firm": home_firm,
        "away_firm": away_firm,
        "submitted": submitted,
        "joint": joint,
        "late": late,
        "rejected": rejected,
    }


def numbers(*demands) -> set[str]:
    return {d.number for d in demands}


# -- who sees what -----------------------------------------------------------------------


def test_the_office_sees_every_demand(client, login_as, world):
    login_as("office")
    w = world
    assert listed(client, "/ledger/") == numbers(
        w["submitted"], w["joint"], w["late"], w["rejected"]
    )


def test_each_role_sees_its_scope(client, login_as, make_user, world):
    w = world
    login_as("street", street=w["home"])
    assert listed(client, "/ledger/") == numbers(w["submitted"], w["joint"])
    client.post("/logout", data={"csrf_token": csrf_token(client, "/ledger/")})

    login_as("commissioner", street=w["away"])
    assert listed(client, "/ledger/") == numbers(w["late"], w["rejected"])
    client.post("/logout", data={"csrf_token": csrf_token(client, "/ledger/")})

    login_as("department", department=w["tax"])
    assert listed(client, "/ledger/") == numbers(w["joint"])
    client.post("/logout", data={"csrf_token": csrf_token(client, "/ledger/")})

    login_as(w["leader"])
    assert listed(client, "/ledger/") == numbers(w["submitted"], w["joint"])


@pytest.mark.parametrize("role", ["firm", "admin"])
def test_firms_and_the_admin_have_no_ledger(client, login_as, role):
    login_as(role)
    assert client.get("/ledger/").status_code == 403
    assert client.get("/ledger/export.xlsx").status_code == 403


def test_anonymous_users_go_to_login(client):
    response = client.get("/ledger/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_empty_ledger_says_so(client, login_as):
    login_as("office")
    page = client.get("/ledger/?lang=en").get_data(as_text=True)
    assert "No demands yet" in page
    page = client.get("/ledger/?lang=en&q=nothing").get_data(as_text=True)
    assert "No demand matches these filters" in page


# -- filters -----------------------------------------------------------------------------


def test_filters(client, login_as, category, world):
    w = world
    login_as("office")
    cases = {
        "state=open": numbers(w["submitted"], w["joint"]),
        "state=rejected": numbers(w["rejected"]),
        "state=resolved": numbers(w["late"]),
        f"street_id={w['away'].id}": numbers(w["late"], w["rejected"]),
        f"department_id={w['tax'].id}": numbers(w["joint"]),
        f"department_id={w['market'].id}": numbers(w["joint"]),
        f"category_id={category('TAX').id}": numbers(w["joint"]),
        "level=3": numbers(w["joint"]),
        "level=1": numbers(w["late"]),
        "channel=walk_in": numbers(w["late"], w["rejected"]),
        "deadline=overdue": numbers(w["joint"]),
        "deadline=late": numbers(w["late"]),
        "q=" + w["joint"].number: numbers(w["joint"]),
        "q=一网通办": numbers(w["submitted"]),
        "q=新泾物流": numbers(w["late"], w["rejected"]),
        "state=open&channel=visit": numbers(w["joint"]),
    }
    for query, expected in cases.items():
        assert listed(client, f"/ledger/?{query}") == expected, query


def test_a_paused_demand_is_not_overdue(client, login_as, world):
    world["joint"].paused_at = datetime(2026, 1, 5, 2, 0)
    db.session.commit()
    login_as("office")
    assert listed(client, "/ledger/?deadline=overdue") == set()


def test_dates_are_days_in_shanghai(client, login_as, world):
    demand = world["submitted"]
    # 17:30 UTC on 1 March is 01:30 on 2 March in Shanghai.
    demand.submitted_at = datetime(2026, 3, 1, 17, 30)
    db.session.commit()
    login_as("office")
    assert demand.number in listed(
        client, "/ledger/?submitted_from=2026-03-02&submitted_to=2026-03-02"
    )
    assert demand.number not in listed(client, "/ledger/?submitted_to=2026-03-01")
    assert demand.number not in listed(client, "/ledger/?submitted_from=2026-03-03")
    # 16:00 UTC is midnight in Shanghai: the first moment of 2 March.
    demand.submitted_at = datetime(2026, 3, 1, 16, 0)
    db.session.commit()
    assert demand.number in listed(client, "/ledger/?submitted_from=2026-03-02")
    assert demand.number not in listed(client, "/ledger/?submitted_to=2026-03-01")


@pytest.mark.parametrize(
    "query",
    [
        "level=abc",
        "level=7",
        "state=nonsense",
        "channel=fax",
        "deadline=yesterday",
        "category_id=99999",
        "street_id=x",
        "department_id=-1",
        "submitted_from=2026-13-45",
        "submitted_from=0001-01-01",
        "submitted_to=9999-12-31",
        "submitted_from=2026-05-01&submitted_to=2026-04-01",
        "q=" + "长" * 200,
        "page=abc",
        "per_page=-5",
    ],
)
def test_a_wrong_filter_is_left_out_with_an_error(client, login_as, world, query):
    login_as("office")
    response = client.get(f"/ledger/?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    if not query.startswith(("page", "per_page")):
        assert "is-invalid" in page
    everything = numbers(world["submitted"], world["joint"], world["late"], world["rejected"])
    if query.startswith("submitted_from=2026-05-01"):
        # Only the end date is wrong; the start date still applies.
        assert set(NUMBER.findall(page)) <= everything
    else:
        assert set(NUMBER.findall(page)) == everything


def test_a_page_runs_a_fixed_number_of_statements(
    client,
    login_as,
    make_firm,
    make_street,
    make_department,
    make_user,
    make_demand,
    count_queries,
):
    street, department = make_street(), make_department()
    office = make_user("office")
    login_as("office")

    def add(n: int) -> None:
        for i in range(n):
            demand = make_demand(make_firm(street=street), actor=office)
            if i % 2:
                services.accept_demand(demand, actor=office)
                services.dispatch_demand(
                    demand,
                    actor=office,
                    level=3,
                    lead=Unit(department=department),
                    co_units=[Unit(street=street)],
                )
        db.session.commit()

    def statements(url: str) -> int:
        with count_queries() as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    add(5)
    statements("/ledger/")  # warm up: first-request work is not the page's
    small = statements("/ledger/?per_page=50")
    add(35)
    assert len(listed(client, "/ledger/?per_page=50")) == 40
    large = statements("/ledger/?per_page=50")
    assert small == large
    assert statements("/ledger/?per_page=5&page=3&state=open&q=SQ") == small


def test_pages(client, login_as, make_firm, make_user, make_demand):
    office = make_user("office")
    firm = make_firm()
    for _ in range(7):
        make_demand(firm, actor=office)
    login_as("office")
    first = listed(client, "/ledger/?per_page=5")
    second = listed(client, "/ledger/?per_page=5&page=2")
    assert len(first) == 5 and len(second) == 2 and not first & second
    assert listed(client, "/ledger/?per_page=5&page=9") == set()


# -- export ------------------------------------------------------------------------------


def test_export_holds_the_pages_selection(client, login_as, category, world):
    w = world
    user = login_as("office")
    filters = {
        "": LedgerFilter(),
        "state=open": LedgerFilter(state="open"),
        f"street_id={w['away'].id}": LedgerFilter(street_id=w["away"].id),
        f"department_id={w['tax'].id}": LedgerFilter(department_id=w["tax"].id),
        "deadline=overdue": LedgerFilter(lateness="overdue"),
        "deadline=late": LedgerFilter(lateness="late"),
        "channel=walk_in&q=新泾": LedgerFilter(channel="walk_in", q="新泾"),
        "level=abc": LedgerFilter(),  # ignored on the page, ignored in the file
    }
    for query, expected in filters.items():
        rows = exported(client.get(f"/ledger/export.xlsx?{query}"))
        assert rows[0] == tuple(header for header, _k, _w in COLUMNS)
        total = ledger_total(user, expected)
        assert len(rows) - 1 == total, query
        assert {r[0] for r in rows[1:]} == listed(client, f"/ledger/?per_page=200&{query}")
    audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "demand.export")).all()
    assert len(audits) == len(filters)


def test_export_rows_in_chinese(client, login_as, world):
    login_as("office")
    response = client.get(f"/ledger/export.xlsx?q={world['joint'].number}&lang=en")
    assert (
        "filename*=UTF-8''%E8%AF%89%E6%B1%82%E5%8F%B0%E8%B4%A6-"
        in (response.headers["Content-Disposition"])
    )
    assert (
        f'filename="demands-{today().isoformat()}.xlsx"'
        in (response.headers["Content-Disposition"])
    )
    header, row = exported(response)
    values = dict(zip(header, row, strict=False))  # trailing empty cells are not read
    assert values["企业名称"] == "上海华阳云端软件有限公司"
    assert values["所属街镇"] == "华阳路街道"
    assert values["渠道"] == "走访"
    assert values["办理层级"].startswith("三级")
    assert values["状态"] == "已派单"
    assert values["主办单位"] == "区市场监管局"
    assert values["协办单位"] == "区税务局"
    assert values["超期情况"] == "超期未办结"
    assert isinstance(values["提交时间"], datetime)


def test_export_keeps_formulas_as_text(client, login_as, make_firm, make_user, make_demand):
    office = make_user("office")
    make_demand(make_firm(name='=HYPERLINK("http://x")公司'), actor=office, title="=1+1")
    login_as("office")
    _header, row = exported(client.get("/ledger/export.xlsx"))
    assert row[2] == '=HYPERLINK("http://x")公司'
    assert row[6] == "=1+1"


def test_export_keeps_to_the_users_scope(client, login_as, world):
    login_as("department", department=world["tax"])
    rows = exported(client.get(f"/ledger/export.xlsx?street_id={world['away'].id}"))
    assert len(rows) == 1  # the headers: the tax office has nothing in that street
    rows = exported(client.get("/ledger/export.xlsx"))
    assert [r[0] for r in rows[1:]] == [world["joint"].number]


def test_export_runs_a_fixed_number_of_statements(
    client, login_as, make_firm, make_user, make_demand, count_queries
):
    office = make_user("office")
    firm = make_firm()
    login_as("office")

    def statements_for(total: int) -> int:
        while db.session.scalar(select(func.count()).select_from(Demand)) < total:
            make_demand(firm, actor=office)
        with count_queries() as queries:
            rows = exported(client.get("/ledger/export.xlsx"))
        assert len(rows) == total + 1
        return len(queries)

    assert statements_for(3) == statements_for(30)


def test_the_demo_districts_ledger_and_its_export_agree(runner, client):
    """On the demo district's loop: every filter's file holds the page's count of rows."""
    assert runner.invoke(args=["crm", "seed-demo", "--scale", "small"]).exit_code == 0
    db.session.rollback()
    office = db.session.scalar(select(User).where(User.username == "demo-office"))
    street = db.session.scalar(select(User).where(User.username == "demo-street"))
    department = db.session.scalar(select(User).where(User.username == "demo-department"))
    assert login(client, "demo-office", DEMO_PASSWORD).status_code == 302
    start = (today() - timedelta(days=60)).isoformat()
    filters = {
        "": LedgerFilter(),
        "state=open": LedgerFilter(state="open"),
        "state=closed": LedgerFilter(state="closed"),
        "deadline=overdue": LedgerFilter(lateness="overdue"),
        "deadline=late": LedgerFilter(lateness="late"),
        "level=3&channel=visit": LedgerFilter(level=3, channel="visit"),
        f"department_id={department.department_id}": LedgerFilter(
            department_id=department.department_id
        ),
        f"street_id={street.street_id}&state=submitted": LedgerFilter(
            street_id=street.street_id, state="submitted"
        ),
        f"submitted_from={start}": LedgerFilter(submitted_from=date.fromisoformat(start)),
    }
    for query, expected in filters.items():
        total = ledger_total(office, expected)
        assert total, query  # the demo has something under every filter
        rows = exported(client.get(f"/ledger/export.xlsx?{query}"))
        assert len(rows) - 1 == total, query
        if total <= 200:
            assert len(listed(client, f"/ledger/?per_page=200&{query}")) == total, query
