"""Prospects not yet registered, and their registration as firms."""

from flask import Blueprint

bp = Blueprint("prospects", __name__, url_prefix="/prospects")
