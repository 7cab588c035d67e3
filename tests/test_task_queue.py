"""The handling queue: each unit sees its own tasks, filters narrow, deadlines show."""

import re

import pytest
from sqlalchemy import select

from crm.demands.models import DemandTask, ExtensionRequest
from crm.demands.services import Unit, accept_demand, accept_task, dispatch_demand
from crm.extensions import db
from crm.org.models import Department
from crm.timeutil import utcnow
from crm.workcal.services import current_calendar, today

ROW = re.compile(r'<tr data-task="(\d+)"')


@pytest.fixture
def office(make_user):
    return make_user("office")


@pytest.fixture
def dispatch(make_demand, office):
    """``dispatch(firm, lead, co=[...], level=3)``: a demand dispatched; its tasks."""

    def _unit(unit) -> Unit:
        return Unit(department=unit) if isinstance(unit, Department) else Unit(street=unit)

    def _dispatch(firm, lead, *, co=(), level=3, **kw):
        demand = make_demand(firm, actor=office, **kw)
        accept_demand(demand, actor=office)
        tasks = dispatch_demand(
            demand, actor=office, level=level, lead=_unit(lead), co_units=[_unit(u) for u in co]
        )
        db.session.commit()
        return tasks

    return _dispatch


def listed(client, url: str = "/tasks/") -> list[int]:
    """The task ids on the page, in order."""
    response = client.get(url)
    assert response.status_code == 200
    return [int(i) for i in ROW.findall(response.get_data(as_text=True))]


def row_html(client, task_id: int, url: str = "/tasks/") -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(rf'<tr data-task="{task_id}".*?</tr>', page, re.S)
    assert match, f"task {task_id} is not on {url}"
    return match.group(0)


def set_due(task: DemandTask, working_days: int) -> None:
    """Move ``task``'s deadline to that many working days from today (negative: past)."""
    task.due_on = current_calendar().add_working_days(today(), working_days).day
    db.session.commit()


# -- who sees what -----------------------------------------------------------------------


def test_a_department_handler_never_sees_another_departments_tasks(
    client, login_as, make_user, make_department, make_firm, dispatch
):
    mine, theirs = make_department(), make_department()
    lead_mine = dispatch(make_firm(), mine, title="本部门主办的诉求")[0]
    lead_theirs = dispatch(make_firm(), theirs, title="别的部门主办的诉求")[0]
    joint = dispatch(make_firm(), theirs, co=[mine], title="本部门协办的诉求")
    login_as(make_user("department", department=mine))

    response = client.get("/tasks/")
    page = response.get_data(as_text=True)
    assert set(listed(client)) == {lead_mine.id, joint[1].id}
    assert "别的部门主办的诉求" not in page
    assert lead_theirs.demand.number not in page
    # The other department's lead task on the joint demand is not listed either.
    assert joint[0].id not in listed(client, "/tasks/?state=any")


def test_a_street_user_never_sees_another_streets_tasks(
    client, login_as, make_user, make_street, make_department, make_firm, dispatch
):
    home, away = make_street(), make_street()
    ours = dispatch(make_firm(street=home), home, level=2, title="本街道二级诉求")[0]
    theirs = dispatch(make_firm(street=away), away, level=2, title="外街道二级诉求")[0]
    # A demand of our street handled by a department is not our task.
    dispatch(make_firm(street=home), make_department(), level=3, title="部门承办的诉求")
    login_as(make_user("street", street=home))

    page = client.get("/tasks/").get_data(as_text=True)
    assert listed(client) == [ours.id]
    assert "外街道二级诉求" not in page
    assert theirs.demand.number not in page
    assert "部门承办的诉求" not in page


def test_a_commissioner_sees_its_streets_level_1_tasks_only(
    client, login_as, make_user, make_street, make_firm, dispatch
):
    home, away = make_street(), make_street()
    level1 = dispatch(make_firm(street=home), home, level=1)[0]
    dispatch(make_firm(street=home), home, level=2)
    dispatch(make_firm(street=away), away, level=1)
    login_as(make_user("commissioner", street=home))
    assert listed(client) == [level1.id]


