"""Bulletins (通报): generated on demand, and filed ones for download."""

from flask import Blueprint

bp = Blueprint("bulletins", __name__, url_prefix="/bulletins")
