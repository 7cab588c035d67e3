"""Staff's answer to sign-up requests: a person asks for a firm account with the firm's
USCC and the password they chose; staff check them and approve or refuse (issue 4)."""

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.demands.models import Notification
from crm.extensions import db
from crm.portal import services
from crm.portal.models import SignupRequest
from tests import test_service_requests as shared
from tests.conftest import login
from tests.test_service_requests import OTHERS, STAFF, enter, post, text_of, user_of

portal_world = shared.portal_world  # the fixture, shared with the other staff-portal tests

CHOSEN = "Chosen-Pass-2026"


@pytest.fixture
def sign_up(portal_world):
    def _sign_up(firm=None, *, username="wangfang", person="王芳", phone="13700001111"):
        req = services.submit_signup(
            uscc=(firm or portal_world["firm"]).uscc,
            person_name=person,
            phone=phone,
            email="wangfang@example.com",
            job_title="行政主管",
            username=username,
            password=CHOSEN,
        )
        db.session.commit()
        return req

    return _sign_up


def users_named(username: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.username == username)
    )


@pytest.mark.parametrize("role", STAFF + OTHERS)
def test_the_pages_open_for_staff_of_the_street_only(client, portal_world, sign_up, role):
    req = sign_up()
    login(client, user_of(portal_world, role).username)
    expected = 200 if role in STAFF else 403
    assert client.get("/signups/").status_code == expected
    assert client.get(f"/signups/{req.id}").status_code == expected


@pytest.mark.parametrize("role", ["street", "commissioner"])
def test_another_streets_sign_up_is_not_found(client, portal_world, sign_up, role):
    other = sign_up(portal_world["other_firm"], username="other-person", phone="13998765432")
    enter(client, portal_world[role])
    for url, data in (
        (f"/signups/{other.id}", None),
        (f"/signups/{other.id}/approve", {}),
        (f"/signups/{other.id}/reject", {"reject-note": "不认识"}),
    ):
        response = client.get(url) if data is None else post(client, url, data)
        assert response.status_code == 404
        body = text_of(response)
        assert "上海新泾另一家贸易有限公司" not in body and "13998765432" not in body
    assert "上海新泾另一家贸易有限公司" not in text_of(client.get("/signups/"))
    assert users_named("other-person") == 0


def test_the_page_shows_the_person_and_the_firm_to_check_against(client, portal_world, sign_up):
    req = sign_up()
    enter(client, portal_world["street"])
    page = text_of(client.get(f"/signups/{req.id}"))
    for shown in ("王芳", "行政主管", "13700001111", "wangfang@example.com", "wangfang"):
        assert shown in page
    firm = portal_world["firm"]
    assert firm.uscc in page and f'href="/firms/{firm.id}"' in page
    assert "企业联系人" in page  # the firm's existing portal account
    assert CHOSEN not in page


def test_the_list_masks_phones_has_an_empty_state_and_a_fixed_cost(
    client, portal_world, sign_up, count_queries
):
    enter(client, portal_world["office"])
    assert "Nobody has asked for an account yet." in text_of(client.get("/signups/"))
    for n in range(5):
        sign_up(username=f"few{n}")
    with count_queries() as few:
        page = text_of(client.get("/signups/?per_page=5"))
    assert "13700001111" not in page and "137****1111" in page
    for n in range(45):
        sign_up(username=f"many{n}")
    with count_queries() as many:
        page = text_of(client.get("/signups/?per_page=50"))
    assert page.count("data-signup=") == 50
    assert len(few) == len(many)


def test_approving_creates_a_user_who_logs_in_with_the_chosen_password(
    client, app, portal_world, sign_up
):
    req = sign_up()
    enter(client, portal_world["commissioner"])
    response = post(client, f"/signups/{req.id}/approve", {})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "wangfang"))
    assert user is not None
    assert user.role == "firm" and user.firm_id == portal_world["firm"].id
    db.session.refresh(req)
    assert req.state == "approved" and req.user_id == user.id
    page = text_of(client.get(f"/signups/{req.id}"))
    assert "Approved" in page and 'action="/signups/' not in page

    person = app.test_client()
    response = login(person, "wangfang", CHOSEN)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    assert person.get(f"/firms/{portal_world['firm'].id}").status_code == 200

    # The same request approved again (another tab): already reviewed, no second account.
    response = post(client, f"/signups/{req.id}/approve", {})
    assert response.status_code == 409
    assert users_named("wangfang") == 1


def test_refusing_needs_a_reason_and_creates_no_user(client, portal_world, sign_up):
    req = sign_up()
    enter(client, portal_world["street"])
    response = post(client, f"/signups/{req.id}/reject", {"reject-note": ""})
    assert response.status_code == 422
    assert db.session.get(SignupRequest, req.id).state == "pending"

    response = post(client, f"/signups/{req.id}/reject", {"reject-note": "企业表示无此员工"})
    assert response.status_code == 302
    db.session.refresh(req)
    assert req.state == "rejected" and req.review_note == "企业表示无此员工"
    assert users_named("wangfang") == 0
    page = text_of(client.get(f"/signups/{req.id}"))
    assert "企业表示无此员工" in page and "13700001111" not in page


def test_a_user_name_taken_meanwhile_is_refused_without_a_second_account(
    client, portal_world, sign_up, make_user
):
    req = sign_up()
    make_user("office", username="wangfang")
    enter(client, portal_world["office"])
    response = post(client, f"/signups/{req.id}/approve", {"approve-note": "可以"})
    assert response.status_code == 422
    page = text_of(response)
    assert "This user name was taken meanwhile" in page
    assert "可以" in page
    assert users_named("wangfang") == 1
    assert db.session.get(SignupRequest, req.id).state == "pending"


def test_a_commissioner_of_another_firm_of_the_street_sees_but_cannot_approve(
    client, portal_world, sign_up
):
    req = sign_up()
    enter(client, portal_world["colleague"])
    page = text_of(client.get(f"/signups/{req.id}"))
    assert "王芳" in page and "/approve" not in page
    assert post(client, f"/signups/{req.id}/approve", {}).status_code == 403
    assert users_named("wangfang") == 0


def test_the_sign_up_notification_opens_the_page(client, portal_world, sign_up):
    req = sign_up()
    note = db.session.scalar(
        select(Notification).where(Notification.user_id == portal_world["commissioner"].id)
    )
    assert note.link == f"/signups/{req.id}"
    enter(client, portal_world["commissioner"])
    assert client.get(note.link).status_code == 200


def test_the_portal_tabs_count_what_waits(client, portal_world, sign_up):
    import re

    sign_up()
    enter(client, portal_world["street"])
    page = client.get("/service-requests/").get_data(as_text=True)
    tabs = re.search(r"data-portal-tabs>(.*?)</ul>", page, re.S).group(1)
    assert re.search(r'href="/signups/">[^<]*<span class="badge[^"]*">1</span>', tabs)
    for path in ("/service-requests/", "/profile-changes/", "/invitations/"):
        assert f'href="{path}"' in tabs
