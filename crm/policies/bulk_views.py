"""Bulk issuance of packages to a tier or a street, with its progress and one download."""

from flask import Blueprint

bp = Blueprint("bulk_packages", __name__, url_prefix="/packages/bulk")
