"""The firm's packages and matched policies in the portal."""

from flask import Blueprint

bp = Blueprint("portal_packages", __name__, url_prefix="/portal")
