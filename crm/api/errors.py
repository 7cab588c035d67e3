"""The API's one error shape, ``{"error": {"code", "message", "fields"}}``, for every
refusal: a bad token, a role or scope, a form that does not validate, an action the demand's
state does not allow, and the HTTP errors Werkzeug raises (404, 405, 413 …).

``code`` is a stable machine word a client can branch on; ``message`` is for a person, in
the request's language (Chinese unless ``?lang=en``); ``fields`` names the body or query
fields to blame.
"""

import logging

from flask import Response, jsonify
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from crm.extensions import db

logger = logging.getLogger("crm.api")

# Werkzeug's HTTP errors, as the API names and words them.
_HTTP = {
    400: ("bad_request", _l("The request could not be understood.")),
    401: ("unauthorized", _l("Send a valid bearer token: Authorization: Bearer <token>.")),
    403: ("forbidden", _l("You do not have permission to do this.")),
    404: ("not_found", _l("The page or record was not found.")),
    405: ("method_not_allowed", _l("This action is not allowed here.")),
    409: ("conflict", _l("The record changed in the meantime: look again.")),
    413: ("too_large", _l("The upload is too large.")),
    415: ("unsupported_media_type", _l("Send the body as JSON (Content-Type: application/json).")),
    422: ("invalid", _l("Some fields are not valid.")),
    429: ("rate_limited", _l("Too many requests: wait a moment and try again.")),
    500: ("server_error", _l("Something went wrong on our side. The error has been logged.")),
}


class ApiError(Exception):
    """A refusal the API answers with ``status`` and the error shape."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message=None,
        fields: dict[str, str] | None = None,
    ):
        default_code, default_message = _HTTP.get(status, _HTTP[400])
        self.status = status
        self.code = code or default_code
        self.message = str(message if message is not None else default_message)
        self.fields = {k: str(v) for k, v in (fields or {}).items()}
        super().__init__(self.message)


def error_response(
    status: int, code: str, message, fields: dict[str, str] | None = None
) -> Response:
    response = jsonify(error={"code": code, "message": str(message), "fields": fields or {}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    response.headers["Cache-Control"] = "no-store"
    return response


def from_api_error(exc: ApiError) -> Response:
    db.session.rollback()
    return error_response(exc.status, exc.code, exc.message, exc.fields)


def from_http(exc: HTTPException) -> Response:
    """Any Werkzeug HTTP error raised under /api/ (unknown path, 405, 413, 429 …)."""
    status = exc.code or 500
    code, message = _HTTP.get(status, (f"http_{status}", exc.description or ""))
    response = error_response(status, code, message)
    if status == 405 and exc.get_headers():
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def server_error() -> Response:
    db.session.rollback()
    code, message = _HTTP[500]
    return error_response(500, code, message)
