"""Staff's review of the profile changes firms propose through the portal (issue 4)."""

import pytest
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.demands.models import Notification
from crm.extensions import db
from crm.firms.services import update_firm
from crm.portal import services
from crm.portal.models import ProfileChange
from tests import test_service_requests as shared
from tests.conftest import login
from tests.test_service_requests import OTHERS, STAFF, enter, post, text_of, user_of

portal_world = shared.portal_world  # the fixture, shared with the other staff-portal tests


@pytest.fixture
def propose(portal_world):
    def _propose(firm=None, *, values=None, note="员工人数已更新"):
        firm = firm or portal_world["firm"]
        actor = (
            portal_world["firm_user"]
            if firm.id == portal_world["firm"].id
            else portal_world["other_firm_user"]
        )
        change = services.propose_change(
            firm, actor=actor, values=values or {"employees": 321, "size": "medium"}, note=note
        )
        db.session.commit()
        return change

    return _propose


@pytest.mark.parametrize("role", STAFF + OTHERS)
def test_the_pages_open_for_staff_of_the_street_only(client, portal_world, propose, role):
    change = propose()
    login(client, user_of(portal_world, role).username)
    expected = 200 if role in STAFF else 403
    assert client.get("/profile-changes/").status_code == expected
    assert client.get(f"/profile-changes/{change.id}").status_code == expected


@pytest.mark.parametrize("role", ["street", "commissioner"])
def test_another_streets_proposal_is_not_found(client, portal_world, propose, role):
    other = propose(portal_world["other_firm"])
    enter(client, portal_world[role])
    for url, data in (
        (f"/profile-changes/{other.id}", None),
        (f"/profile-changes/{other.id}/approve", {}),
        (f"/profile-changes/{other.id}/reject", {"reject-note": "不同意"}),
    ):
        response = client.get(url) if data is None else post(client, url, data)
        assert response.status_code == 404
        assert "上海新泾另一家贸易有限公司" not in text_of(response)
    assert "上海新泾另一家贸易有限公司" not in text_of(client.get("/profile-changes/"))
    assert db.session.get(ProfileChange, other.id).state == "pending"


def test_the_list_shows_pending_first_and_an_empty_state(client, portal_world, propose):
    enter(client, portal_world["street"])
    assert "No firm has proposed changes to its profile yet." in text_of(
        client.get("/profile-changes/")
    )
    first = propose(values={"employees": 50})
    services.review_change(first, actor=portal_world["street"], approve=False, note="数字不对")
    second = propose(values={"address": "长宁路200号"})
    db.session.commit()
    page = text_of(client.get("/profile-changes/"))
    assert page.index(f'data-change="{second.id}"') < page.index(f'data-change="{first.id}"')
    assert "Pending" in page and "Refused" in page
    page = text_of(client.get("/profile-changes/?state=pending"))
    assert f'data-change="{first.id}"' not in page


def test_the_list_runs_the_same_statements_for_5_or_50(
    client, portal_world, propose, count_queries
):
    enter(client, portal_world["office"])
    for n in range(5):
        propose(values={"employees": 100 + n})
    with count_queries() as few:
        assert client.get("/profile-changes/?per_page=5").status_code == 200
    for n in range(45):
        propose(values={"employees": 200 + n})
    with count_queries() as many:
        page = client.get("/profile-changes/?per_page=50")
    assert text_of(page).count("data-change=") == 50
    assert len(few) == len(many)


def test_the_page_shows_each_field_now_and_proposed_and_the_note(client, portal_world, propose):
    firm = portal_world["firm"]
    firm.employees = 120
    db.session.commit()
    change = propose(values={"employees": 321, "size": "medium", "high_tech": True})
    enter(client, portal_world["commissioner"])
    page = text_of(client.get(f"/profile-changes/{change.id}"))
    row = page[page.index('data-field="employees"') :]
    row = row[: row.index("</tr>")]
    assert "Employees" in row and "120" in row and "321" in row
    row = page[page.index('data-field="size"') :]
    row = row[: row.index("</tr>")]
    assert "Small" in row and "Medium" in row
    assert "High-tech enterprise" in page
    assert "员工人数已更新" in page
    assert f'action="/profile-changes/{change.id}/approve"' in page


