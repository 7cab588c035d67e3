"""Assistance cases: the board, the case page and its transitions."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")
