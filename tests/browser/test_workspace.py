"""The commissioner's workspace on a phone: a joint visit that raises a demand, then a
registration case carried through its stages to landed."""

import re

from sqlalchemy import select

from crm.assistance import services as cases
from crm.assistance.models import AssistanceCase, CaseType
from crm.demands.models import Demand, DemandCategory
from crm.extensions import db
from crm.visits.models import Visit
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD


def test_commissioner_logs_a_joint_visit_and_lands_a_registration_case(
    phone_page, make_street, make_firm, make_user, make_department, assign
):
    page = phone_page
    street = make_street(name="江苏路街道")
    firm = make_firm(name="上海江苏路走访测试科技有限公司", street=street, tier="district")
    commissioner = make_user("commissioner", street=street, display_name="陈静")
    assign(firm, commissioner, "primary")
    tax = make_department(name="区税务局")
    registration = db.session.scalar(select(CaseType).where(CaseType.code == "REG"))
    case = cases.open_case(
        case_type=registration,
        actor=commissioner,
        title="新设子公司工商注册",
        owner=commissioner,
        firm=firm,
    )
    db.session.commit()
    page.on("dialog", lambda dialog: dialog.accept())

    ui_login(page, commissioner.username, PASSWORD)
    page.wait_for_url("**/my-day/")
    assert firm.name in page.content()

    # A joint visit with the tax bureau, raising one demand, recorded from the phone.
    page.goto(f"/visits/new?firm_id={firm.id}")
    page.select_option("#method", "on_site")
    page.fill("#summary", "与区税务局联合走访,了解企业扩产计划及办税需求。")
    page.fill("#participants-0-name", "刘洋")
    page.fill("#participants-0-unit", "区税务局")
    page.select_option("#participants-0-level", "department")
    page.select_option("#participants-0-department_id", str(tax.id))
    other = db.session.scalar(select(DemandCategory).where(DemandCategory.code == "OTHER"))
    page.select_option("#demands-0-category_id", str(other.id))
    page.fill("#demands-0-title", "申请增值税留抵退税辅导")
    page.fill("#demands-0-description", "企业希望税务部门上门辅导留抵退税申报。")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("form[data-visit-form] button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/visits/\d+$"))
    assert "申请增值税留抵退税辅导" in page.content()

    db.session.commit()
    visit = db.session.scalar(select(Visit).where(Visit.firm_id == firm.id))
    assert visit.joint
    assert [p.department_id for p in visit.participants] == [tax.id]
    (demand,) = visit.demands
    assert demand.channel == "visit"
    assert demand.state == "submitted"  # in the demand loop, waiting for intake
    assert db.session.scalar(select(Demand).where(Demand.title == "申请增值税留抵退税辅导"))

    # The registration case, stage by stage: tick what each stage needs (one tap per item,
    # the page reloads), move on, and land it at the last stage.
    page.goto(f"/cases/{case.id}")
    open_items = page.locator("[data-checklist] li[data-item]:not([data-done]) button")
    for _stage in registration.stages[:-1]:
        while page.locator("#action-advance").count() == 0:
            assert page.locator("[data-blocked=advance]").count() == 1  # says why
            _submit(page, open_items.first)
        _submit(page, page.locator("#action-advance button[type=submit]"))
    # Landing needs every item done, those "before landing" too.
    while page.locator("#action-land").count() == 0:
        _submit(page, open_items.first)
    _submit(page, page.locator("#action-land button[type=submit]"))
    assert page.locator("[data-checklist] li[data-item]:not([data-done])").count() == 0

    db.session.commit()
    landed = db.session.get(AssistanceCase, case.id)
    assert landed.state == "landed"
    assert landed.stage.position == registration.stages[-1].position
    assert landed.landed_on is not None
    assert [e.action for e in landed.events][-1] == "landed"


def _submit(page, button) -> None:
    """Tap a form's button and wait for the page the post redirects to."""
    with page.expect_navigation():
        button.tap()
