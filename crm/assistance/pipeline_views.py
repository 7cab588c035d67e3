"""Pipeline figures: cases and expected value by type and stage, landed, days to land."""

from flask import Blueprint

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")
