"""Firm import (Excel/CSV, previewed before writing) and export (the filtered list to Excel)."""

from flask import Blueprint

import_bp = Blueprint("firms_import", __name__, url_prefix="/firms/import")
export_bp = Blueprint("firms_export", __name__, url_prefix="/firms")
