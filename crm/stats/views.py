"""The oversight dashboard: the office's, a street's and a leader's."""

from flask import Blueprint

bp = Blueprint("stats", __name__, url_prefix="/stats")
