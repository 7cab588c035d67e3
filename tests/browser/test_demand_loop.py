"""The demand loop in a browser: office intake by hotline with an attachment, acceptance,
level-3 dispatch to a department, the handler resolves, the firm rates, the demand closes."""

from sqlalchemy import select

from crm.demands.models import Attachment, Demand
from crm.extensions import db
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


def _submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} button[type=submit]")


def test_a_demand_goes_from_intake_to_closed(
    page, make_user, make_firm, make_street, make_department, category
):
    street = make_street(name="江苏路街道")
    dept = make_department(name="区市场监管局")
    firm = make_firm(name="上海江苏路诉求测试科技有限公司", street=street)
    office = make_user("office", display_name="王芳")
    handler = make_user("department", department=dept, display_name="陈处理")
    firm_user = make_user("firm", firm=firm, display_name="企业联系人")
    db.session.commit()

    # The office takes the demand in by hotline, with the firm's document attached.
    ui_login(page, office.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/demands/new")
    page.fill("#firm_q", "江苏路诉求")
    _submit(page, "form[role=search]")
    page.select_option("#firm_id", str(firm.id))
    page.select_option("#category_id", str(category("OTHER").id))
    page.select_option("#channel", "hotline")
    page.fill("#title", "新建厂房用电增容")
    page.fill("#description", "企业新建厂房，需要用电增容，希望协调供电部门。")
    page.set_input_files(
        "#attachments",
        files=[{"name": "用电申请.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    _submit(page, "form[enctype='multipart/form-data']")
    page.wait_for_url("**/demands/*")
    assert page.locator("[data-state=submitted]").count() == 1
    assert page.locator("#files a", has_text="用电申请.pdf").count() == 1

    db.session.commit()
    demand = db.session.scalar(select(Demand))
    assert (demand.channel, demand.owner_id) == ("hotline", office.id)

    # Accept, then dispatch at level 3 to the department.
    _submit(page, "#action-accept")
    page.select_option("#dispatch-level", "3")
    page.select_option("#dispatch-lead", f"d{dept.id}")
    _submit(page, "#action-dispatch")
    assert page.locator("[data-state=dispatched]").count() == 1

    # The department's handler accepts the task and resolves it with a reply.
    page.context.clear_cookies()
    ui_login(page, handler.username, PASSWORD)
    page.wait_for_url("**/")
    db.session.commit()
    task = db.session.scalar(select(Demand).where(Demand.id == demand.id)).tasks[0]
    page.goto(f"/demands/{demand.id}")
    _submit(page, f"#action-accept_task-{task.id}")
    assert page.locator("[data-state=in_progress]").count() == 1
    page.fill(f"#resolve_task-{task.id}-resolution", "已协调供电公司，增容方案下周实施。")
    _submit(page, f"#action-resolve_task-{task.id}")
    assert page.locator("[data-state=resolved]").count() == 1

    # The firm reads the reply, rates it satisfied, and the demand is closed.
    page.context.clear_cookies()
    ui_login(page, firm_user.username, PASSWORD)
    page.wait_for_url("**/portal/")
    page.goto(f"/demands/{demand.id}")
    assert "增容方案下周实施" in page.locator("[data-field=reply]").inner_text()
    page.select_option("#rate-rating", "satisfied")
    page.fill("#rate-comment", "响应很快，谢谢。")
    _submit(page, "#action-rate")
    assert page.locator("[data-state=closed]").count() == 1

    db.session.commit()
    demand = db.session.get(Demand, demand.id)
    assert (demand.state, demand.rating) == ("closed", "satisfied")
    assert db.session.scalar(select(Attachment.filename)) == "用电申请.pdf"
