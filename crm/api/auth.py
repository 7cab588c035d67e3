"""Who is calling: the bearer token, and nothing else.

The API opens no cookie session (``CookielessApi``: a null session, never read, never
refreshed, so a browser's cookie cannot authorise an API call and no answer sets one).
Before each request the token's user becomes Flask-Login's ``current_user`` for that
request only, the way Flask-Login keeps it (``g._login_user``): audit records and the
permission helpers see the caller as they do on the pages.
"""

from collections.abc import Callable
from functools import wraps

from flask import Flask, g, request
from flask.sessions import SessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.api.errors import ApiError
from crm.api.tokens import user_for
from crm.audit.services import record_denied
from crm.auth.permissions import ALL_ROLES
from crm.extensions import db, login_manager


class CookielessApi(SessionInterface):
    """The app's own session interface, except that paths under ``prefix`` get none."""

    def __init__(self, inner: SessionInterface, prefix: str):
        self.inner = inner
        self.prefix = prefix

    def open_session(self, app: Flask, request):
        if request.path.startswith(self.prefix):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        self.inner.save_session(app, session, response)


def authenticate_request() -> None:
    """``before_request`` of the API blueprint."""
    g._login_user = login_manager.anonymous_user()
    g.api_token = None
    g.api_token_refused = False
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if not scheme:
        return
    found = user_for(raw.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        g.api_token_refused = True
        return
    user, token = found
    if db.session.is_modified(token):
        db.session.commit()  # last_used_at, now and then: before the request's own work
    g._login_user = user
    g.api_token = token


def api_roles(*roles: str) -> Callable:
    """Admit callers with a live token and one of ``roles``: 401 without, 403 for others.

    Sets ``allowed_roles`` like ``crm.auth.permissions.roles_required``.
    """
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if g.get("api_token_refused"):
                    raise ApiError(
                        401, "invalid_token", _l("The token is unknown, expired or revoked.")
                    )
                raise ApiError(401)
            if current_user.role not in roles:
                refuse("role")
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(roles)
        return wrapped

    return decorator


def refuse(reason: str, message=None) -> None:
    """Write the refusal to the audit log and answer 403."""
    record_denied(request.path, reason)
    raise ApiError(403, "forbidden", message)
