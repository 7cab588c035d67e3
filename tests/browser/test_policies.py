"""Policies and packages in the browser: the office writes a policy's criteria with the
editor and watches the firm counts; a commissioner issues a package from a phone and
downloads its PDF; a bulk issuance's progress bar runs to the end."""

import re
from datetime import date

from sqlalchemy import select

from crm.extensions import db
from crm.policies.models import BulkIssuance, Policy, ServicePackage
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD


def test_the_office_writes_criteria_and_sees_how_many_firms_each_keeps(
    page, make_firm, make_user, make_street
):
    street = make_street(name="新泾镇")
    for employees in (12, 60, 240, None):
        make_firm(street=street, employees=employees, size="small")
    office = make_user("office")
    ui_login(page, office.username, PASSWORD)
    page.wait_for_load_state()

    page.goto("/policies/new")
    page.fill("#title", "新泾镇稳岗扩岗奖励")
    page.fill("#doc_number", "长人社规〔2026〕5号")
    page.fill("#issuer", "长宁区人力资源和社会保障局")
    page.fill("#effective_from", "2026-01-01")
    page.select_option("#criteria-0-attribute", "employees")
    page.select_option("#criteria-0-operator", "gte")
    page.fill('[name="criteria-0-value"]', "50")
    count = page.locator("[data-criterion-row]").first.locator("[data-count]")
    # The editor asks the server as the value is typed: 2 of 4 firms, 1 without data.
    page.wait_for_function(
        "el => /2/.test(el.textContent) && /1/.test(el.textContent)",
        arg=count.element_handle(),
    )
    assert "4" in page.locator("[data-preview-total]").text_content()

    page.select_option("#criteria-1-attribute", "size")
    page.select_option("#criteria-1-operator", "in")
    page.select_option('[name="criteria-1-value"]', ["small", "micro"])
    with page.expect_navigation():
        page.locator("form[data-policy-editor] button[type=submit]").click()
    assert re.search(r"/policies/\d+$", page.url)
    assert "从业人数 不少于 50 人" in page.content()
    db.session.commit()
    policy = db.session.scalar(select(Policy).where(Policy.title == "新泾镇稳岗扩岗奖励"))
    assert [(c.attribute, c.operator, c.value) for c in policy.criteria] == [
        ("employees", "gte", 50),
        ("size", "in", ["small", "micro"]),
    ]


def test_a_commissioner_issues_a_package_from_a_phone_and_downloads_it(
    phone_page, make_firm, make_user, make_street, make_policy, assign
):
    page = phone_page
    street = make_street(name="华阳路街道")
    firm = make_firm(name="上海普合锐智医疗科技有限公司", street=street, employees=30)
    commissioner = make_user("commissioner", street=street, display_name="王磊")
    assign(firm, commissioner)
    make_policy([("employees", "gte", 10)], title="中小企业稳岗补贴")
    talent = make_policy(
        [("employees", "lte", 100)], title="人才公寓租金补贴", kind="individual", topic="housing"
    )
    page.on("dialog", lambda dialog: dialog.accept())
    ui_login(page, commissioner.username, PASSWORD)
    page.wait_for_load_state()

    page.goto(f"/packages/firm/{firm.id}/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.check(f"#confirm-{talent.id}")
    with page.expect_navigation():
        page.locator("form[data-confirm] button[type=submit]").last.tap()
    assert re.search(r"/packages/\d+$", page.url)
    assert "中小企业稳岗补贴" in page.content() and "人才公寓租金补贴" in page.content()

    with page.expect_download() as download:
        page.locator("a[href$='.pdf']").first.tap()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.value.suggested_filename.endswith(".pdf")
    db.session.commit()
    (package,) = db.session.scalars(select(ServicePackage).where(ServicePackage.firm_id == firm.id))
    assert [p["title"] for p in package.snapshot["individual"]] == ["人才公寓租金补贴"]


def test_a_bulk_issuance_progress_bar_runs_to_the_download(
    page, make_firm, make_user, make_street, make_policy, monkeypatch
):
    from crm.policies import pdf

    monkeypatch.setattr(pdf, "render_snapshot", lambda snapshot: b"%PDF-1.7 fake")
    street = make_street(name="虹桥街道")
    for n in range(30):
        make_firm(street=street, tier="sector", employees=20 + n)
    make_policy([("tier", "eq", "sector")], title="行业重点企业服务保障")
    office = make_user("office")
    page.on("dialog", lambda dialog: dialog.accept())
    ui_login(page, office.username, PASSWORD)
    page.wait_for_load_state()

    page.goto("/packages/bulk/new")
    page.select_option("#tier", "sector")
    page.fill("#as_of", date.today().isoformat())
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert re.search(r"/packages/bulk/\d+$", page.url)
    # The bar fills as the job runs; the page reloads itself when it is done.
    page.wait_for_selector("[data-field=fill].bg-success", timeout=30_000)
    assert page.locator("[data-field=fill]").text_content().strip() == "100%"
    assert page.locator("a[href$='/download']").count() == 1
    db.session.commit()
    bulk = db.session.scalar(select(BulkIssuance))
    assert (bulk.status, bulk.issued, bulk.rendered) == ("done", 30, 30)
