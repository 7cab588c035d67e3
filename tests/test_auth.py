"""Logging in and out: lockout, refusal messages, redirects after login, CSRF."""

import re
from datetime import timedelta

import pytest
from flask_babel import gettext
from markupsafe import escape
from sqlalchemy import select
from werkzeug.security import check_password_hash

from crm import create_app
from crm.audit.models import AuditLog
from crm.auth.models import User
from crm.extensions import db
from crm.timeutil import utcnow
from tests.conftest import PASSWORD, FreshContextClient, _base_config, csrf_token, login

WRONG = "Wrong-Pass-99"
INVALID = "Wrong user name or password."
CSRF_REFUSED = "The form expired or was sent from elsewhere. Reload the page and try again."
LOCKED = "Too many failed attempts: try again later."


def shown(app, message: str) -> str:
    """``message`` as a page in the default language shows it."""
    with app.test_request_context():
        return str(escape(gettext(message)))


def field_errors(response) -> list[str]:
    return re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', response.text)


def logged_in(client) -> bool:
    return client.get("/account/password").status_code == 200


@pytest.fixture
def second_process(app, database_url, tmp_path):
    """Another instance of the application on the same database, as a second worker is."""
    other = create_app(_base_config(database_url, tmp_path))
    other.test_client_class = FreshContextClient
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


# -- logging in and out ----------------------------------------------------------------


def test_login_with_the_right_password_opens_the_start_page(client, make_user):
    user = make_user("office")
    response = login(client, user.username)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert logged_in(client)
    assert db.session.get(User, user.id).last_login_at is not None


def test_user_name_is_not_case_sensitive(client, make_user):
    make_user("office", username="lihua")
    assert login(client, "LiHua").status_code == 302


def test_wrong_password_is_refused(app, client, make_user):
    user = make_user("office")
    response = login(client, user.username, WRONG)
    assert response.status_code == 200
    assert field_errors(response) == [shown(app, INVALID)]
    assert not logged_in(client)


def test_unknown_user_name_gets_the_same_answer_as_a_wrong_password(app, client, make_user):
    user = make_user("office")
    wrong_password = login(client, user.username, WRONG)
    unknown_user = login(client, "nobody-here", WRONG)
    assert unknown_user.status_code == wrong_password.status_code == 200
    assert field_errors(unknown_user) == field_errors(wrong_password) == [shown(app, INVALID)]


def test_disabled_user_cannot_log_in(app, client, make_user):
    user = make_user("office", active=False)
    response = login(client, user.username)
    assert response.status_code == 200
    assert field_errors(response) == [shown(app, "This account is disabled.")]
    assert not logged_in(client)


def test_logout_ends_the_session(app, client, login_as):
    login_as("office")
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert shown(app, "You have logged out.") in client.get("/login").text
    assert not logged_in(client)


def test_pages_send_anonymous_visitors_to_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# -- lockout ---------------------------------------------------------------------------


def test_four_failures_then_the_right_password_logs_in_and_resets_the_count(app, client, make_user):
    user = make_user("office")
    for _ in range(4):
        assert field_errors(login(client, user.username, WRONG)) == [shown(app, INVALID)]

    assert login(client, user.username).status_code == 302
    assert db.session.get(User, user.id).failed_logins == 0

    # The count started again: four more failures still do not lock the account.
    other = app.test_client()
    for _ in range(4):
        login(other, user.username, WRONG)
    assert login(other, user.username).status_code == 302


def test_five_failures_lock_out_even_the_right_password(app, client, make_user):
    user = make_user("office")
    for _ in range(4):
        login(client, user.username, WRONG)
    fifth = login(client, user.username, WRONG)
    assert field_errors(fifth) == [shown(app, LOCKED)]

    right = login(client, user.username)
    assert right.status_code == 200
    assert field_errors(right) == [shown(app, LOCKED)]
    assert not logged_in(client)
    locked_until = db.session.get(User, user.id).locked_until
    assert locked_until > utcnow()


def test_failures_count_across_processes_and_the_lock_holds_in_each(
    app, client, make_user, second_process
):
    user = make_user("office")
    other = second_process.test_client()
    for attempt in range(5):
        login(client if attempt % 2 else other, user.username, WRONG)

    for c in (client, other, second_process.test_client()):
        response = login(c, user.username)
        assert field_errors(response) == [shown(app, LOCKED)]
        assert not logged_in(c)


