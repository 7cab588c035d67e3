"""``flask crm create-user``: the operator's way to make the first accounts."""

import pytest
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.auth.models import User
from crm.auth.passwords import verify_password
from crm.extensions import db


@pytest.fixture(autouse=True)
def english(app):
    """Outside a request the command speaks the default language; read it in English."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


def create_user(runner, *extra):
    return runner.invoke(args=["crm", "create-user", *extra])


def test_creates_a_user_that_can_log_in(runner):
    result = create_user(
        runner,
        "--username",
        "chenjing",
        "--display-name",
        "陈静",
        "--role",
        "office",
        "--password",
        "Office-Desk-58",
    )
    assert result.exit_code == 0, result.output
    assert "created office chenjing" in result.output
    user = db.session.scalar(select(User).where(User.username == "chenjing"))
    assert user.display_name == "陈静" and user.role == "office" and user.active
    assert verify_password(user.password_hash, "Office-Desk-58")
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.create"))
    assert entry.object_id == user.id and entry.user_id is None and entry.ip == "cli"
    assert "Office-Desk-58" not in str(entry.detail)


def test_creates_a_commissioner_in_a_named_street(runner, make_street):
    street = make_street(name="仙霞新村街道")
    result = create_user(
        runner,
        "--username",
        "xianxia1",
        "--role",
        "commissioner",
        "--street",
        "仙霞新村街道",
        "--password",
        "Street-Walk-81",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "xianxia1"))
    assert user.street_id == street.id


def test_refuses_a_weak_password(runner):
    result = create_user(
        runner, "--username", "weakling", "--role", "office", "--password", "password"
    )
    assert result.exit_code != 0
    assert "too common" in result.output
    assert db.session.scalar(select(User).where(User.username == "weakling")) is None


def test_refuses_a_taken_name_and_a_missing_unit(runner, make_user):
    make_user("office", username="taken")
    result = create_user(
        runner, "--username", "TAKEN", "--role", "office", "--password", "Office-Desk-58"
    )
    assert result.exit_code != 0 and "is taken" in result.output
    result = create_user(
        runner, "--username", "nostreet", "--role", "street", "--password", "Office-Desk-58"
    )
    assert result.exit_code != 0 and "needs a street" in result.output
    result = create_user(
        runner,
        "--username",
        "nostreet",
        "--role",
        "street",
        "--street",
        "不存在街道",
        "--password",
        "Office-Desk-58",
    )
    assert result.exit_code != 0 and "No street is named" in result.output
    assert db.session.scalar(select(User).where(User.username == "nostreet")) is None
