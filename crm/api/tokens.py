"""Bearer tokens: issued for a user name and password (the login lockout applies),
looked up by their SHA-256, revoked one by one or all at once."""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from crm.api.models import ApiToken
from crm.audit.services import record
from crm.auth.models import User
from crm.auth.services import authenticate
from crm.extensions import db
from crm.timeutil import utcnow

# last_used_at is written at most this often per token: a busy client must not turn
# every read into a write.
TOUCH_EVERY = timedelta(minutes=5)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(hours=current_app.config.get("API_TOKEN_HOURS", 24 * 7))


def issue_token(username: str, password: str, *, label: str = "") -> tuple[ApiToken, str]:
    """A new token for these credentials; ``LoginRefused`` as for the login page.

    Returns the row and the raw token, which is shown once and never stored.
    """
    user = authenticate(username, password)
    raw = secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=token_hash(raw),
        label=(label or "")[:64],
        expires_at=utcnow() + lifetime(),
    )
    db.session.add(row)
    db.session.flush()
    record("api.token", row, user=user, detail={"expires_at": row.expires_at.isoformat()})
    return row, raw


def user_for(raw: str) -> tuple[User, ApiToken] | None:
    """The active user a live token belongs to, or None."""
    if not raw or len(raw) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = row.user
    if not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
    return user, row


def revoke(row: ApiToken, *, actor: User) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record("api.token_revoke", row, user=actor)
