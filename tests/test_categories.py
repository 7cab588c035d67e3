"""Demand categories and their time limits: the office edits them; new deadlines follow."""

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.demands import services
from crm.demands.models import DemandCategory
from crm.demands.services import Unit
from crm.extensions import db
from crm.workcal.services import current_calendar, today
from tests.conftest import post_form

FIELDS = {
    "name": "其他诉求",
    "kind": "general",
    "accept_days": "1",
    "resolve_days": "5",
    "level3_days": "15",
    "active": "y",
}


def audits(action: str) -> list[AuditLog]:
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def edit(client, category, **changes):
    url = f"/office/categories/{category.id}/edit"
    return post_form(client, url, {**FIELDS, "name": category.name, **changes})


@pytest.mark.parametrize("role", ["office", "admin"])
def test_the_office_and_the_admin_see_every_category_and_its_limits(client, login_as, role):
    login_as(role)
    response = client.get("/office/categories/?lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name in ("政策咨询", "融资对接", "其他诉求"):
        assert name in page
    assert "3 working days" in page and "15 working days" in page
    assert "dispatched afterwards" in page


@pytest.mark.parametrize("role", ["street", "commissioner", "department", "leader", "firm"])
def test_other_roles_may_not_keep_categories(client, login_as, category, role):
    login_as(role)
    assert client.get("/office/categories/").status_code == 403
    assert client.get(f"/office/categories/{category().id}/edit").status_code == 403
    assert client.get("/office/categories/new").status_code == 403


def test_a_changed_limit_applies_to_demands_dispatched_afterwards(
    client, login_as, category, make_street, make_department, make_firm, make_user, make_demand
):
    street, department = make_street(), make_department()
    office = make_user("office")
    before = make_demand(make_firm(street=street), actor=office)
    services.accept_demand(before, actor=office)
    services.dispatch_demand(before, actor=office, level=2, lead=Unit(street=street))
    db.session.commit()
    old_due = before.due_on
    cal = current_calendar()
    assert old_due == cal.add_working_days(today(), 5).day

    login_as("office")
    response = edit(client, category(), resolve_days="8", level3_days="20")
    assert response.status_code == 302
    other = category()
    db.session.refresh(other)
    assert (other.resolve_days, other.level3_days) == (8, 20)
    (entry,) = audits("category.update")
    assert entry.object_id == other.id
    assert entry.detail["changes"] == {"resolve_days": [5, 8], "level3_days": [15, 20]}

    after = make_demand(make_firm(street=street), actor=office)
    services.accept_demand(after, actor=office)
    services.dispatch_demand(after, actor=office, level=2, lead=Unit(street=street))
    joint = make_demand(make_firm(street=street), actor=office)
    services.accept_demand(joint, actor=office)
    tasks = services.dispatch_demand(joint, actor=office, level=3, lead=Unit(department=department))
    db.session.commit()
    assert after.due_on == cal.add_working_days(today(), 8).day
    assert joint.due_on == tasks[0].due_on == cal.add_working_days(today(), 20).day
    db.session.refresh(before)
    assert before.due_on == old_due  # a deadline already set stays


def test_a_changed_acceptance_limit_applies_to_demands_taken_in_afterwards(
    client, login_as, category, make_demand
):
    login_as("office")
    assert edit(client, category(), accept_days="3").status_code == 302
    demand = make_demand()
    assert demand.accept_due_on == current_calendar().add_working_days(today(), 3).day


def test_saving_without_changes_writes_no_audit_record(client, login_as, category):
    login_as("office")
    assert edit(client, category()).status_code == 302
    assert audits("category.update") == []


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"resolve_days": "0"}, "1 to 60"),
        ({"level3_days": "61"}, "1 to 60"),
        ({"accept_days": "abc"}, "abc"),
        ({"accept_days": ""}, "Enter a number of working days"),
        ({"name": ""}, "This field is required"),
        ({"kind": "urgent"}, "Not a valid choice"),
        ({"name": "政策咨询"}, "Another category already has this name"),
    ],
)
def test_a_wrong_edit_is_refused_and_the_entries_kept(
    client, login_as, category, changes, field_error
):
    login_as("office")
    other = category()
    response = post_form(
        client,
        f"/office/categories/{other.id}/edit?lang=en",
        {**FIELDS, "resolve_days": "7", **changes},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error in page and "is-invalid" in page
    assert 'value="7"' in page or "resolve_days" in changes  # what was typed is kept
    db.session.refresh(other)
    assert (other.name, other.resolve_days) == ("其他诉求", 5)
    assert audits("category.update") == []


def test_the_office_creates_a_category(client, login_as):
    login_as("office")
    assert client.get("/office/categories/new").status_code == 200
    response = post_form(
        client,
        "/office/categories/new",
        {**FIELDS, "code": "export", "name": "出口退税", "resolve_days": "7"},
    )
    assert response.status_code == 302
    created = db.session.scalar(select(DemandCategory).where(DemandCategory.code == "EXPORT"))
    assert (created.name, created.kind, created.resolve_days, created.active) == (
        "出口退税",
        "general",
        7,
        True,
    )
    (entry,) = audits("category.create")
    assert entry.object_id == created.id and entry.detail["code"] == "EXPORT"


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"code": "tax", "name": "新类别"}, "Another category already has this code"),
        ({"code": "NEW1", "name": "税务办理"}, "Another category already has this name"),
        ({"code": "两个字", "name": "新类别"}, "1 to 16 letters"),
        ({"code": "", "name": "新类别"}, "This field is required"),
    ],
)
def test_a_clashing_or_wrong_new_category_is_a_form_error(client, login_as, changes, field_error):
    login_as("office")
    count = db.session.scalar(select(func.count()).select_from(DemandCategory))
    response = post_form(
        client,
        "/office/categories/new?lang=en",
        {**FIELDS, **changes},
        form_url="/office/categories/new",
    )
    assert response.status_code == 422
    assert field_error in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(DemandCategory)) == count
    assert audits("category.create") == []


def test_a_category_no_longer_in_use_takes_no_new_demands(client, login_as, category, make_demand):
    login_as("office")
    response = edit(client, category("IP"), active="")
    assert response.status_code == 302
    page = client.get("/office/categories/?lang=en").get_data(as_text=True)
    assert "No longer in use" in page
    with pytest.raises(services.DemandError):
        make_demand(code="IP")


def test_an_unknown_category_is_not_found(client, login_as):
    login_as("office")
    assert client.get("/office/categories/99999/edit").status_code == 404
