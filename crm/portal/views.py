"""The firm's portal: its demands, services, profile and commissioners."""

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")
