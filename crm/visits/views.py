"""Visits: log a visit with the demands it raised, the ledger and its export."""

from flask import Blueprint

bp = Blueprint("visits", __name__, url_prefix="/visits")
