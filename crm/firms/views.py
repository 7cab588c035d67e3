from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.models import User
from crm.auth.permissions import (
    COMMISSIONER,
    DEPARTMENT,
    FIRM,
    LEADER,
    OFFICE,
    STREET,
    can_assign,
    can_create_firm,
    can_edit_firm,
    can_see_full_phone,
    can_view_firm,
    deny,
    roles_required,
)
from crm.extensions import db
from crm.firms import services
from crm.firms.forms import AssignForm, ContactForm, FirmFilterForm, FirmForm, ReassignForm
from crm.firms.models import Assignment, Contact, Firm
from crm.org.services import streets_for

bp = Blueprint("firms", __name__, url_prefix="/firms")

VIEWERS = (OFFICE, STREET, COMMISSIONER, LEADER)
EDITORS = (OFFICE, STREET, COMMISSIONER)


def _leaders() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == LEADER, User.active.is_(True))
            .order_by(User.display_name)
        )
    )


def _load_firm(firm_id: int, *, for_edit: bool = False) -> Firm:
    firm = db.session.scalar(
        select(Firm)
        .where(Firm.id == firm_id)
        .options(
            selectinload(Firm.street),
            selectinload(Firm.contacts),
            selectinload(Firm.assignments).selectinload(Assignment.commissioner),
        )
    )
    if firm is None:
        # A firm user learns nothing about other firms' existence.
        abort(404)
    allowed = can_edit_firm(current_user, firm) if for_edit else can_view_firm(current_user, firm)
    if not allowed:
        if current_user.role == FIRM:
            abort(404)
        deny("firm out of scope")
    return firm


def filter_form(args) -> FirmFilterForm:
    """The firm list's filters for the current user, shared by the list and its export."""
    commissioners = services.commissioners_for_filter(
        current_user,
        street_id=args.get("street_id", type=int),
        selected=args.get("commissioner_id", type=int),
    )
    return FirmFilterForm(args, streets=streets_for(current_user), commissioners=commissioners)


def read_filters(form: FirmFilterForm) -> services.FirmFilter:
    form.validate()

    def ok(field):
        return None if field.errors else field.data

    return services.FirmFilter(
        q=form.q.data or "",
        street_id=ok(form.street_id),
        tier=ok(form.tier) or None,
        industry=(ok(form.industry) or "").strip(),
        size=ok(form.size) or None,
        status=ok(form.status) or None,
        commissioner_id=ok(form.commissioner_id),
    )


@bp.route("/")
@roles_required(*VIEWERS)
def index():
    form = filter_form(request.args)
    return _list_page(form, read_filters(form), _("Firms"), "firms.index")


@bp.route("/mine")
@roles_required(COMMISSIONER)
def mine():
    form = FirmFilterForm(request.args, streets=streets_for(current_user), commissioners=[])
    filters = read_filters(form)
    filters.commissioner_id = current_user.id
    return _list_page(form, filters, _("My firms"), "firms.mine")


def _list_page(form: FirmFilterForm, filters: services.FirmFilter, title: str, endpoint: str):
    page = db.paginate(
        services.with_list_loading(services.firm_query(current_user, filters)),
        per_page=request.args.get("per_page", type=int) or 25,
        max_per_page=200,
        error_out=False,
    )
    return render_template("firms/index.html", page=page, form=form, title=title, endpoint=endpoint)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():
    form = FirmForm(streets=streets_for(current_user), leaders=_leaders())
    if request.method == "GET":
        form.status.data = "active"
    if form.validate_on_submit():
        if not can_create_firm(current_user, form.street_id.data):
            deny("street out of scope")
        try:
            firm = services.create_firm(form.firm_data(), actor=current_user)
        except services.FirmError as exc:
            form[exc.field or "name"].errors.append(str(exc))
        else:
            if current_user.role == COMMISSIONER:
                services.assign(
                    firm,
                    current_user,
                    "primary",
                    actor=current_user,
                    reason=_("Created the firm record"),
                )
            db.session.commit()
            flash(_("Firm %(name)s created.", name=firm.name), "success")
            return redirect(url_for("firms.detail", firm_id=firm.id))
    return render_template("firms/form.html", form=form, firm=None)


@bp.route("/<int:firm_id>")
@roles_required(*VIEWERS, FIRM, DEPARTMENT)  # a department: firms it has demands of
def detail(firm_id: int):
    firm = _load_firm(firm_id)
    return render_template(
        "firms/detail.html",
        firm=firm,
        full_phone=can_see_full_phone(current_user, firm),
        revealed=None,
        assign_form=_assign_form(firm) if can_assign(current_user, firm) else None,
    )


@bp.route("/<int:firm_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(firm_id: int):
    firm = _load_firm(firm_id, for_edit=True)
    form = FirmForm(obj=firm, streets=streets_for(current_user), leaders=_leaders())
    if request.method == "GET":
        form.tags.data = ", ".join(firm.tags or [])
        form.version.data = str(firm.version)
    stale_by = None
    if form.validate_on_submit():
        if not can_create_firm(current_user, form.street_id.data):
            deny("street out of scope")
        try:
            services.update_firm(
                firm,
                form.firm_data(),
                actor=current_user,
                expected_version=int(form.version.data or 0),
            )
        except (services.StaleFirm, StaleDataError):
            # StaleDataError: the other save landed between the version check and this write.
            db.session.rollback()
            stale_by = services.last_change_by(firm)
        except services.FirmError as exc:
            form[exc.field or "name"].errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("firms.detail", firm_id=firm.id))
    return render_template("firms/form.html", form=form, firm=firm, stale_by=stale_by)


