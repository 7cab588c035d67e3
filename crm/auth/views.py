from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.audit.services import record, record_now
from crm.auth.forms import ChangePasswordForm, LoginForm
from crm.auth.models import UserSession
from crm.auth.passwords import verify_password
from crm.auth.permissions import login_required, public
from crm.auth.services import LoginRefused, authenticate, set_password
from crm.auth.sessions import end_session, start_session
from crm.extensions import db, limiter
from crm.urls import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data)
        except LoginRefused as refused:
            db.session.commit()  # keep the failure count and the audit record
            form.password.errors.append(refused.message)
            return render_template("auth/login.html", form=form), 200
        start_session(user)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    record("logout")
    end_session()
    db.session.commit()
    flash(_("You have logged out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])  # no guessing the current password
@login_required
def change_password():
    form = ChangePasswordForm()
    form.username_hint = current_user.username
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            record_now("user.password_change", result="failure", detail={"reason": "current"})
            form.current_password.errors.append(_("The current password is wrong."))
        else:
            user = current_user._get_current_object()
            set_password(user, form.new_password.data, actor=user)
            start_session(user)  # a new token for this browser; copies of the old one are out
            db.session.commit()
            flash(_("Your password has been changed; your other sessions have ended."), "success")
            return redirect(url_for("home.index"))
    sessions = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == current_user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.created_at.desc())
    ).all()
    return render_template("auth/password.html", form=form, sessions=sessions)
