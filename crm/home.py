from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import func, select

from crm.auth.permissions import COMMISSIONER, FIRM, public
from crm.extensions import db
from crm.urls import safe_next

bp = Blueprint("home", __name__)


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == FIRM:
        return redirect(url_for("portal.index"))
    if current_user.role == COMMISSIONER:
        return redirect(url_for("myday.index"))
    return render_template("home.html", summary=_summary())


@bp.route("/language/<lang>", methods=["POST"])
@public
def set_language(lang: str):
    from flask import current_app

    if lang in current_app.config["LANGUAGES"]:
        session["locale"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("home.index"))


def _summary() -> dict:
    from crm.auth.permissions import firm_scope
    from crm.firms.models import Firm

    scope = firm_scope(current_user)
    rows = db.session.execute(
        select(Firm.tier, func.count()).where(scope, Firm.status != "moved_out").group_by(Firm.tier)
    ).all()
    by_tier = {tier: n for tier, n in rows}
    return {"firms": sum(by_tier.values()), "by_tier": by_tier}
