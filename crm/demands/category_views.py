"""Demand categories and their time limits: the office (and the admin) keep them."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from crm.auth.permissions import ADMIN, OFFICE, roles_required
from crm.demands import categories as services
from crm.demands import labels
from crm.demands.category_forms import CategoryForm, NewCategoryForm
from crm.demands.models import DemandCategory
from crm.extensions import db

bp = Blueprint("categories", __name__, url_prefix="/office/categories")

# DESIGN §8: the office changes the limits; §2: the admin keeps categories and time limits.
KEEPERS = (OFFICE, ADMIN)


@bp.route("/")
@roles_required(*KEEPERS)
def index():
    return render_template(
        "categories/index.html",
        categories=services.all_categories(),
        counts=services.demand_counts(),
        demand_labels=labels,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def new():
    form = NewCategoryForm()
    if request.method == "GET":
        form.kind.data = "general"
        form.accept_days.data, form.resolve_days.data, form.level3_days.data = 1, 5, 15
        form.active.data = True
    return _save(form, None)


@bp.route("/<int:category_id>/edit", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def edit(category_id: int):
    category = db.session.get(DemandCategory, category_id)
    if category is None:
        abort(404)
    return _save(CategoryForm(obj=category), category)


def _save(form: CategoryForm, category: DemandCategory | None):
    if form.validate_on_submit():
        try:
            if category is None:
                category = services.create_category(form.category_data(), actor=current_user)
            else:
                services.update_category(category, form.category_data(), actor=current_user)
            db.session.commit()
        except services.CategoryError as exc:
            db.session.rollback()
            form[exc.field or "name"].errors.append(str(exc))
        except IntegrityError:
            # Someone saved the same code or name a moment ago, past the check.
            db.session.rollback()
            form.name.errors.append(_("Another category already has this name or code."))
        else:
            flash(
                _(
                    "%(name)s saved. The new limits apply to demands taken in or dispatched "
                    "from now on; deadlines already set stay as they are.",
                    name=category.name,
                ),
                "success",
            )
            return redirect(url_for("categories.index"))
    status = 422 if form.errors else 200
    return render_template("categories/form.html", form=form, category=category), status
