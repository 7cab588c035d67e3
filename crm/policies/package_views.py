"""A firm's service packages, for staff: compose, issue, read, download, acknowledge."""

from flask import Blueprint

bp = Blueprint("packages", __name__, url_prefix="/packages")
