"""Administration: user accounts, streets and departments."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.admin import services
from crm.admin.forms import (
    SPECIALTY_LABELS,
    DepartmentForm,
    NewUserForm,
    PasswordResetForm,
    StreetForm,
    UserFilterForm,
    UserForm,
)
from crm.auth.models import User
from crm.auth.permissions import ADMIN, roles_required
from crm.extensions import db
from crm.org.models import Department, Street
from crm.timeutil import utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")

# AccountError.field -> the form field to show the message next to.
_USER_FIELDS = {"street": "street_id", "department": "department_id", "firm": "firm_uscc"}


def _units(model: type, current=None) -> list:
    """Active streets or departments to choose from, plus ``current`` if it is inactive."""
    units = list(
        db.session.scalars(select(model).where(model.active.is_(True)).order_by(model.code))
    )
    if current is not None and current not in units:
        units.append(current)
    return units


def _all_units(model: type) -> list:
    return list(db.session.scalars(select(model).order_by(model.active.desc(), model.code)))


def _get_or_404(model: type, ident: int):
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


def _get_unit(model: type, ident: int | None):
    return db.session.get(model, ident) if ident else None


def _page(stmt, per_page: int = 25):
    return db.paginate(
        stmt,
        per_page=request.args.get("per_page", type=int) or per_page,
        max_per_page=200,
        error_out=False,
    )


# -- users -------------------------------------------------------------------------------


@bp.route("/users/")
@roles_required(ADMIN)
def users():
    form = UserFilterForm(
        request.args, streets=_all_units(Street), departments=_all_units(Department)
    )
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    filters = services.UserFilter(
        q=ok(form.q) or "",
        role=ok(form.role) or None,
        street_id=ok(form.street_id),
        department_id=ok(form.department_id),
        status=ok(form.status) or None,
        locked=ok(form.locked) or None,
    )
    page = _page(services.user_query(filters))
    return render_template(
        "admin/users.html", page=page, form=form, specialties=SPECIALTY_LABELS, now=utcnow()
    )


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(ADMIN)
def user_new():
    form = NewUserForm(streets=_units(Street), departments=_units(Department))
    if request.method == "GET":
        form.role.data = "commissioner"
    if form.validate_on_submit():
        data = form.user_data()
        try:
            user = services.create_user(
                **data,
                password=form.password.data,
                street=_get_unit(Street, form.street_id.data),
                department=_get_unit(Department, form.department_id.data),
                actor=current_user,
            )
        except services.AccountError as exc:
            form[_USER_FIELDS.get(exc.field, exc.field or "username")].errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(ADMIN)
def user_edit(user_id: int):
    user = _get_or_404(User, user_id)
    form = UserForm(
        obj=user,
        firm_uscc=user.firm.uscc if user.firm else "",
        streets=_units(Street, user.street),
        departments=_units(Department, user.department),
    )
    if form.validate_on_submit():
        data = form.user_data()
        data["street"] = _get_unit(Street, form.street_id.data)
        data["department"] = _get_unit(Department, form.department_id.data)
        try:
            diff = services.update_user(user, data, actor=current_user)
        except services.AccountError as exc:
            form[_USER_FIELDS.get(exc.field, exc.field or "username")].errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved.") if diff else _("Nothing changed."), "success" if diff else "info")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        locked=services.is_locked(user),
        firms_looked_after=services.open_assignment_count(user),
    )


def _set_active(user_id: int, active: bool):
    user = _get_or_404(User, user_id)
    try:
        services.set_user_active(user, active, actor=current_user)
    except services.AccountError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    db.session.commit()
    if active:
        flash(_("%(name)s can log in again.", name=user.username), "success")
    else:
        flash(
            _("%(name)s is disabled and all their sessions have ended.", name=user.username),
            "success",
        )
        if n := services.open_assignment_count(user):
            flash(
                _(
                    "%(name)s still looks after %(n)s firms: hand them over under Reassign.",
                    name=user.username,
                    n=n,
                ),
                "warning",
            )
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@roles_required(ADMIN)
def user_disable(user_id: int):
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@roles_required(ADMIN)
def user_enable(user_id: int):
    return _set_active(user_id, True)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@roles_required(ADMIN)
def user_password(user_id: int):
    user = _get_or_404(User, user_id)
    form = PasswordResetForm(username=user.username)
    if form.validate_on_submit():
        try:
            services.reset_password(user, form.password.data, actor=current_user)
        except services.AccountError as exc:
            form.password.errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                _(
                    "The password of %(name)s has been reset and their sessions have ended.",
                    name=user.username,
                ),
                "success",
            )
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_password.html", form=form, user=user)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@roles_required(ADMIN)
def user_unlock(user_id: int):
    user = _get_or_404(User, user_id)
    if services.unlock_user(user, actor=current_user):
        db.session.commit()
        flash(_("%(name)s is unlocked.", name=user.username), "success")
    else:
        flash(_("%(name)s was not locked.", name=user.username), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


# -- streets and departments -------------------------------------------------------------

_UNIT_PAGES = {
    Street: {
        "list": "admin.streets",
        "edit": "admin.street_edit",
        "form": StreetForm,
        "template": "admin/streets.html",
    },
    Department: {
        "list": "admin.departments",
        "edit": "admin.department_edit",
        "form": DepartmentForm,
        "template": "admin/departments.html",
    },
}


def _unit_list(model: type):
    page = _page(select(model).order_by(model.active.desc(), model.code, model.id), 50)
    usage = services.unit_usage(model, [u.id for u in page.items])
    return render_template(_UNIT_PAGES[model]["template"], page=page, usage=usage)


def _unit_form(model: type, unit=None):
    pages = _UNIT_PAGES[model]
    form = pages["form"](obj=unit)
    if form.validate_on_submit():
        try:
            if unit is None:
                unit = services.create_unit(model, form.data, actor=current_user)
            else:
                services.update_unit(unit, form.data, actor=current_user)
        except services.UnitError as exc:
            form[exc.field or "name"].errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("%(name)s saved.", name=unit.name), "success")
            return redirect(url_for(pages["list"]))
    return render_template(
        "admin/unit_form.html",
        form=form,
        unit=unit,
        model=model.__name__,
        list_endpoint=pages["list"],
    )


def _unit_set_active(model: type, ident: int, active: bool):
    unit = _get_or_404(model, ident)
    if services.set_unit_active(unit, active, actor=current_user):
        db.session.commit()
        if active:
            flash(_("%(name)s is active again.", name=unit.name), "success")
        else:
            flash(
                _(
                    "%(name)s is deactivated: it keeps its users and firms but can no longer "
                    "be chosen for new ones.",
                    name=unit.name,
                ),
                "success",
            )
    return redirect(url_for(_UNIT_PAGES[model]["list"]))


@bp.route("/streets/")
@roles_required(ADMIN)
def streets():
    return _unit_list(Street)


@bp.route("/streets/new", methods=["GET", "POST"])
@roles_required(ADMIN)
def street_new():
    return _unit_form(Street)


@bp.route("/streets/<int:street_id>/edit", methods=["GET", "POST"])
@roles_required(ADMIN)
def street_edit(street_id: int):
    return _unit_form(Street, _get_or_404(Street, street_id))


@bp.route("/streets/<int:street_id>/deactivate", methods=["POST"])
@roles_required(ADMIN)
def street_deactivate(street_id: int):
    return _unit_set_active(Street, street_id, False)


@bp.route("/streets/<int:street_id>/reactivate", methods=["POST"])
@roles_required(ADMIN)
def street_reactivate(street_id: int):
    return _unit_set_active(Street, street_id, True)


@bp.route("/departments/")
@roles_required(ADMIN)
def departments():
    return _unit_list(Department)


@bp.route("/departments/new", methods=["GET", "POST"])
@roles_required(ADMIN)
def department_new():
    return _unit_form(Department)


@bp.route("/departments/<int:department_id>/edit", methods=["GET", "POST"])
@roles_required(ADMIN)
def department_edit(department_id: int):
    return _unit_form(Department, _get_or_404(Department, department_id))


@bp.route("/departments/<int:department_id>/deactivate", methods=["POST"])
@roles_required(ADMIN)
def department_deactivate(department_id: int):
    return _unit_set_active(Department, department_id, False)


@bp.route("/departments/<int:department_id>/reactivate", methods=["POST"])
@roles_required(ADMIN)
def department_reactivate(department_id: int):
    return _unit_set_active(Department, department_id, True)
