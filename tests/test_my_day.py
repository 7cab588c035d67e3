"""My day (/my-day/): a commissioner's firms with their next visit due, open demands,
cases and portal requests, and what falls due this week, in a fixed number of statements."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from crm.assistance.models import AssistanceCase, CaseStage, CaseType
from crm.extensions import db
from crm.portal.models import ServiceRequest
from crm.visits.models import Visit
from crm.workcal.services import today
from tests.conftest import english, login


@pytest.fixture
def visit(app):
    def _visit(firm, commissioner, days_ago: int, **kw):
        v = Visit(
            firm_id=firm.id,
            street_id=firm.street_id,
            commissioner_id=commissioner.id,
            visited_on=today() - timedelta(days=days_ago),
            method="on_site",
            summary="了解企业经营情况。",
            created_by_id=commissioner.id,
            **kw,
        )
        db.session.add(v)
        db.session.commit()
        return v

    return _visit


@pytest.fixture
def open_case(app):
    def _case(firm, owner, *, code="REG", position=1, days_open=12, title="工商注册帮办"):
        case_type = db.session.scalar(select(CaseType).where(CaseType.code == code))
        stage = db.session.scalar(
            select(CaseStage).where(
                CaseStage.case_type_id == case_type.id, CaseStage.position == position
            )
        )
        opened = today() - timedelta(days=days_open)
        case = AssistanceCase(
            number=f"BB{opened:%Y%m%d}{db.session.query(AssistanceCase).count() + 1:06d}",
            case_type_id=case_type.id,
            firm_id=firm.id if firm else None,
            street_id=(firm.street_id if firm else owner.street_id),
            title=title,
            stage_id=stage.id,
            owner_id=owner.id,
            opened_on=opened,
            created_by_id=owner.id,
        )
        db.session.add(case)
        db.session.commit()
        return case

    return _case


@pytest.fixture
def service_request(app, make_user):
    def _request(firm, commissioner, *, scheduled_for=None, state="requested"):
        asker = make_user("firm", firm=firm)
        req = ServiceRequest(
            firm_id=firm.id,
            street_id=firm.street_id,
            kind="onsite",
            state=state,
            details="请专员上门了解扩招需求。",
            preferred_date=today(),
            commissioner_id=commissioner.id,
            requested_by_id=asker.id,
            scheduled_for=scheduled_for,
        )
        db.session.add(req)
        db.session.commit()
        return req

    return _request


def test_a_commissioner_lands_on_its_day(client, login_as):
    login_as("commissioner")
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/my-day/")


def test_with_nothing_assigned_the_day_says_so(client, login_as):
    login_as("commissioner")
    english(client)
    page = client.get("/my-day/").get_data(as_text=True)
    assert "No firms assigned to you yet" in page
    assert "No open demands of your firms" in page
    assert "No open assistance cases" in page


def test_only_commissioners_open_it(client, login_as):
    login_as("street")
    assert client.get("/my-day/").status_code == 403


def test_firms_show_last_visit_and_next_due_soonest_first_overdue_marked(
    client, login_as, make_street, make_firm, make_user, assign, visit
):
    street = make_street()
    me = make_user("commissioner", street=street)
    colleague = make_user("commissioner", street=street)
    # District tier: every 30 days. Last seen 40 days ago: 10 days overdue.
    late = make_firm(street=street, name="逾期走访企业", tier="district")
    # No tier: every 180 days. Seen 20 days ago: due in 160 days.
    fine = make_firm(street=street, name="刚走访企业", tier=None)
    backup = make_firm(street=street, name="备岗企业", tier="local")
    theirs = make_firm(street=street, name="别人的企业", tier="district")
    assign(late, me)
    assign(fine, me)
    assign(backup, colleague)
    assign(backup, me, "backup")
    assign(theirs, colleague)
    visit(late, me, 40)
    visit(late, me, 70)
    visit(fine, colleague, 20)

    login_as(me)
    page = client.get("/my-day/").get_data(as_text=True)
    firms = re.findall(r'data-firm="(\d+)"', page)
    assert firms == [str(late.id), str(backup.id), str(fine.id)]
    assert "别人的企业" not in page
    late_row = page.split(f'data-firm="{late.id}"')[1].split("</li>")[0]
    assert "data-overdue" in late_row
    assert (today() - timedelta(days=40)).isoformat() in late_row
    assert (today() - timedelta(days=10)).isoformat() in late_row  # the due date
    fine_row = page.split(f'data-firm="{fine.id}"')[1].split("</li>")[0]
    assert "data-overdue" not in fine_row
    assert (today() + timedelta(days=160)).isoformat() in fine_row
    assert 'data-overdue-firms="1"' in page


def test_a_firm_never_visited_is_due_from_its_assignment(
    client, login_as, make_street, make_firm, make_user, assign
):
    street = make_street()
    me = make_user("commissioner", street=street)
    firm = make_firm(street=street, tier="sector")  # every 60 days
    a = assign(firm, me)
    a.started_at = datetime.combine(today() - timedelta(days=70), datetime.min.time())
    db.session.commit()

    login_as(me)
    page = client.get("/my-day/").get_data(as_text=True)
    row = page.split(f'data-firm="{firm.id}"')[1].split("</li>")[0]
    assert "data-overdue" in row
    assert (today() - timedelta(days=10)).isoformat() in row


def test_demands_cases_and_requests_of_my_firms(
    client,
    login_as,
    make_street,
    make_firm,
    make_user,
    assign,
    make_demand,
    open_case,
    service_request,
):
    street = make_street()
    me = make_user("commissioner", street=street)
    other = make_user("commissioner", street=street)
    mine = make_firm(street=street, name="我的企业")
    theirs = make_firm(street=street, name="同事的企业")
    assign(mine, me)
    assign(theirs, other)
    late = make_demand(mine, title="逾期的诉求")
    late.due_on = today() - timedelta(days=2)
    soon = make_demand(mine, title="本周到期的诉求")
    soon.due_on = today() + timedelta(days=(6 - today().weekday()))  # this Sunday
    closed = make_demand(mine, title="已办结的诉求")
    closed.state = "closed"
    hidden = make_demand(theirs, title="同事企业的诉求")
    db.session.commit()
    case = open_case(mine, other, title="我的企业的注册帮办", days_open=12)
    owned = open_case(theirs, me, code="FIN", title="我负责的融资对接")
    not_mine = open_case(theirs, other, title="不相干的帮办")
    req = service_request(mine, me)

    login_as(me)
    page = client.get("/my-day/").get_data(as_text=True)
    for shown in (late.title, soon.title, case.title, owned.title):
        assert shown in page
    for absent in (closed.title, hidden.title, not_mine.title):
        assert absent not in page
    late_row = page.split(f'data-demand="{late.id}"')[1].split("</li>")[0]
    assert "data-overdue" in late_row
    case_row = page.split(f'data-case="{case.id}"')[1].split("</li>")[0]
    assert "对接需求" not in case_row and "准备材料" in case_row  # stage at position 1
    assert "12" in case_row  # days open
    assert f'data-request="{req.id}"' in page
    # This week: the demand deadline and the service request asked for today.
    week = page.split('id="this-week"')[1].split("</section>")[0]
    assert soon.title in week
    assert 'data-week-item="request"' in week


def _build(n, *, street, me, make_firm, assign, make_demand, visit, open_case, service_request):
    for i in range(n):
        firm = make_firm(street=street, tier=("district", "sector", "local", None)[i % 4])
        assign(firm, me, "primary" if i % 3 else "backup")
        visit(firm, me, 10 + i)
        visit(firm, me, 100 + i)
        demand = make_demand(firm, actor=me)
        demand.due_on = today() + timedelta(days=i % 9 - 3)
        db.session.commit()
        open_case(firm, me, code=("REG", "SITE", "HIRE", "FIN", "TAL", "HOUSE")[i % 6])
        service_request(firm, me)


def test_the_page_runs_the_same_statements_for_3_firms_and_for_30(
    app,
    count_queries,
    make_street,
    make_firm,
    make_user,
    assign,
    make_demand,
    visit,
    open_case,
    service_request,
):
    street = make_street()
    few = make_user("commissioner", street=street)
    many = make_user("commissioner", street=street)
    kw = dict(
        street=street,
        make_firm=make_firm,
        assign=assign,
        make_demand=make_demand,
        visit=visit,
        open_case=open_case,
        service_request=service_request,
    )
    _build(3, me=few, **kw)
    _build(30, me=many, **kw)

    def statements(user) -> tuple[int, str]:
        client = app.test_client()
        login(client, user.username)
        client.get("/my-day/")  # warm: the session's first request reads more
        with count_queries() as queries:
            page = client.get("/my-day/")
        assert page.status_code == 200
        return len(queries), page.get_data(as_text=True)

    n_few, page_few = statements(few)
    n_many, page_many = statements(many)
    assert page_few.count("data-firm=") == 3 and page_many.count("data-firm=") == 30
    assert page_many.count("data-case=") == 30
    assert n_few == n_many, (n_few, n_many)
