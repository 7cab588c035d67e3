"""Getting a firm account without a phone call: a sign-up request with the firm's code
that staff approve, or an invitation from its commissioner."""

import html
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.demands.models import Notification
from crm.extensions import db
from crm.firms import uscc
from crm.portal import services
from crm.portal.models import Invitation, SignupRequest
from crm.timeutil import utcnow
from tests.conftest import csrf_token, login, post_form

GOOD_PASSWORD = "Firm-Account-77"


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def english(client) -> None:
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/login")})


@pytest.fixture
def firm(make_street, make_firm):
    street = make_street(
        name="华阳路街道",
        service_centre_address="长宁区华阳路112号",
        service_centre_phone="021-62110000",
    )
    return make_firm(name="上海华阳示例科技有限公司", street=street)


@pytest.fixture
def anon(client):
    english(client)
    return client


def signup_data(firm, **overrides) -> dict:
    return {
        "uscc": firm.uscc,
        "firm_name": "",
        "person_name": "王芳",
        "job_title": "行政经理",
        "phone": "13700001111",
        "email": "wang@example.cn",
        "username": "huayang-wang",
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
        **overrides,
    }


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- sign-up requests ------------------------------------------------------------------------


def test_the_login_page_links_to_the_sign_up(anon):
    assert 'href="/signup"' in anon.get("/login").get_data(as_text=True)


def test_a_good_sign_up_waits_for_staff_and_makes_no_user_yet(anon, firm, make_user):
    centre = make_user("street", street=firm.street)
    users_before = count(User)
    response = post_form(anon, "/signup", signup_data(firm, firm_name=" 上海华阳示例科技有限公司 "))
    assert response.status_code == 200
    page = text_of(response)
    assert "Request sent" in page
    assert "华阳路街道" in page and "长宁区华阳路112号" in page
    assert 'href="tel:021-62110000"' in page
    signup = db.session.scalar(select(SignupRequest))
    assert (signup.firm_id, signup.state, signup.username) == (firm.id, "pending", "huayang-wang")
    assert GOOD_PASSWORD not in signup.password_hash
    assert count(User) == users_before
    # The street's staff are told, with a link to the request.
    note = db.session.scalar(select(Notification).where(Notification.user_id == centre.id))
    assert note.link == f"/signups/{signup.id}"


def test_a_code_not_in_the_registry_is_refused_on_its_field(anon, firm):
    unknown = uscc.generate(random.Random(7))
    response = post_form(anon, "/signup", signup_data(firm, uscc=unknown))
    assert response.status_code == 422
    page = text_of(response)
    assert "No firm with this code is registered in the district" in page
    assert 'id="uscc"' in page and "is-invalid" in page
    assert 'value="王芳"' in page  # what was typed is kept
    assert count(SignupRequest) == 0


def test_a_mistyped_code_is_refused(anon, firm):
    response = post_form(anon, "/signup", signup_data(firm, uscc=firm.uscc[:17] + "?"))
    assert response.status_code == 422
    assert "This is not a valid code" in text_of(response)
    assert count(SignupRequest) == 0


def test_a_firm_name_that_does_not_match_the_code_is_refused(anon, firm):
    response = post_form(anon, "/signup", signup_data(firm, firm_name="上海别家公司"))
    assert response.status_code == 422
    assert "This is not the name registered under the code" in text_of(response)
    assert count(SignupRequest) == 0


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short1A", "short1A", "Use at least 8 characters."),
        ("alllowercase", "alllowercase", "Use at least three of"),
        ("password", "password", "too common"),
        (GOOD_PASSWORD, "Something-Else-1", "The two entries differ."),
    ],
)
def test_password_policy_errors_are_shown(anon, firm, password, confirm, message):
    response = post_form(anon, "/signup", signup_data(firm, password=password, confirm=confirm))
    assert response.status_code == 422
    assert message in text_of(response)
    assert count(SignupRequest) == 0


def test_a_taken_user_name_is_refused(anon, firm, make_user):
    make_user("office", username="Huayang-Wang")
    response = post_form(anon, "/signup", signup_data(firm))
    assert response.status_code == 422
    assert "This user name is taken" in text_of(response)
    assert count(SignupRequest) == 0


def test_a_user_name_waiting_in_another_request_is_taken_too(anon, firm):
    assert post_form(anon, "/signup", signup_data(firm)).status_code == 200
    response = post_form(anon, "/signup", signup_data(firm, person_name="李娜"))
    assert response.status_code == 422
    assert "This user name is taken" in text_of(response)
    assert count(SignupRequest) == 1


def test_logged_in_users_are_sent_to_their_start_page(client, login_as):
    login_as("office")
    assert client.get("/signup").status_code == 302


# -- invitations -----------------------------------------------------------------------------


@pytest.fixture
def invitation(firm, make_user, assign):
    commissioner = make_user("commissioner", street=firm.street)
    assign(firm, commissioner, "primary")
    row, token = services.invite(
        firm, actor=commissioner, person_name="赵磊", phone="13600002222", email="zhao@example.cn"
    )
    db.session.commit()
    return row, token


def test_an_invitation_shows_the_firm_and_person(anon, firm, invitation):
    _, token = invitation
    page = text_of(anon.get(f"/invite/{token}"))
    assert "赵磊" in page and firm.name in page


def test_accepting_creates_a_firm_user_who_can_log_in(client, firm, invitation):
    english(client)
    row, token = invitation
    response = post_form(
        client,
        f"/invite/{token}",
        {"username": "zhaolei", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    user = db.session.scalar(select(User).where(User.username == "zhaolei"))
    assert (user.role, user.firm_id, user.display_name) == ("firm", firm.id, "赵磊")
    assert (user.phone, user.email) == ("13600002222", "zhao@example.cn")
    assert row.used_at is not None and row.user_id == user.id
    assert "Your account is ready" in text_of(client.get("/login"))
    assert login(client, "zhaolei", GOOD_PASSWORD).status_code == 302
    assert client.get("/").headers["Location"].endswith("/portal/")
    assert firm.name in text_of(client.get("/portal/"))


def test_a_refused_account_keeps_the_invitation_usable(anon, invitation, make_user):
    make_user("office", username="taken")
    _, token = invitation
    response = post_form(
        anon,
        f"/invite/{token}",
        {"username": "taken", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert response.status_code == 422
    assert "This user name is taken" in text_of(response)
    weak = post_form(anon, f"/invite/{token}", {"username": "zl", "password": "x", "confirm": "x"})
    assert weak.status_code == 422 and "Use at least 8 characters." in text_of(weak)
    assert services.find_invitation(token) is not None


def test_a_used_invitation_is_no_longer_valid(anon, invitation):
    _, token = invitation
    services.accept_invitation(token, username="first-user", password=GOOD_PASSWORD)
    db.session.commit()
    response = anon.get(f"/invite/{token}")
    assert response.status_code == 404
    assert "This invitation is no longer valid." in text_of(response)
    again = post_form(
        anon,
        f"/invite/{token}",
        {"username": "second-user", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
        form_url="/login",
    )
    assert again.status_code == 404
    assert db.session.scalar(select(User).where(User.username == "second-user")) is None


def test_an_expired_or_unknown_invitation_is_not_found(anon, invitation):
    row, token = invitation
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert anon.get(f"/invite/{token}").status_code == 404
    assert anon.get("/invite/" + "A" * 32).status_code == 404
    assert db.session.get(Invitation, row.id).used_at is None