# -- contacts ----------------------------------------------------------------------------


def _load_contact(firm: Firm, contact_id: int) -> Contact:
    contact = next((c for c in firm.contacts if c.id == contact_id), None)
    if contact is None:
        abort(404)
    return contact


@bp.route("/<int:firm_id>/contacts/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def contact_new(firm_id: int):
    firm = _load_firm(firm_id, for_edit=True)
    form = ContactForm()
    if form.validate_on_submit():
        services.save_contact(firm, form.data, actor=current_user)
        db.session.commit()
        flash(_("Contact added."), "success")
        return redirect(url_for("firms.detail", firm_id=firm.id) + "#contacts")
    return render_template("firms/contact_form.html", form=form, firm=firm, contact=None)


@bp.route("/<int:firm_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def contact_edit(firm_id: int, contact_id: int):
    firm = _load_firm(firm_id, for_edit=True)
    contact = _load_contact(firm, contact_id)
    form = ContactForm(obj=contact)
    if request.method == "GET" and contact.phone:
        # The form shows the number whole, so opening it is a full view like "Show number".
        services.reveal_phone(contact, actor=current_user, via="edit_form")
        db.session.commit()
    if form.validate_on_submit():
        services.save_contact(firm, form.data, actor=current_user, contact=contact)
        db.session.commit()
        flash(_("Contact saved."), "success")
        return redirect(url_for("firms.detail", firm_id=firm.id) + "#contacts")
    return render_template("firms/contact_form.html", form=form, firm=firm, contact=contact)


@bp.route("/<int:firm_id>/contacts/<int:contact_id>/delete", methods=["POST"])
@roles_required(*EDITORS)
def contact_delete(firm_id: int, contact_id: int):
    firm = _load_firm(firm_id, for_edit=True)
    contact = _load_contact(firm, contact_id)
    services.delete_contact(contact, actor=current_user)
    db.session.commit()
    flash(_("Contact %(name)s deleted.", name=contact.name), "success")
    return redirect(url_for("firms.detail", firm_id=firm.id) + "#contacts")


@bp.route("/<int:firm_id>/contacts/<int:contact_id>/phone", methods=["POST"])
@roles_required(*VIEWERS, FIRM)
def contact_phone(firm_id: int, contact_id: int):
    """Show one contact's full number, once, and write down who saw it."""
    firm = _load_firm(firm_id)
    contact = _load_contact(firm, contact_id)
    if not can_see_full_phone(current_user, firm):
        deny("phone")
    services.reveal_phone(contact, actor=current_user)
    db.session.commit()
    return render_template(
        "firms/detail.html",
        firm=firm,
        full_phone=True,
        revealed=contact.id,
        assign_form=_assign_form(firm) if can_assign(current_user, firm) else None,
    )


# -- assignments -------------------------------------------------------------------------


def _assign_form(firm: Firm, formdata=None) -> AssignForm:
    commissioners = db.session.scalars(
        select(User)
        .where(User.role == COMMISSIONER, User.active.is_(True), User.street_id == firm.street_id)
        .order_by(User.display_name)
    ).all()
    return AssignForm(formdata=formdata, commissioners=commissioners)


@bp.route("/<int:firm_id>/assign", methods=["POST"])
@roles_required(OFFICE, STREET)
def assign(firm_id: int):
    firm = _load_firm(firm_id)
    if not can_assign(current_user, firm):
        deny("assignment out of scope")
    form = _assign_form(firm, formdata=request.form)
    if form.validate_on_submit():
        commissioner = (
            db.session.get(User, form.commissioner_id.data) if form.commissioner_id.data else None
        )
        try:
            services.assign(
                firm, commissioner, form.role.data, actor=current_user, reason=form.reason.data
            )
        except services.FirmError as exc:
            form.commissioner_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Assignment saved."), "success")
            return redirect(url_for("firms.detail", firm_id=firm.id) + "#assignments")
    return render_template(
        "firms/detail.html",
        firm=firm,
        full_phone=can_see_full_phone(current_user, firm),
        revealed=None,
        assign_form=form,
    ), 422


@bp.route("/reassign", methods=["GET", "POST"])
@roles_required(OFFICE, STREET)
def reassign():
    successors = services.commissioners_in_scope(current_user)
    commissioners = services.commissioners_in_scope(current_user, with_disabled_holding_firms=True)
    form = ReassignForm(leaving=commissioners, successors=successors)
    counts = services.open_assignment_counts([u.id for u in commissioners])
    if form.validate_on_submit():
        leaving = next((u for u in commissioners if u.id == form.leaving_id.data), None)
        successor = next((u for u in successors if u.id == form.successor_id.data), None)
        if leaving is None or successor is None:
            deny("commissioner out of scope")
        street_id = current_user.street_id if current_user.role == STREET else None
        try:
            moved = services.bulk_reassign(
                leaving, successor, actor=current_user, reason=form.reason.data, street_id=street_id
            )
        except services.FirmError as exc:
            form.successor_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                _(
                    "%(n)s firms handed from %(a)s to %(b)s.",
                    n=moved,
                    a=leaving.display_name,
                    b=successor.display_name,
                ),
                "success",
            )
            return redirect(url_for("firms.index", commissioner_id=successor.id))
    return render_template(
        "firms/reassign.html", form=form, counts=counts, commissioners=commissioners
    )
