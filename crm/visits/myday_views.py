"""A commissioner's day: its firms, demands, cases, requests and what is due."""

from flask import Blueprint, current_app, render_template, url_for
from flask_login import current_user

from crm.auth.permissions import COMMISSIONER, roles_required
from crm.demands import labels as demand_labels
from crm.visits import myday
from crm.workcal.services import today

bp = Blueprint("myday", __name__, url_prefix="/my-day")


def _link(endpoint: str, **values) -> str | None:
    """The address of ``endpoint``, or None while that page does not exist."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


@bp.route("/")
@roles_required(COMMISSIONER)
def index():
    day = myday.my_day(current_user, today())
    return render_template("visits/my_day.html", day=day, link=_link, demand_labels=demand_labels)