def test_login_works_again_once_the_lock_has_passed(app, client, make_user):
    user = make_user("office")
    for _ in range(5):
        login(client, user.username, WRONG)
    assert field_errors(login(client, user.username)) == [shown(app, LOCKED)]

    db.session.get(User, user.id).locked_until = utcnow() - timedelta(minutes=1)
    db.session.commit()

    assert login(client, user.username).status_code == 302
    assert logged_in(client)


def test_lock_lasts_thirty_minutes(app, client, make_user):
    user = make_user("office")
    before = utcnow()
    for _ in range(5):
        login(client, user.username, WRONG)
    locked_until = db.session.get(User, user.id).locked_until
    assert timedelta(minutes=30) <= locked_until - before < timedelta(minutes=31)

    # Twenty-nine minutes on, the right password is still refused.
    db.session.get(User, user.id).locked_until = locked_until - timedelta(minutes=29)
    db.session.commit()
    assert field_errors(login(client, user.username)) == [shown(app, LOCKED)]


def test_unknown_user_names_never_lock(app, client):
    for _ in range(6):
        response = login(client, "nobody-here", WRONG)
    assert field_errors(response) == [shown(app, INVALID)]


# -- where login leads -----------------------------------------------------------------


def post_login(client, query: str):
    token = csrf_token(client, "/login")
    return client.post(
        f"/login?{query}",
        data={"username": "office-next", "password": PASSWORD, "csrf_token": token},
    )


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/login",
        "//evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
    ],
)
def test_login_ignores_a_next_address_on_another_site(client, make_user, target):
    make_user("office", username="office-next")
    response = post_login(client, f"next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_ignores_a_next_address_with_a_backslash(client, make_user):
    make_user("office", username="office-next")
    response = post_login(client, "next=/%5Cevil.example")
    assert response.headers["Location"] == "/"


def test_login_follows_a_next_address_on_this_site(client, make_user):
    make_user("office", username="office-next")
    response = post_login(client, "next=/account/password")
    assert response.headers["Location"] == "/account/password"


# -- CSRF ------------------------------------------------------------------------------


def test_login_without_a_csrf_token_is_refused_and_counts_nothing(app, client, make_user):
    user = make_user("office")
    for password in (WRONG, PASSWORD):
        response = client.post("/login", data={"username": user.username, "password": password})
        assert response.status_code == 400
        assert shown(app, CSRF_REFUSED) in response.text
    assert db.session.get(User, user.id).failed_logins == 0
    assert not logged_in(client)
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "login")).all() == []


def test_logout_without_a_csrf_token_is_refused(client, login_as):
    login_as("office")
    assert client.post("/logout").status_code == 400
    assert logged_in(client)


def test_logout_with_another_browsers_csrf_token_is_refused(app, client, login_as):
    login_as("office")
    stranger = app.test_client()
    token = csrf_token(stranger, "/login")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 400
    assert logged_in(client)


def test_change_password_without_a_csrf_token_is_refused(client, login_as):
    user = login_as("office")
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "Quiet-Harbour-73",
            "confirm": "Quiet-Harbour-73",
        },
    )
    assert response.status_code == 400
    assert check_password_hash(db.session.get(User, user.id).password_hash, PASSWORD)
    assert logged_in(client)


def post_routes(app):
    """Every rule that accepts POST, with dummy values for its arguments."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        # The API takes bearer tokens only, never the login cookie, so it needs no CSRF
        # token: tests/test_api_auth.py checks that a cookie authorises nothing there.
        if "POST" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        url = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1), method="POST")
        assert adapter.match(url, method="POST")[0] == rule.endpoint, url
        yield rule.endpoint, url


def test_app_has_post_routes_to_check(app):
    endpoints = {endpoint for endpoint, _ in post_routes(app)}
    assert {"auth.login", "auth.logout", "auth.change_password"} <= endpoints


@pytest.mark.parametrize("role", [None, "office", "admin"])
def test_every_post_route_refuses_a_request_without_a_csrf_token(app, client, login_as, role):
    if role:
        login_as(role)
    refusal = shown(app, CSRF_REFUSED)
    accepted = {}
    for endpoint, url in post_routes(app):
        response = client.post(url, data={"name": "x"})
        if response.status_code != 400 or refusal not in response.text:
            accepted[f"{endpoint} {url}"] = response.status_code
    assert accepted == {}
