"""The JSON API, version 1: the blueprint, how it authenticates and answers errors, and
its routes, which the modules below declare with ``crm.api.openapi.operation``.

One request is one transaction, as on the pages: a view validates, calls one service,
commits and answers; every refusal becomes the error shape of ``crm.api.errors``.
"""

from flask import Blueprint, Response, jsonify
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from crm.api import (
    action_views,  # noqa: F401  (each module declares its routes in OPERATIONS)
    demand_views,  # noqa: F401
    firm_views,  # noqa: F401
    policy_views,  # noqa: F401
    portal_views,  # noqa: F401
    stats_views,  # noqa: F401
    token_views,  # noqa: F401
)
from crm.api.auth import CookielessApi, authenticate_request
from crm.api.errors import ApiError, error_response, from_api_error
from crm.api.openapi import OPERATIONS, operation, spec
from crm.auth.permissions import public
from crm.demands.attachments import AttachmentError
from crm.demands.services import DemandError
from crm.extensions import csrf, db
from crm.portal.services import PortalError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens are not sent by a browser on its own, so there is nothing to forge; and
# the cookie session is never read here (crm.api.auth), so it cannot authorise a call.
csrf.exempt(bp)
bp.before_request(authenticate_request)


@bp.record_once
def _no_cookie_session(state) -> None:
    state.app.session_interface = CookielessApi(state.app.session_interface, "/api/")


@operation(
    "GET",
    "/openapi.json",
    summary="This API's OpenAPI 3.1 description",
    tag="meta",
    responses={200: {"type": "object"}},
)
@public
def openapi_json():
    return jsonify(spec())


for op in OPERATIONS:
    bp.add_url_rule(op.rule, endpoint=op.endpoint, view_func=op.view, methods=[op.method])


@bp.after_request
def _no_store(response: Response) -> Response:
    # Answers carry one user's data: no shared cache may keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- domain refusals, as the pages map them: role 403, state 409, a field 422 -----------------

_STATUS = {"role": 403, "state": 409, "stale": 409}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return from_api_error(exc)


@bp.errorhandler(DemandError)
@bp.errorhandler(PortalError)
def _domain_error(exc: DemandError | PortalError):
    db.session.rollback()
    status = _STATUS.get(exc.code, 422)
    code = {"role": "forbidden", "invalid": "invalid"}.get(exc.code, exc.code)
    fields = {exc.field: exc.message} if exc.field and status == 422 else {}
    return error_response(status, code, exc.message, fields)


@bp.errorhandler(AttachmentError)
def _attachment_error(exc: AttachmentError):
    db.session.rollback()
    code = "too_large" if exc.status == 413 else "invalid"
    return error_response(exc.status, code, exc.message, {"files": exc.message})


@bp.errorhandler(StaleDataError)
def _stale(exc: StaleDataError):
    # Someone's write landed between this request's read and its write.
    db.session.rollback()
    return error_response(409, "stale", _("Someone else changed this record: look again."))