def test_approving_updates_the_firm_with_an_audit_record_and_tells_the_firm(
    client, portal_world, propose
):
    change = propose()
    enter(client, portal_world["commissioner"])
    response = post(client, f"/profile-changes/{change.id}/approve", {"approve-note": "已核实"})
    assert response.status_code == 302
    firm = portal_world["firm"]
    db.session.refresh(firm)
    assert firm.employees == 321 and firm.size == "medium"
    db.session.refresh(change)
    assert change.state == "approved"
    assert change.reviewed_by_id == portal_world["commissioner"].id
    audit = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "firm.update", AuditLog.object_id == firm.id)
    )
    assert audit is not None and "employees" in audit.detail["changes"]
    told = db.session.scalar(
        select(Notification).where(Notification.user_id == portal_world["firm_user"].id)
    )
    assert told.link == "/portal/profile"
    page = text_of(client.get(f"/profile-changes/{change.id}"))
    assert "Approved" in page and "已核实" in page
    assert 'action="/profile-changes/' not in page

    # Approving again (a second tab): already reviewed.
    response = post(client, f"/profile-changes/{change.id}/approve", {})
    assert response.status_code == 409
    assert "This proposal was already reviewed." in text_of(response)


def test_refusing_needs_a_reason_keeping_what_was_typed(client, portal_world, propose):
    change = propose()
    enter(client, portal_world["street"])
    response = post(client, f"/profile-changes/{change.id}/reject", {"reject-note": "   "})
    assert response.status_code == 422
    assert db.session.get(ProfileChange, change.id).state == "pending"

    response = post(client, f"/profile-changes/{change.id}/reject", {"reject-note": "请附证明"})
    assert response.status_code == 302
    db.session.refresh(change)
    assert change.state == "rejected" and change.review_note == "请附证明"
    db.session.refresh(portal_world["firm"])
    assert portal_world["firm"].employees is None


def test_a_stale_proposal_is_refused_with_the_services_message(client, portal_world, propose):
    change = propose(values={"employees": 321})
    update_firm(portal_world["firm"], {"employees": 99}, actor=portal_world["office"])
    db.session.commit()
    enter(client, portal_world["office"])
    page = text_of(client.get(f"/profile-changes/{change.id}"))
    assert "data-moved" in page and "changed since the proposal" in page

    response = post(client, f"/profile-changes/{change.id}/approve", {"approve-note": "同意"})
    assert response.status_code == 409
    page = text_of(response)
    assert "The profile changed since this proposal" in page
    assert "同意" in page  # what was typed is still there
    db.session.refresh(portal_world["firm"])
    assert portal_world["firm"].employees == 99
    assert db.session.get(ProfileChange, change.id).state == "pending"


def test_a_commissioner_of_another_firm_of_the_street_sees_but_cannot_review(
    client, portal_world, propose
):
    change = propose()
    enter(client, portal_world["colleague"])
    page = text_of(client.get(f"/profile-changes/{change.id}"))
    assert "321" in page
    assert "Only the firm’s commissioners" in page
    assert "/approve" not in page
    response = post(client, f"/profile-changes/{change.id}/approve", {})
    assert response.status_code == 403
    response = post(client, f"/profile-changes/{change.id}/reject", {"reject-note": "不行"})
    assert response.status_code == 403
    assert db.session.get(ProfileChange, change.id).state == "pending"


def test_the_proposal_notification_opens_the_page(client, portal_world, propose):
    change = propose()
    note = db.session.scalar(
        select(Notification).where(Notification.user_id == portal_world["commissioner"].id)
    )
    assert note.link == f"/profile-changes/{change.id}"
    enter(client, portal_world["commissioner"])
    assert client.get(note.link).status_code == 200
