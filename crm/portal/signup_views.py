"""Getting a firm account: a sign-up request with the firm's code, or an invitation.

Both pages are public. Someone already logged in is sent to their start page: an account
is asked for, or an invitation taken up, by the person who will use it.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.permissions import public
from crm.extensions import db, limiter
from crm.firms.models import Firm
from crm.portal.forms import InvitationForm, SignupForm
from crm.portal.services import PortalError, accept_invitation, find_invitation, submit_signup

bp = Blueprint("signup", __name__)


def _field_error(form, exc: PortalError, fallback: str) -> None:
    name = exc.field if exc.field in form else fallback
    form[name].errors = [*form[name].errors, exc.message]


def _logged_in():
    flash(_("You are logged in already."), "info")
    return redirect(url_for("home.index"))


@bp.route("/signup", methods=["GET", "POST"], endpoint="request")
@limiter.limit("10 per hour", methods=["POST"])
@public
def ask():
    if current_user.is_authenticated:
        return _logged_in()
    form = SignupForm()
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        firm = db.session.scalar(select(Firm).where(Firm.uscc == form.uscc.data))
        if firm is not None and not form.name_matches(firm.name):
            form.firm_name.errors.append(
                _("This is not the name registered under the code: check both.")
            )
            return render_template("portal/signup.html", form=form), 422
        try:
            signup = submit_signup(
                uscc=form.uscc.data,
                person_name=form.person_name.data,
                phone=form.phone.data,
                username=form.username.data,
                password=form.password.data,
                email=form.email.data or "",
                job_title=form.job_title.data or "",
            )
        except PortalError as exc:
            db.session.rollback()
            _field_error(form, exc, "uscc")
        else:
            db.session.commit()
            return render_template("portal/signup_sent.html", signup=signup, firm=signup.firm)
    return render_template("portal/signup.html", form=form), status


def _invalid():
    return render_template("portal/invitation_invalid.html"), 404


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@public
def invitation(token: str):
    if current_user.is_authenticated:
        return _logged_in()
    found = find_invitation(token)
    if found is None:
        return _invalid()
    form = InvitationForm()
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            accept_invitation(token, username=form.username.data, password=form.password.data)
        except PortalError as exc:
            db.session.rollback()
            if exc.code == "invalid_token":
                return _invalid()
            _field_error(form, exc, "username")
            found = find_invitation(token)
        else:
            db.session.commit()
            flash(_("Your account is ready: log in with your user name and password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("portal/invitation.html", invitation=found, form=form), status
