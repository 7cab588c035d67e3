"""Invitations from staff: a one-time link for a firm's contact to open a portal account,
shown once to its creator; the list; revoking (issue 4). And the firm page's portal card."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.portal import services
from crm.portal.models import Invitation
from tests import test_service_requests as shared
from tests.conftest import csrf_token, login
from tests.test_service_requests import OTHERS, STAFF, enter, post, text_of, user_of

portal_world = shared.portal_world  # the fixture, shared with the other staff-portal tests

LINK = re.compile(r"https?://[^\s\"'<]+/invite/([A-Za-z0-9_\-]+)")


def invite_page(client, firm_id: int, **fields):
    url = f"/invitations/firm/{firm_id}"
    return post(client, url, fields)


@pytest.mark.parametrize("role", STAFF + OTHERS)
def test_the_pages_open_for_staff_who_look_after_the_firm(client, portal_world, role):
    login(client, user_of(portal_world, role).username)
    expected = 200 if role in STAFF else 403
    assert client.get("/invitations/").status_code == expected
    assert client.get(f"/invitations/firm/{portal_world['firm'].id}").status_code == expected


def test_another_streets_firm_cannot_be_invited_to(client, portal_world):
    enter(client, portal_world["street"])
    other = portal_world["other_firm"]
    response = client.get(f"/invitations/firm/{other.id}")
    assert response.status_code == 404
    assert other.name not in text_of(response)
    response = invite_page(client, other.id, person_name="李娜")
    assert response.status_code == 404
    assert db.session.scalar(select(Invitation).where(Invitation.firm_id == other.id)) is None


def test_a_commissioner_not_looking_after_the_firm_may_not_invite(client, portal_world):
    enter(client, portal_world["colleague"])
    firm = portal_world["firm"]
    assert client.get(f"/invitations/firm/{firm.id}").status_code == 403
    assert invite_page(client, firm.id, person_name="赵磊").status_code == 403
    page = text_of(client.get(f"/firms/{firm.id}"))
    assert f"/invitations/firm/{firm.id}" not in page


def test_the_link_is_shown_once_and_lets_one_account_be_made(client, portal_world):
    firm = portal_world["firm"]
    enter(client, portal_world["commissioner"])
    page = text_of(client.get(f"/firms/{firm.id}"))
    assert f'href="/invitations/firm/{firm.id}"' in page

    response = invite_page(
        client, firm.id, person_name="赵磊", phone="13600003333", email="zhao@example.com"
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text_of(response)
    token = LINK.search(page).group(1)
    assert "This link is shown only now." in page
    assert "Copy" in page
    invitation = db.session.scalar(select(Invitation).where(Invitation.firm_id == firm.id))
    assert invitation.person_name == "赵磊" and invitation.created_by_id == (
        portal_world["commissioner"].id
    )
    local_expiry = invitation.expires_at + timedelta(hours=8)  # Asia/Shanghai, no DST
    assert f"Valid until {local_expiry:%Y-%m-%d %H:%M}" in page
    assert services.find_invitation(token).id == invitation.id

    # Nowhere else: not the list, not the firm's page, not the form opened again.
    for url in ("/invitations/", f"/firms/{firm.id}", f"/invitations/firm/{firm.id}"):
        later = text_of(client.get(url))
        assert token not in later and "/invite/" not in later
    assert "赵磊" in text_of(client.get("/invitations/"))


def test_a_missing_name_is_refused_keeping_what_was_typed(client, portal_world):
    enter(client, portal_world["street"])
    response = invite_page(
        client, portal_world["firm"].id, person_name="", phone="13600003333", email="bad"
    )
    assert response.status_code == 422
    page = text_of(response)
    assert 'value="13600003333"' in page
    assert "/invite/" not in page
    assert db.session.scalar(select(Invitation)) is None


def test_a_firm_that_moved_out_gets_no_invitation(client, portal_world):
    firm = portal_world["firm"]
    firm.status = "moved_out"
    db.session.commit()
    enter(client, portal_world["office"])
    response = invite_page(client, firm.id, person_name="赵磊")
    assert response.status_code == 422
    assert "moved out" in text_of(response)
    assert db.session.scalar(select(Invitation)) is None


def test_revoking_makes_the_link_invalid(client, portal_world):
    firm = portal_world["firm"]
    invitation, token = services.invite(firm, actor=portal_world["office"], person_name="赵磊")
    db.session.commit()
    enter(client, portal_world["commissioner"])
    page = text_of(client.get("/invitations/"))
    form_start = page.index(f'action="/invitations/{invitation.id}/revoke"')
    assert "data-confirm=" in page[form_start : form_start + 300]

    response = post(client, f"/invitations/{invitation.id}/revoke", {"next": "firm"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/firms/{firm.id}#portal")
    assert services.find_invitation(token) is None
    db.session.refresh(invitation)
    assert invitation.revoked_at is not None
    page = text_of(client.get("/invitations/"))
    assert "Revoked" in page
    assert f'action="/invitations/{invitation.id}/revoke"' not in page


def test_revoking_is_refused_outside_ones_care(client, portal_world):
    invitation, token = services.invite(
        portal_world["firm"], actor=portal_world["office"], person_name="赵磊"
    )
    other, other_token = services.invite(
        portal_world["other_firm"], actor=portal_world["office"], person_name="李娜"
    )
    db.session.commit()
    enter(client, portal_world["colleague"])
    assert post(client, f"/invitations/{invitation.id}/revoke", {}).status_code == 403
    assert post(client, f"/invitations/{other.id}/revoke", {}).status_code == 404
    assert "李娜" not in text_of(client.get("/invitations/"))
    assert services.find_invitation(token) is not None
    assert services.find_invitation(other_token) is not None


def test_a_used_invitation_stays_used(client, portal_world):
    invitation, token = services.invite(
        portal_world["firm"], actor=portal_world["office"], person_name="赵磊"
    )
    services.accept_invitation(token, username="zhaolei", password="Zhao-Lei-Pass-42")
    db.session.commit()
    enter(client, portal_world["office"])
    page = text_of(client.get("/invitations/?state=used"))
    assert "赵磊" in page and "zhaolei" in page
    response = post(client, f"/invitations/{invitation.id}/revoke", {})
    assert response.status_code == 302
    assert "already used" in text_of(client.get("/invitations/"))
    db.session.refresh(invitation)
    assert invitation.revoked_at is None


def test_the_list_runs_the_same_statements_for_5_or_50(client, portal_world, count_queries):
    enter(client, portal_world["commissioner"])

    def make(n):
        for i in range(n):
            services.invite(
                portal_world["firm"], actor=portal_world["commissioner"], person_name=f"联系人{i}"
            )
        db.session.commit()

    assert "No invitations yet" in text_of(client.get("/invitations/"))
    make(5)
    with count_queries() as few:
        assert client.get("/invitations/?per_page=5").status_code == 200
    make(45)
    with count_queries() as many:
        page = text_of(client.get("/invitations/?per_page=50"))
    assert page.count("data-invitation=") == 50
    assert page.count("/revoke") == 50
    assert len(few) == len(many)


def test_the_firm_page_shows_its_portal_to_the_staff_who_look_after_it(
    client, portal_world, make_user
):
    firm = portal_world["firm"]
    services.request_service(
        firm=firm, actor=portal_world["firm_user"], kind="errand", details="代办社保登记"
    )
    change = services.propose_change(
        firm, actor=portal_world["firm_user"], values={"employees": 321}
    )
    signup = services.submit_signup(
        uscc=firm.uscc,
        person_name="孙丽",
        phone="13700004444",
        username="sunli",
        password="Sun-Li-Pass-2026",
    )
    services.invite(firm, actor=portal_world["office"], person_name="赵磊")
    db.session.commit()

    enter(client, portal_world["street"])
    page = text_of(client.get(f"/firms/{firm.id}"))
    card = page[page.index('id="portal"') :]
    assert "企业联系人" in card  # the firm's portal account
    assert f"/signups/{signup.id}" in card and "孙丽" in card
    assert f"/profile-changes/{change.id}" in card and "Employees" in card
    assert "Errand handling" in card
    assert "赵磊" in card and "/revoke" in card

    for role in ("leader", "firm"):
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
        user = portal_world["firm_user"] if role == "firm" else make_user("leader")
        if role == "leader":
            firm.leader_id = user.id
            db.session.commit()
        enter(client, user)
        response = client.get(f"/firms/{firm.id}")
        assert response.status_code == 200
        assert 'id="portal"' not in text_of(response)
