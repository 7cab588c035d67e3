"""In-app notifications: each user's own list, opening one, and the bell's unread count."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from crm.auth.permissions import allowed, can_view_demand, login_required
from crm.demands import inbox
from crm.demands.models import Demand
from crm.extensions import db
from crm.urls import safe_next

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def unread_notifications():
    """``unread_notifications()`` for the bell: counted at most once per request, and only
    when a page for a logged-in user asks (never on the login page, a PDF or a mail)."""

    def count() -> int | None:
        if not has_request_context() or not current_user.is_authenticated:
            return None
        if "unread_notifications" not in g:
            try:
                g.unread_notifications = inbox.unread_count(current_user)
            except SQLAlchemyError:
                # The error page renders the bell too: a broken database must not also
                # break the page that says so.
                db.session.rollback()
                current_app.logger.warning("unread count unavailable", exc_info=True)
                g.unread_notifications = None
        return g.unread_notifications

    return {"unread_notifications": count}


@bp.route("/")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    page = db.paginate(
        inbox.notification_query(current_user, unread_only=unread_only),
        per_page=request.args.get("per_page", type=int) or 25,
        max_per_page=100,
        error_out=False,
    )
    return render_template("notifications/index.html", page=page, unread_only=unread_only)


@bp.route("/<int:notification_id>")
@login_required
def open(notification_id: int):
    """Mark one's own notification read and go to its demand. Someone else's: 404."""
    notification = inbox.own_notification(current_user, notification_id)
    if notification is None:
        abort(404)
    inbox.mark_read(notification)
    db.session.commit()
    if notification.demand_id is None:
        return redirect(safe_next(notification.link) or url_for("notifications.index"))
    demand = db.session.scalar(
        select(Demand)
        .where(Demand.id == notification.demand_id)
        .options(selectinload(Demand.tasks), selectinload(Demand.firm))
    )
    # A task may have been re-dispatched elsewhere since: say so rather than answer 403.
    page = "portal.demand" if current_user.role == "firm" else "demands.detail"
    if demand is None or not allowed(page) or not can_view_demand(current_user, demand):
        flash(_("You can no longer open the demand this notification is about."), "warning")
        return redirect(url_for("notifications.index"))
    return redirect(url_for(page, demand_id=demand.id))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    n = inbox.mark_all_read(current_user)
    db.session.commit()
    if n:
        flash(
            ngettext("%(num)s notification marked read.", "%(num)s notifications marked read.", n),
            "success",
        )
    return redirect(url_for("notifications.index"))
