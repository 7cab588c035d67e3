"""The firm's side of the demand loop on a phone: it raises a demand with a PDF in the
portal, sees it accepted, reads the answer and rates it; staff steps run through the
services, as the staff pages would."""

from sqlalchemy import select

from crm.demands import services
from crm.demands.models import Attachment, Demand
from crm.demands.services import Unit
from crm.extensions import db
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


def _submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} button[type=submit]")


def test_a_firm_raises_a_demand_on_its_phone_and_rates_the_answer(
    phone_page, make_user, make_firm, make_street, assign, category
):
    page = phone_page
    street = make_street(
        name="江苏路街道",
        service_centre_address="长宁区江苏路1号",
        service_centre_phone="021-62220000",
    )
    firm = make_firm(name="上海江苏路门户测试科技有限公司", street=street)
    office = make_user("office")
    centre = make_user("street", street=street)
    commissioner = make_user(
        "commissioner", street=street, display_name="赵专员", phone="13900001111"
    )
    assign(firm, commissioner, "primary")
    firm_user = make_user("firm", firm=firm)

    # The firm user logs in and lands in the portal, its commissioner on the page.
    ui_login(page, firm_user.username, PASSWORD)
    page.wait_for_url("**/portal/")
    assert page.locator("#carers", has_text="赵专员").count() == 1
    assert page.locator("#carers a[href='tel:13900001111']").count() == 1

    # It raises a demand with a PDF attached.
    page.click("main a[href='/portal/demands/new']")
    page.wait_for_url("**/portal/demands/new")
    page.select_option("#category_id", str(category("OTHER").id))
    page.fill("#title", "新厂房用电增容")
    page.fill("#description", "企业新建厂房，需要用电增容，希望协调供电部门。")
    page.set_input_files(
        "#attachments",
        files=[{"name": "用电申请.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    _submit(page, "#demand-form")
    page.wait_for_url("**/portal/demands/*")
    assert page.locator("h1 [data-state=submitted]").count() == 1
    assert page.locator("#files a", has_text="用电申请.pdf").count() == 1
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    db.session.commit()
    demand = db.session.scalar(select(Demand))
    assert (demand.channel, demand.firm_id) == ("portal", firm.id)
    assert db.session.scalar(select(Attachment.filename)) == "用电申请.pdf"

    # Staff accept it; the firm sees so on reload.
    services.accept_demand(demand, actor=office)
    db.session.commit()
    page.reload()
    assert page.locator("h1 [data-state=accepted]").count() == 1
    assert page.locator("#timeline [data-event=accepted]").count() == 1
    assert page.locator("#action-withdraw").count() == 0  # too late to withdraw

    # Dispatched at level 1 to the street, which resolves it with a reply.
    (task,) = services.dispatch_demand(demand, actor=office, level=1, lead=Unit(street=street))
    services.accept_task(task, actor=centre)
    services.resolve_task(task, actor=centre, resolution="已协调供电公司，增容方案下周实施。")
    db.session.commit()

    # The firm reads the reply, rates it satisfied, and the demand is closed.
    page.reload()
    assert page.locator("h1 [data-state=resolved]").count() == 1
    assert "增容方案下周实施" in page.locator("[data-field=reply]").inner_text()
    page.click("label[for=rate-rating-0]")  # satisfied
    page.fill("#rate-comment", "响应很快，谢谢。")
    _submit(page, "#action-rate")
    assert page.locator("h1 [data-state=closed]").count() == 1
    assert page.locator("#action-rate").count() == 0
    assert page.locator("#timeline [data-event=rated]").count() == 1

    db.session.commit()
    demand = db.session.get(Demand, demand.id)
    assert (demand.state, demand.rating) == ("closed", "satisfied")
