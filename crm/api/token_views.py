"""Bearer tokens: issued for a user name and password, under the login page's lockout and
rate limit; revoked by the caller."""

from flask import g, jsonify
from flask_login import current_user

from crm.api import present
from crm.api.auth import api_roles
from crm.api.errors import ApiError
from crm.api.openapi import operation
from crm.api.parsing import json_body
from crm.api.schemas import TokenOut, TokenRequest
from crm.api.tokens import issue_token, revoke
from crm.auth.models import ROLES
from crm.auth.permissions import public
from crm.auth.services import LoginRefused
from crm.extensions import db, limiter

_CODES = {"invalid": "invalid_credentials", "locked": "locked", "disabled": "disabled"}


@operation(
    "POST",
    "/auth/token",
    summary="Get a bearer token for a user name and password",
    description="Five wrong passwords lock the account for a while, as on the login page "
    "(401, code locked). The token is shown once.",
    tag="auth",
    body=TokenRequest,
    responses={201: TokenOut},
    errors=(401, 429),
)
@limiter.limit("20 per minute", methods=["POST"])
@public
def token_create():
    body = json_body(TokenRequest)
    try:
        row, raw = issue_token(body.username, body.password, label=body.label)
    except LoginRefused as refused:
        db.session.commit()  # keep the failure count and the audit record
        code = _CODES.get(refused.code, "invalid_credentials")
        raise ApiError(401, code, refused.message) from None
    db.session.commit()
    answer = TokenOut(
        token=raw,
        token_type="Bearer",  # noqa: S106  (the scheme's name, not a secret)
        expires_at=row.expires_at,
        user=present.user(row.user),
    )
    return jsonify(answer.model_dump(mode="json")), 201


@operation(
    "DELETE",
    "/auth/token",
    summary="Revoke the token this request is made with",
    tag="auth",
    responses={204: None},
)
@api_roles(*ROLES)
def token_delete():
    revoke(g.api_token, actor=current_user._get_current_object())
    db.session.commit()
    return "", 204
