"""Oversight in the browser: a district leader opens the dashboard on a phone, taps a
number and finds the demands behind it; the office files last week's bulletin and
downloads it."""

from datetime import timedelta

from crm.demands import services
from crm.demands.services import Unit
from crm.extensions import db
from crm.timeutil import local_time, utcnow
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD


def _handled(demand, office, department, handler):
    services.accept_demand(demand, actor=office)
    services.dispatch_demand(demand, actor=office, level=3, lead=Unit(department=department))
    db.session.commit()
    task = demand.tasks[0]
    services.accept_task(task, actor=handler)
    services.resolve_task(task, actor=handler, resolution="已办结")
    db.session.commit()


def test_a_leader_taps_a_figure_on_a_phone_and_sees_the_demands_behind_it(
    phone_page, make_firm, make_user, make_department, make_demand
):
    page = phone_page
    leader = make_user("leader", display_name="李区长")
    office = make_user("office")
    department = make_department(name="区市场监管局")
    handler = make_user("department", department=department)
    linked = make_firm(name="上海联影智融医疗科技有限公司", tier="district")
    linked.leader_id = leader.id
    other = make_firm(name="别的企业有限公司", tier="district")
    db.session.commit()
    solved = make_demand(linked, actor=office, title="办公用房续租")
    make_demand(linked, actor=office, title="人才公寓申请")
    make_demand(other, actor=office, title="不属于这位领导的诉求")
    _handled(solved, office, department, handler)

    ui_login(page, leader.username, PASSWORD)
    page.wait_for_load_state()
    page.goto("/stats/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    collected = page.locator("[data-figure=collected] a")
    resolved = page.locator("[data-figure=resolved] a")
    assert (collected.text_content().strip(), resolved.text_content().strip()) == ("2", "1")
    assert page.locator("svg").count() >= 1  # the charts are drawn by the page itself

    with page.expect_navigation():
        resolved.tap()
    assert page.locator("[data-total]").text_content().strip() == "1"
    assert "办公用房续租" in page.content() or solved.number in page.content()
    assert "不属于这位领导的诉求" not in page.content()

    page.goto("/stats/help")
    assert "办结率" in page.content()


def test_the_office_files_last_weeks_bulletin_and_downloads_its_pdf(
    page, make_firm, make_user, make_department, make_demand
):
    office = make_user("office")
    department = make_department(name="区人社局")
    handler = make_user("department", department=department)
    firm = make_firm(name="上海示例科技有限公司")
    demand = make_demand(firm, actor=office, title="招聘补贴咨询")
    # Received last week: move it back seven days, timeline and all.
    week_ago = utcnow() - timedelta(days=7)
    demand.submitted_at = week_ago
    for event in demand.events:
        event.at = week_ago
    db.session.commit()
    _handled(demand, office, department, handler)

    ui_login(page, office.username, PASSWORD)
    page.wait_for_load_state()
    page.goto("/bulletins/")
    page.select_option("#kind", "weekly")
    page.fill("#day", (local_time(week_ago).date()).isoformat())
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    assert "周报" in page.content()
    with page.expect_download() as download:
        page.locator("a[href$='.pdf']").first.click()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.value.suggested_filename.endswith(".pdf")
