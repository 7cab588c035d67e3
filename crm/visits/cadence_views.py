"""Visit cadence: each tier's interval and courtesy limit, and the firms overdue for a visit."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth.permissions import COMMISSIONER, LEADER, OFFICE, STREET, deny, roles_required
from crm.extensions import db
from crm.firms.services import commissioners_for_filter
from crm.org.services import streets_for
from crm.visits import cadence as rules
from crm.visits import forms, queries, services
from crm.visits.services import VisitError
from crm.workcal.services import today

bp = Blueprint("cadence", __name__, url_prefix="/cadence")

OVERDUE_VIEWERS = (OFFICE, STREET, COMMISSIONER, LEADER)
PER_PAGE = 25


@bp.route("/", methods=["GET", "POST"])
@roles_required(OFFICE)
def index():
    rows = queries.all_cadences()
    if request.method == "GET":
        data = {}
        for row in rows:
            interval, limit = forms.CadenceForm.field_names(row.tier)
            data[interval], data[limit] = row.longest_interval_days, row.courtesy_limit
        form = forms.CadenceForm(formdata=None, data=data)
    else:
        form = forms.CadenceForm()
    status = 200
    if form.validate_on_submit():
        values = {}
        for row in rows:
            interval, limit = forms.CadenceForm.field_names(row.tier)
            values[row.tier] = rules.Cadence(form[interval].data, form[limit].data)
        try:
            changed = services.update_cadences(values, actor=current_user)
            db.session.commit()
        except VisitError as exc:
            db.session.rollback()
            if exc.code == "role":
                deny("cadence: office only")
            tier, name = exc.field
            interval, limit = forms.CadenceForm.field_names(tier)
            field = form[interval if name == "longest_interval_days" else limit]
            field.errors = [*field.errors, exc.message]
            status = 422
        else:
            if changed:
                flash(_("Visit cadence saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("cadence.index"))
    elif request.method == "POST":
        status = 422
    return render_template(
        "cadence/index.html", form=form, rows=queries.all_cadences(), labels_=forms.TIER_LABELS
    ), status


@bp.route("/overdue")
@roles_required(*OVERDUE_VIEWERS)
def overdue():
    mine = current_user.role == COMMISSIONER
    args = request.args.copy()
    if mine:
        args.setdefault("commissioner", "mine")
    commissioners = commissioners_for_filter(
        current_user, street_id=args.get("street_id", type=int), selected=None
    )
    chosen = args.get("commissioner", "")
    if chosen.isdigit() and all(str(u.id) != chosen for u in commissioners):
        commissioners += commissioners_for_filter(
            current_user, street_id=None, selected=int(chosen)
        )
    form = forms.OverdueFilterForm(
        args, streets=streets_for(current_user), commissioners=commissioners, mine=mine
    )
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    filters = queries.OverdueFilter(
        commissioner=ok(form.commissioner) or "",
        street_id=ok(form.street_id),
        tier=ok(form.tier) or None,
    )
    on = today()
    page = queries.paginate_rows(
        queries.overdue_query(current_user, filters, today=on),
        page=request.args.get("page", type=int),
        per_page=request.args.get("per_page", type=int) or PER_PAGE,
    )
    return render_template(
        "cadence/overdue.html",
        page=page,
        form=form,
        counts=queries.overdue_counts(current_user, filters, today=on),
        today=on,
        tier_labels=forms.TIER_LABELS,
    )
