"""The password policy, how passwords are stored, and the change-password page."""

import pytest
from flask_babel import gettext
from markupsafe import escape
from werkzeug.security import check_password_hash

from crm import create_app
from crm.auth.models import User
from crm.auth.passwords import hash_password, policy_errors
from crm.extensions import db
from tests.conftest import PASSWORD, csrf_token, login

TOO_SHORT = "Use at least %(n)s characters."
TWO_CLASSES = "Use at least three of: lower-case letters, upper-case letters, digits, symbols."
COMMON = "This password is too common; choose another."
HAS_USERNAME = "The password must not contain the user name."


def shown(app, message: str, **kwargs) -> str:
    """``message`` as a page in the default language shows it."""
    with app.test_request_context():
        return str(escape(gettext(message, **kwargs)))


def broken_rules(app, password: str, username: str = "") -> list[str]:
    with app.test_request_context():
        return [str(e) for e in policy_errors(password, username=username)]


# -- the policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "username", "rules"),
    [
        ("Ab1!xyz", "", [TOO_SHORT]),
        ("abc", "", [TOO_SHORT, TWO_CLASSES]),
        ("lowercase123", "", [TWO_CLASSES]),
        ("ONLYUPPER!!", "", [TWO_CLASSES]),
        ("Password123!", "", [COMMON]),
        ("PASSWORD123!", "", [COMMON]),
        ("P@ssw0rd", "", [COMMON]),
        ("p@SSW0RD", "", [COMMON]),
        ("Zhangwei-2026", "zhangwei", [HAS_USERNAME]),
        ("x-ZHANGWEI-9", "zhangwei", [HAS_USERNAME]),
        ("Quiet-Harbour-73", "zhangwei", []),
    ],
)
def test_policy_names_every_rule_a_password_breaks(app, password, username, rules):
    expected = [shown(app, rule, n=8) if rule == TOO_SHORT else shown(app, rule) for rule in rules]
    assert broken_rules(app, password, username) == expected


def test_policy_accepts_exactly_eight_characters_of_three_classes(app):
    assert broken_rules(app, "Kt7!mqwz") == []
    assert broken_rules(app, "Kt7!mqw") == [shown(app, TOO_SHORT, n=8)]


# -- storage ---------------------------------------------------------------------------


def test_password_is_stored_as_a_hash(app, make_user):
    user = make_user("office", password="Quiet-Harbour-73")
    stored = db.session.get(User, user.id).password_hash
    assert "Quiet-Harbour-73" not in stored
    assert check_password_hash(stored, "Quiet-Harbour-73")
    assert not check_password_hash(stored, "Quiet-Harbour-74")


def test_same_password_gives_different_hashes(app):
    assert hash_password("Quiet-Harbour-73") != hash_password("Quiet-Harbour-73")


def test_production_configuration_hashes_with_scrypt(tmp_path):
    prod = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite3'}"})
    with prod.app_context():
        stored = hash_password("Quiet-Harbour-73")
        db.engine.dispose()
    assert stored.startswith("scrypt:")
    assert check_password_hash(stored, "Quiet-Harbour-73")


# -- the change-password page ----------------------------------------------------------


def change_password(client, current: str, new: str, confirm: str | None = None):
    token = csrf_token(client, "/account/password")
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm": new if confirm is None else confirm,
            "csrf_token": token,
        },
    )


@pytest.mark.parametrize(
    ("new_password", "rules"),
    [
        ("ab1", [TOO_SHORT, TWO_CLASSES]),
        ("onlylowercase", [TWO_CLASSES]),
        ("Password123!", [COMMON]),
        ("P@ssw0rd", [COMMON]),
        ("Zhangwei-2026", [HAS_USERNAME]),
    ],
)
def test_change_password_page_shows_each_reason_and_keeps_the_user_in(
    app, client, make_user, new_password, rules
):
    user = make_user("office", username="zhangwei")
    old_hash = user.password_hash
    assert login(client, "zhangwei").status_code == 302

    response = change_password(client, PASSWORD, new_password)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for rule in rules:
        assert shown(app, rule, n=8) in page
    assert db.session.get(User, user.id).password_hash == old_hash
    assert client.get("/account/password").status_code == 200  # still logged in


def test_change_password_refuses_a_wrong_current_password(app, client, make_user):
    user = make_user("office")
    old_hash = user.password_hash
    login(client, user.username)

    response = change_password(client, "Not-The-Current-1", "Quiet-Harbour-73")

    assert response.status_code == 200
    assert shown(app, "The current password is wrong.") in response.get_data(as_text=True)
    assert db.session.get(User, user.id).password_hash == old_hash
    assert client.get("/account/password").status_code == 200


def test_change_password_refuses_differing_entries(app, client, make_user):
    user = make_user("office")
    login(client, user.username)

    response = change_password(client, PASSWORD, "Quiet-Harbour-73", confirm="Quiet-Harbour-74")

    assert shown(app, "The two entries differ.") in response.get_data(as_text=True)
    assert check_password_hash(db.session.get(User, user.id).password_hash, PASSWORD)


def test_good_new_password_is_stored_hashed_and_replaces_the_old_one(app, client, make_user):
    user = make_user("office")
    login(client, user.username)

    response = change_password(client, PASSWORD, "Quiet-Harbour-73")

    assert response.status_code == 302
    stored = db.session.get(User, user.id).password_hash
    assert "Quiet-Harbour-73" not in stored
    assert check_password_hash(stored, "Quiet-Harbour-73")
    assert client.get("/account/password").status_code == 200  # this browser stays in

    other = app.test_client()
    assert login(other, user.username, PASSWORD).status_code == 200  # the old one is refused
    assert login(other, user.username, "Quiet-Harbour-73").status_code == 302
