"""Visit cadence: each tier's interval and courtesy limit, and the firms overdue for a visit."""

from flask import Blueprint

bp = Blueprint("cadence", __name__, url_prefix="/cadence")
