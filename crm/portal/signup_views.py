"""Getting a firm account: a sign-up request with the firm's code, or an invitation."""

from flask import Blueprint

bp = Blueprint("signup", __name__)
