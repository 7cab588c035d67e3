"""The audit log records who did what, from where and when, never a password; it only grows."""

import json
import os
import time

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from crm.audit.models import AppendOnlyError, AuditLog
from crm.auth.services import set_active
from crm.extensions import db
from crm.timeutil import utcnow
from tests.conftest import PASSWORD, csrf_token, login

IP = "203.0.113.7"


@pytest.fixture
def shanghai_clock():
    """The server's local clock eight hours ahead of UTC, so local time cannot pass for UTC."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "CST-8"  # POSIX form: needs no time-zone database
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.fixture
def browser(client):
    client.environ_base["REMOTE_ADDR"] = IP
    return client


def entries(action: str) -> list[AuditLog]:
    return db.session.scalars(
        select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
    ).all()


def who(entry: AuditLog) -> tuple:
    return entry.user_id, entry.username, entry.ip, entry.result


def test_login_success_records_utc_time_user_ip_and_result(browser, make_user, shanghai_clock):
    user = make_user("office")
    before = utcnow()
    login(browser, user.username)
    after = utcnow()

    [entry] = entries("login")
    assert before <= entry.at <= after
    assert who(entry) == (user.id, user.username, IP, "success")


def test_login_failure_records_the_user_and_the_reason(browser, make_user):
    user = make_user("office")
    login(browser, user.username, "Wrong-Pass-99")

    [entry] = entries("login")
    assert who(entry) == (user.id, user.username, IP, "failure")
    assert entry.detail["reason"] == "password"


def test_login_failure_for_an_unknown_name_records_the_name_typed(browser):
    login(browser, "nobody-here", "Wrong-Pass-99")

    [entry] = entries("login")
    assert who(entry) == (None, "nobody-here", IP, "failure")


def test_login_refused_by_the_lock_is_recorded(browser, make_user):
    user = make_user("office")
    for _ in range(6):
        login(browser, user.username, "Wrong-Pass-99")

    reasons = [(e.result, e.detail["reason"]) for e in entries("login")]
    assert reasons == [("failure", "password")] * 5 + [("failure", "locked")]
    assert entries("login")[4].detail["locked"] is True


def test_logout_is_recorded(browser, login_as, shanghai_clock):
    user = login_as("office")
    before = utcnow()
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})

    [entry] = entries("logout")
    assert before <= entry.at <= utcnow()
    assert who(entry) == (user.id, user.username, IP, "success")


def test_permission_denied_is_recorded_with_the_page_refused(browser, login_as):
    user = login_as("firm")
    assert browser.get("/firms/").status_code == 403

    [entry] = entries("permission.denied")
    assert who(entry) == (user.id, user.username, IP, "denied")
    assert entry.detail["path"] == "/firms/"
    assert entry.detail["method"] == "GET"


def test_password_change_is_recorded_against_the_account(browser, login_as):
    user = login_as("office")
    browser.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "Quiet-Harbour-73",
            "confirm": "Quiet-Harbour-73",
            "csrf_token": csrf_token(browser, "/account/password"),
        },
    )

    [entry] = entries("user.password_change")
    assert (entry.object_type, entry.object_id) == ("users", user.id)
    assert (entry.user_id, entry.ip, entry.result) == (user.id, IP, "success")


def test_disabling_a_user_is_recorded_against_the_account(app, make_user):
    user, admin = make_user("office"), make_user("admin")
    with app.test_request_context():
        set_active(user, False, actor=admin)
        db.session.commit()

    [entry] = entries("user.update")
    assert (entry.object_type, entry.object_id, entry.user_id) == ("users", user.id, admin.id)
    assert entry.detail == {"active": [True, False]}


def test_no_audit_record_holds_a_password_that_was_typed(app, browser, make_user):
    user = make_user("office", username="wangfang")
    typed = {
        "login-wrong": "Wrong-Pass-Alpha-1",
        "unknown-user": "Wrong-Pass-Bravo-2",
        "login-right": PASSWORD,
        "current-wrong": "Wrong-Pass-Charlie-3",
        "new-too-common": "P@ssw0rd",
        "new-good": "Quiet-Harbour-73",
    }
    login(browser, "wangfang", typed["login-wrong"])
    login(browser, "nobody-here", typed["unknown-user"])
    login(browser, "wangfang", typed["login-right"])

    def change(current, new):
        browser.post(
            "/account/password",
            data={
                "current_password": current,
                "new_password": new,
                "confirm": new,
                "csrf_token": csrf_token(browser, "/account/password"),
            },
        )

    change(typed["current-wrong"], typed["new-good"])
    change(PASSWORD, typed["new-too-common"])
    change(PASSWORD, typed["new-good"])
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})
    login(browser, "wangfang", typed["new-good"])

    records = db.session.scalars(select(AuditLog)).all()
    assert {r.action for r in records} >= {"login", "logout", "user.password_change"}
    stored = [
        json.dumps(
            [r.username, r.ip, r.action, r.object_type, r.result, r.detail], ensure_ascii=False
        )
        for r in records
    ]
    leaks = {name: s for s in stored for name, pw in typed.items() if pw.lower() in s.lower()}
    assert leaks == {}
    assert db.session.get(type(user), user.id).password_hash not in "".join(stored)


# -- append-only -----------------------------------------------------------------------


@pytest.fixture
def audit_entry(browser, make_user):
    user = make_user("office")
    login(browser, user.username)
    [entry] = entries("login")
    return entry


def unchanged(entry_id: int) -> bool:
    db.session.rollback()
    db.session.expire_all()
    entry = db.session.get(AuditLog, entry_id)
    return entry is not None and entry.result == "success"


def test_orm_refuses_to_change_an_audit_record(audit_entry):
    entry_id = audit_entry.id
    audit_entry.result = "failure"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    assert unchanged(entry_id)


def test_orm_refuses_to_delete_an_audit_record(audit_entry):
    entry_id = audit_entry.id
    db.session.delete(audit_entry)
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    assert unchanged(entry_id)


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditLog).values(result="failure"),
        delete(AuditLog),
        text("UPDATE audit_log SET result = 'failure'"),
        text("UPDATE audit_log SET detail = '{}', username = 'someone-else'"),
        text("DELETE FROM audit_log"),
    ],
    ids=["orm-bulk-update", "orm-bulk-delete", "sql-update", "sql-update-detail", "sql-delete"],
)
def test_database_refuses_to_change_or_delete_audit_records(audit_entry, statement):
    entry_id = audit_entry.id
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(statement)
        db.session.commit()
    assert unchanged(entry_id)


def test_database_refuses_changes_from_outside_the_application(audit_entry):
    entry_id = audit_entry.id
    with db.engine.connect() as conn:
        for sql in ("UPDATE audit_log SET ip = '10.0.0.1'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
    assert unchanged(entry_id)


def test_new_records_can_still_be_added(browser, audit_entry):
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["login", "logout"]
