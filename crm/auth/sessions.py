"""Server-side login sessions.

The signed cookie holds only a random token. The token's row in ``user_sessions`` decides
whether the session is alive: logout, a password change or disabling the user revokes the
row, so a cookie copied before then is refused afterwards. The same row enforces the idle
and absolute limits, whatever the cookie claims.
"""

import secrets
from datetime import timedelta

from flask import Flask, current_app, request, session
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from sqlalchemy import select, update

from crm.auth.models import User, UserSession
from crm.extensions import db, login_manager
from crm.timeutil import utcnow

# How stale last_seen_at may get before a request writes it again: keeps reads read-only.
_TOUCH_EVERY = timedelta(seconds=60)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"
    login_manager.user_loader(_load_user)


def start_session(user: User) -> UserSession:
    """Log ``user`` in with a fresh session row. The caller commits."""
    _clear_session()  # a new identifier at every login: no session fixation
    row = UserSession(
        token=secrets.token_urlsafe(32),
        user=user,
        ip=request.remote_addr or "",
        user_agent=(request.user_agent.string or "")[:256],
    )
    db.session.add(row)
    session["sid"] = row.token
    session.permanent = True
    login_user(user)
    return row


def end_session() -> None:
    """Revoke the current session row and clear the cookie. The caller commits."""
    if token := session.get("sid"):
        db.session.execute(
            update(UserSession)
            .where(UserSession.token == token, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    logout_user()
    _clear_session()


def revoke_all(user: User) -> None:
    """End every session and API token of ``user``, this request's included. The caller
    commits."""
    from crm.api.models import ApiToken

    for model in (UserSession, ApiToken):
        db.session.execute(
            update(model)
            .where(model.user_id == user.id, model.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def _clear_session() -> None:
    # The language someone chose is not a secret: keep it across login and logout.
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def _load_user(user_id: str) -> User | None:
    token = session.get("sid")
    if not token:
        return None
    row = db.session.scalar(
        select(UserSession).where(UserSession.token == token, UserSession.revoked_at.is_(None))
    )
    if row is None or str(row.user_id) != user_id:
        return None
    now = utcnow()
    cfg = current_app.config
    if (
        now - row.last_seen_at > cfg["SESSION_IDLE_LIMIT"]
        or now - row.created_at > cfg["SESSION_ABSOLUTE_LIMIT"]
    ):
        _write_now(update(UserSession).where(UserSession.id == row.id).values(revoked_at=now))
        _clear_session()
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        _write_now(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
    return user


def _write_now(stmt) -> None:
    # Bookkeeping on its own connection, so it neither waits for nor commits the request's work.
    with db.engine.begin() as conn:
        conn.execute(stmt)
