"""The working-day calendar's admin pages: the years known, and entering a year from a CSV."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth.permissions import ADMIN, roles_required
from crm.extensions import db
from crm.workcal import services
from crm.workcal.calendar import library_days, library_years
from crm.workcal.forms import CalendarImportForm, DeleteYearForm

bp = Blueprint("workcal", __name__, url_prefix="/admin/calendar")


def _index(form: CalendarImportForm, result: services.ImportResult | None = None):
    return render_template(
        "workcal/index.html",
        form=form,
        result=result,
        library=library_years(),
        entered=services.entered_years(),
        this_year=services.today().year,
        example_year=services.EXAMPLE_YEAR,
    )


@bp.route("/")
@roles_required(ADMIN)
def index():
    return _index(CalendarImportForm())


@bp.route("/import", methods=["POST"])
@roles_required(ADMIN)
def upload():
    form = CalendarImportForm()
    result = None
    if form.validate_on_submit():
        result = services.import_year(form.file.data.stream, actor=current_user)
        if result.ok:
            db.session.commit()
            flash(
                _(
                    "%(year)s loaded: %(holidays)s holidays and %(workdays)s make-up workdays.",
                    year=result.year,
                    holidays=result.holidays,
                    workdays=result.workdays,
                ),
                "success",
            )
            if result.in_library:
                flash(
                    _(
                        "The calendar library knows %(year)s too: the days entered now replace "
                        "the library's for that year.",
                        year=result.year,
                    ),
                    "warning",
                )
            return redirect(url_for(".year", year=result.year))
        db.session.rollback()
    return _index(form, result), 422


@bp.route("/year")
@roles_required(ADMIN)
def year():
    number = request.args.get("year", type=int) or services.today().year
    if not 1 <= number <= 9999:
        abort(404)
    calendar = services.current_calendar()
    source = calendar.source(number)
    if source == "entered":
        days = [(d.day, d.is_workday, d.name) for d in services.year_days(number)]
    else:
        days = library_days(number)
    return render_template(
        "workcal/year.html",
        year=number,
        source=source,
        days=days,
        holidays=sum(1 for _d, is_workday, _n in days if not is_workday),
        workdays=sum(1 for _d, is_workday, _n in days if is_workday),
        in_library=number in library_years(),
        delete_form=DeleteYearForm(year=number),
    )


@bp.route("/delete", methods=["POST"])
@roles_required(ADMIN)
def delete():
    form = DeleteYearForm()
    if not form.validate_on_submit():
        flash(_("Nothing was deleted: the request named no year."), "danger")
        return redirect(url_for(".index"))
    number = form.year.data
    if services.delete_year(number, actor=current_user):
        db.session.commit()
        flash(_("The days entered for %(year)s are deleted.", year=number), "success")
    else:
        flash(_("No days were entered for %(year)s.", year=number), "info")
    return redirect(url_for(".year", year=number))


@bp.route(f"/example-{services.EXAMPLE_YEAR}.csv")
@roles_required(ADMIN)
def example():
    # With a BOM, so that Excel opens the Chinese names as UTF-8.
    return Response(
        "\ufeff" + services.example_csv(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f"attachment; filename=calendar-{services.EXAMPLE_YEAR}-example.csv"
            )
        },
    )