def test_a_handler_without_a_unit_sees_nothing(client, login_as, make_user, make_firm, dispatch):
    """A department user whose department is unset must not match every street task."""
    street_task = dispatch(make_firm(), make_firm().street, level=3)[0]
    assert street_task.department_id is None
    login_as(make_user("department", department_id=None))
    assert listed(client, "/tasks/?state=any") == []


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("department", 200),
        ("street", 200),
        ("commissioner", 200),
        ("office", 403),
        ("leader", 403),
        ("firm", 403),
        ("admin", 403),
    ],
)
def test_who_may_open_the_queue(client, login_as, role, status):
    login_as(role)
    assert client.get("/tasks/").status_code == status


def test_anonymous_users_go_to_login(client):
    response = client.get("/tasks/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# -- order and filters -------------------------------------------------------------------


@pytest.fixture
def queue(make_user, make_department, make_firm, dispatch):
    """A department with one task of each kind the filters tell apart; its handler."""
    dept, other = make_department(), make_department()
    t = {
        "late": dispatch(make_firm(name="逾期科技有限公司"), dept, title="逾期的诉求")[0],
        "soon": dispatch(make_firm(), dept, title="明天到期的诉求")[0],
        "later": dispatch(make_firm(), dept, code="FIN", title="融资对接诉求")[0],
        "co": dispatch(make_firm(), other, co=[dept], title="协办的诉求")[1],
        "returned": dispatch(make_firm(), dept, title="已退回的诉求")[0],
        "resolved": dispatch(make_firm(), dept, title="已办结的诉求")[0],
        "cancelled": dispatch(make_firm(), dept, title="已取消的诉求")[0],
    }
    set_due(t["late"], -2)
    set_due(t["soon"], 1)
    set_due(t["later"], 20)
    set_due(t["co"], 8)
    for name in ("returned", "resolved", "cancelled"):
        t[name].state = name
    t["later"].state = "accepted"
    db.session.commit()
    return make_user("department", department=dept), t


def ids(tasks: dict, *names) -> list[int]:
    return [tasks[n].id for n in names]


def test_open_tasks_by_default_soonest_deadline_first(client, login_as, queue):
    user, t = queue
    login_as(user)
    assert listed(client) == ids(t, "late", "soon", "co", "later")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=pending", ["late", "soon", "co"]),
        ("state=accepted", ["later"]),
        ("state=returned", ["returned"]),
        ("state=resolved", ["resolved"]),
        ("state=cancelled", ["cancelled"]),
        ("state=open", ["late", "soon", "co", "later"]),
        ("due=overdue", ["late"]),
        ("due=1", ["soon"]),
        ("due=10", ["soon", "co"]),
        ("role=co", ["co"]),
        ("role=lead", ["late", "soon", "later"]),
        ("q=逾期科技", ["late"]),  # firm name
        ("q=融资对接诉求", ["later"]),  # title
        ("state=open&due=overdue&role=lead", ["late"]),
    ],
)
def test_each_filter_narrows(client, login_as, queue, query, expected):
    user, t = queue
    login_as(user)
    assert listed(client, f"/tasks/?{query}") == ids(t, *expected)


def test_any_state_lists_every_task_of_the_unit(client, login_as, queue):
    user, t = queue
    login_as(user)
    assert sorted(listed(client, "/tasks/?state=any")) == sorted(x.id for x in t.values())


def test_search_by_demand_number_and_category(client, login_as, category, queue):
    user, t = queue
    login_as(user)
    number = t["soon"].demand.number
    assert listed(client, f"/tasks/?q={number}") == ids(t, "soon")
    fin = category("FIN").id
    assert listed(client, f"/tasks/?category_id={fin}&state=any") == ids(t, "later")


def test_due_this_week_runs_from_today_to_sunday(client, login_as, queue):
    user, t = queue
    login_as(user)
    day = today()
    sunday = day.toordinal() + 6 - day.weekday()
    expected = [
        x.id
        for x in sorted(t.values(), key=lambda x: (x.due_on, x.id))
        if x.state in ("pending", "accepted") and day.toordinal() <= x.due_on.toordinal() <= sunday
    ]
    assert listed(client, "/tasks/?due=week") == expected


def test_bad_filter_values_are_ignored(client, login_as, queue):
    user, _t = queue
    login_as(user)
    default = listed(client)
    assert listed(client, "/tasks/?state=bogus&due=99&role=x&category_id=abc") == default


