"""Case types: the office edits stage templates and checklists."""

from flask import Blueprint

bp = Blueprint("case_types", __name__, url_prefix="/case-types")
