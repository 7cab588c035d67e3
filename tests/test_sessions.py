"""Server-side sessions: a copied cookie dies with the session; idle and absolute limits."""

from datetime import timedelta

from sqlalchemy import select

from crm.auth.models import UserSession
from crm.auth.services import set_active
from crm.extensions import db
from crm.timeutil import utcnow
from tests.conftest import PASSWORD, csrf_token, login

PAGE = "/account/password"  # any page that needs a login


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def open_session(user) -> UserSession:
    return db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    ).one()


def test_a_copied_cookie_works_while_the_session_lives(app, client, login_as):
    login_as("office")
    assert copy_of(app, client).get(PAGE).status_code == 200


def test_logout_ends_the_session_for_a_copy_of_its_cookie(app, client, login_as):
    login_as("office")
    thief = copy_of(app, client)

    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    assert sent_to_login(thief.get(PAGE))
    assert sent_to_login(client.get(PAGE))


def test_password_change_ends_copies_but_not_the_browser_that_changed_it(app, client, login_as):
    user = login_as("office")
    thief = copy_of(app, client)
    elsewhere = app.test_client()
    login(elsewhere, user.username)

    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "Quiet-Harbour-73",
            "confirm": "Quiet-Harbour-73",
            "csrf_token": csrf_token(client, PAGE),
        },
    )

    assert response.status_code == 302
    assert client.get(PAGE).status_code == 200
    assert sent_to_login(thief.get(PAGE))
    assert sent_to_login(elsewhere.get(PAGE))


def test_disabling_a_user_ends_their_sessions(app, client, login_as, make_user):
    user = login_as("office")
    thief = copy_of(app, client)

    set_active(user, False, actor=make_user("admin"))
    db.session.commit()

    assert sent_to_login(client.get(PAGE))
    assert sent_to_login(thief.get(PAGE))


def test_enabling_a_user_again_does_not_revive_old_sessions(app, client, login_as, make_user):
    user = login_as("office")
    admin = make_user("admin")
    set_active(user, False, actor=admin)
    db.session.commit()
    set_active(user, True, actor=admin)
    db.session.commit()

    assert sent_to_login(client.get(PAGE))
    assert login(client, user.username).status_code == 302


def test_each_login_gets_its_own_session(app, client, login_as):
    user = login_as("office")
    first = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, user.username)

    assert client.get_cookie("session").value != first
    old = app.test_client()
    old.set_cookie("session", first)
    assert sent_to_login(old.get(PAGE))


def test_idle_session_ends_after_thirty_minutes(client, login_as):
    user = login_as("office")
    open_session(user).last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()

    assert sent_to_login(client.get(PAGE))
    assert db.session.scalars(select(UserSession)).one().revoked_at is not None


def test_a_session_in_use_stays_open(client, login_as):
    user = login_as("office")
    row = open_session(user)
    row.last_seen_at = utcnow() - timedelta(minutes=29)
    db.session.commit()

    assert client.get(PAGE).status_code == 200

    # That request counted as activity: another 29 minutes on, it is still open.
    row = open_session(user)
    assert row.last_seen_at > utcnow() - timedelta(minutes=1)
    row.last_seen_at -= timedelta(minutes=29)
    db.session.commit()
    assert client.get(PAGE).status_code == 200


def test_session_ends_twelve_hours_after_login_however_active(client, login_as):
    user = login_as("office")
    row = open_session(user)
    row.created_at = utcnow() - timedelta(hours=12, minutes=1)
    row.last_seen_at = utcnow()
    db.session.commit()

    assert sent_to_login(client.get(PAGE))


def test_session_is_still_open_just_before_twelve_hours(client, login_as):
    user = login_as("office")
    row = open_session(user)
    row.created_at = utcnow() - timedelta(hours=11, minutes=50)
    db.session.commit()

    assert client.get(PAGE).status_code == 200


def test_a_session_of_one_user_cannot_be_used_as_another(client, login_as, make_user):
    login_as("office")
    admin = make_user("admin")
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(admin.id)  # keep the office user's token, claim the admin

    assert sent_to_login(client.get(PAGE))


def test_a_cookie_without_a_server_session_is_refused(client, make_user):
    user = make_user("office")
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(user.id)
        cookie["sid"] = "made-up-token"

    assert sent_to_login(client.get(PAGE))


def choose_english(client, page: str) -> None:
    client.post("/language/en", data={"csrf_token": csrf_token(client, page)})
    assert '<html lang="en">' in client.get(page).text


def test_the_chosen_language_survives_login(client, make_user):
    user = make_user("office")
    choose_english(client, "/login")
    login(client, user.username)
    assert '<html lang="en">' in client.get("/").text


def test_the_chosen_language_survives_logout(client, login_as):
    login_as("office")
    choose_english(client, "/")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert '<html lang="en">' in client.get("/login").text
