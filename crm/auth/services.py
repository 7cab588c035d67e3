"""Logging in and managing accounts. Services change the session; callers commit."""

import secrets
from functools import cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.passwords import hash_password, policy_errors, verify_password
from crm.auth.sessions import revoke_all
from crm.extensions import db
from crm.timeutil import utcnow


class LoginRefused(Exception):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class PasswordRejected(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def authenticate(username: str, password: str) -> User:
    """The user these credentials prove, or ``LoginRefused``.

    Failures are counted in the database so the lockout holds across processes; the
    counter is incremented in one UPDATE so concurrent attempts cannot lose a count.
    """
    cfg = current_app.config
    user = find_user(username.strip())
    now = utcnow()
    invalid = LoginRefused(str(_l("Wrong user name or password.")), "invalid")
    if user is None:
        verify_password(_dummy_hash(), password)  # same work either way: no user enumeration
        record("login", result="failure", username=username[:64], detail={"reason": "unknown"})
        raise invalid
    if user.locked_until is not None and user.locked_until > now:
        record("login", user=user, result="failure", detail={"reason": "locked"})
        raise LoginRefused(str(_l("Too many failed attempts: try again later.")), "locked")
    if not verify_password(user.password_hash, password):
        count = db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one()
        locked = count >= cfg["LOGIN_MAX_FAILURES"]
        if locked:
            db.session.execute(
                update(User)
                .where(User.id == user.id)
                .values(locked_until=now + cfg["LOGIN_LOCKOUT"], failed_logins=0)
            )
        record(
            "login",
            user=user,
            result="failure",
            detail={"reason": "password", "failures": count, "locked": locked},
        )
        if locked:
            raise LoginRefused(str(_l("Too many failed attempts: try again later.")), "locked")
        raise invalid
    if not user.active:
        record("login", user=user, result="failure", detail={"reason": "disabled"})
        raise LoginRefused(str(_l("This account is disabled.")), "disabled")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record("login", user=user)
    return user


def set_password(user: User, password: str, *, actor: User | None = None) -> None:
    """Check the policy, store the new hash and end every session of the user.

    The session making the change ends too, so a copy of its cookie stops working; a
    user who changed their own password is given a fresh session by the caller.
    """
    errors = policy_errors(password, username=user.username)
    if errors:
        raise PasswordRejected(errors)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    revoke_all(user)
    by_self = actor is not None and actor.id == user.id
    record("user.password_change", user, user=actor, detail={"by_self": by_self})


def set_active(user: User, active: bool, *, actor: User) -> None:
    if user.active == active:
        return
    user.active = active
    if not active:
        revoke_all(user)
    record("user.update", user, user=actor, detail={"active": [not active, active]})


@cache
def _dummy_hash() -> str:
    """A hash of a random string, checked when the user does not exist."""
    return hash_password(secrets.token_hex(16))
