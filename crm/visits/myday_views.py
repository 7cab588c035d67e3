"""A commissioner's day: its firms, demands, cases, requests and what is due."""

from flask import Blueprint

bp = Blueprint("myday", __name__, url_prefix="/my-day")
