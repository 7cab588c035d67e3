"""Writing the audit log. Records join the caller's transaction unless said otherwise."""

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from crm.audit.models import AuditLog
from crm.extensions import db

# Never written to the log, whatever a caller passes in ``detail``.
_SECRET_KEYS = ("password", "token", "secret", "csrf")


def _clean(detail: dict[str, Any] | None) -> dict[str, Any]:
    if not detail:
        return {}
    return {k: v for k, v in detail.items() if not any(s in k.lower() for s in _SECRET_KEYS)}


def record(
    action: str,
    obj: Any = None,
    *,
    object_type: str = "",
    object_id: int | None = None,
    result: str = "success",
    detail: dict[str, Any] | None = None,
    user: Any = None,
    username: str = "",
) -> AuditLog:
    """Add an audit record for ``action`` on ``obj`` to the session; the caller commits."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
    entry = AuditLog(
        user_id=user.id if user is not None else None,
        username=(user.username if user is not None else username)[:64],
        ip=(request.remote_addr or "") if has_request_context() else "cli",
        action=action,
        object_type=object_type,
        object_id=object_id,
        result=result,
        detail=_clean(detail),
    )
    db.session.add(entry)
    return entry


def record_now(action: str, **kwargs: Any) -> None:
    """Record and commit at once, for events whose request is about to fail or end."""
    db.session.rollback()
    record(action, **kwargs)
    db.session.commit()


def record_denied(path: str, reason: str) -> None:
    record_now(
        "permission.denied",
        result="denied",
        detail={"path": path, "method": request.method, "reason": reason},
    )


def changes(obj: Any, fields: list[str]) -> dict[str, list]:
    """Field -> [old, new] for the ``fields`` of ``obj`` changed in this session."""
    from sqlalchemy import inspect

    state = inspect(obj)
    diff = {}
    for name in fields:
        hist = state.attrs[name].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            diff[name] = [_jsonable(old), _jsonable(new)]
    return diff


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)
