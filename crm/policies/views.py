"""The policy catalog: list, create, edit, retire, import, and each policy's candidates."""

from flask import Blueprint

bp = Blueprint("policies", __name__, url_prefix="/policies")
