from sqlalchemy import select

from crm.extensions import db
from crm.firms.models import Firm
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD


def test_office_logs_in_and_creates_a_firm(page, make_user, make_street):
    street = make_street(name="江苏路街道")
    office = make_user("office", display_name="王芳")
    db.session.commit()

    ui_login(page, office.username, PASSWORD)
    page.wait_for_url("**/")
    assert "王芳" in page.content()

    page.goto("/firms/")
    page.click("main a[href='/firms/new']")
    page.wait_for_url("**/firms/new")

    # A typing error in the code: the check character is wrong, the form says so and keeps
    # what was typed.
    page.fill("#name", "上海江苏路浏览器测试科技有限公司")
    page.fill("#uscc", "91330100799655058A")
    page.select_option("#street_id", str(street.id))
    page.fill("#industry_code", "i65")
    page.click("main button[type=submit]")
    page.wait_for_selector(".invalid-feedback")
    assert page.input_value("#name") == "上海江苏路浏览器测试科技有限公司"
    assert page.locator("#uscc.is-invalid").count() == 1

    page.fill("#uscc", "91330100799655058B")
    page.click("main button[type=submit]")
    page.wait_for_url("**/firms/*")
    assert page.locator("h1").inner_text().startswith("上海江苏路浏览器测试科技有限公司")

    db.session.commit()
    firm = db.session.scalar(select(Firm).where(Firm.uscc == "91330100799655058B"))
    assert firm is not None
    assert firm.street_id == street.id
    assert firm.industry_code == "I65"


def test_phone_sized_login_and_firm_list(phone_page, make_user, make_firm, make_street):
    street = make_street(name="天山路街道")
    make_firm(name="上海天山手机测试有限公司", street=street)
    office = make_user("office")
    db.session.commit()

    ui_login(phone_page, office.username, PASSWORD)
    phone_page.wait_for_url("**/")
    # The menu collapses behind the toggler on a phone and opens on tap.
    toggler = phone_page.locator(".navbar-toggler")
    assert toggler.is_visible()
    toggler.tap()
    # Pages come in groups: the firms' group opens, then its list.
    link = phone_page.locator("#mainnav a[href='/firms/']")
    link.locator("xpath=ancestor::li[contains(@class, 'dropdown')]/a").tap()
    link.tap()
    phone_page.wait_for_url("**/firms/")
    row = phone_page.locator("tbody tr").first
    assert "上海天山手机测试有限公司" in row.inner_text()
    # Stacked cards: nothing wider than the screen.
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