def test_the_summary_counts_open_and_overdue_work(client, login_as, queue):
    user, _t = queue
    login_as(user)
    page = client.get("/tasks/").get_data(as_text=True)
    assert 'data-summary="pending">3<' in page
    assert 'data-summary="accepted">1<' in page
    assert 'data-summary="overdue">1<' in page


# -- what a row shows --------------------------------------------------------------------


def test_an_overdue_task_is_red_with_its_working_days_overdue(client, login_as, queue):
    user, t = queue
    login_as(user)
    late = row_html(client, t["late"].id)
    assert "table-danger" in late
    assert 'data-flag="overdue" data-days="2"' in late
    assert f'href="/demands/{t["late"].demand_id}"' in late
    soon = row_html(client, t["soon"].id)
    assert "table-danger" not in soon
    assert 'data-flag="overdue"' not in soon


def test_unverified_paused_and_extension_badges(client, login_as, make_user, queue):
    user, t = queue
    t["soon"].due_verified = False
    t["late"].demand.paused_at = utcnow()
    db.session.commit()
    login_as(user)
    accept_task(t["co"], actor=user)
    db.session.add(
        ExtensionRequest(
            task=t["co"],
            requested_by_id=user.id,
            days=3,
            reason="等待企业补充材料",
            old_due_on=t["co"].due_on,
        )
    )
    db.session.commit()

    assert 'data-flag="unverified"' in row_html(client, t["soon"].id)
    late = row_html(client, t["late"].id)
    # A paused demand's clock is stopped: it is shown paused, not overdue.
    assert 'data-flag="paused"' in late
    assert 'data-flag="overdue"' not in late
    assert t["late"].id not in listed(client, "/tasks/?due=overdue")
    assert 'data-flag="extension"' in row_html(client, t["co"].id)
    assert 'data-flag="extension"' not in row_html(client, t["soon"].id)


def test_a_decided_extension_shows_no_badge(client, login_as, queue):
    user, t = queue
    db.session.add(
        ExtensionRequest(
            task=t["later"],
            requested_by_id=user.id,
            days=3,
            reason="已决定",
            old_due_on=t["later"].due_on,
            state="declined",
        )
    )
    db.session.commit()
    login_as(user)
    assert 'data-flag="extension"' not in row_html(client, t["later"].id)


def test_an_empty_queue_says_so(client, login_as):
    login_as("department")
    response = client.get("/tasks/")
    assert response.status_code == 200
    assert "empty-state" in response.get_data(as_text=True)


# -- cost --------------------------------------------------------------------------------


def test_the_queue_runs_the_same_number_of_statements_for_5_or_30_tasks(
    client, login_as, make_user, make_department, make_firm, dispatch, count_queries
):
    dept = make_department()
    for n in range(30):
        dispatch(make_firm(), dept, co=[make_department()] if n % 3 else [])
    user = make_user("department", department=dept)
    login_as(user)
    tasks = db.session.scalars(select(DemandTask).where(DemandTask.department_id == dept.id))
    for n, task in enumerate(tasks):
        if n % 4 == 1:
            task.demand.paused_at = utcnow()
        if n % 2:
            db.session.add(
                ExtensionRequest(
                    task=task, requested_by_id=user.id, days=2, reason="r", old_due_on=task.due_on
                )
            )
    db.session.commit()

    def statements(url: str) -> int:
        with count_queries() as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    statements("/tasks/?per_page=5")  # warm up: first-request work is not the page's
    small = statements("/tasks/?per_page=5")
    large = statements("/tasks/?per_page=30")
    assert len(listed(client, "/tasks/?per_page=30")) == 30
    assert small == large


def test_pages_of_the_queue(client, login_as, make_user, make_department, make_firm, dispatch):
    dept = make_department()
    made = [dispatch(make_firm(), dept)[0] for _ in range(7)]
    for n, task in enumerate(made):
        set_due(task, n + 1)
    login_as(make_user("department", department=dept))
    first = listed(client, "/tasks/?per_page=5")
    second = listed(client, "/tasks/?per_page=5&page=2")
    assert first + second == [t.id for t in made]
