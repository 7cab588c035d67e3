"""The oversight dashboard: the office's, a street's and a leader's.

One page of figures for a window of days as of a moment, each a link to the rows behind
it (``rows``), and a help page saying what each figure counts. Every figure is counted by
crm.stats.definitions, within what crm.stats.scope lets the user see; the pages only
choose which figures to ask for and how to show them. The dashboard runs the same dozen
statements whatever the number of demands.
"""

from datetime import date

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm.auth.permissions import OFFICE, roles_required
from crm.demands import labels as demand_labels
from crm.demands.models import Demand, DemandCategory
from crm.extensions import db
from crm.org.models import Department, Street
from crm.policies.models import ServicePackage
from crm.stats import activity, charts
from crm.stats import definitions as figures
from crm.stats.definitions import ALL_TIME_START, DEMAND_COUNTS, Window
from crm.stats.forms import RowsFilterForm, StatsFilterForm, query_args, read_cell, read_filters
from crm.stats.scope import VIEWERS, fixed_dimensions, scoped
from crm.visits.forms import TIER_LABELS
from crm.visits.models import Visit
from crm.workcal.services import today

bp = Blueprint("stats", __name__, url_prefix="/stats")

PER_PAGE = 25

FIGURE_LABELS = {
    "collected": _l("Collected"),
    "resolved": _l("Resolved"),
    "resolved_on_time": _l("Resolved on time"),
    "rated": _l("Rated"),
    "satisfied": _l("Satisfied"),
    "not_satisfied": _l("Not satisfied"),
    "accepted_in_time": _l("Accepted in time"),
    "overdue": _l("Overdue"),
    "supervised": _l("Supervised"),
    "resolution_rate": _l("Resolution rate"),
    "on_time_rate": _l("On-time rate"),
    "satisfaction_rate": _l("Satisfaction rate"),
    "response_rate": _l("Response rate"),
    "visits": _l("Visits"),
    "firms_visited": _l("Firms visited"),
    "coverage": _l("Coverage"),
    "packages": _l("Service packages issued"),
}
DIMENSION_LABELS = {
    "month": _l("Month"),
    "street": _l("Street"),
    "department": _l("Department"),
    "category": _l("Category"),
    "tier": _l("Tier"),
    "channel": _l("Channel"),
}
VISIT_DIMENSIONS = ("month", "street", "tier")
KINDS = ("demands", "visits", "packages")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _names() -> dict[str, list]:
    """Streets, departments and categories, for the filters and the breakdowns' names: one
    statement each."""
    return {
        "streets": list(db.session.scalars(select(Street).order_by(Street.code))),
        "departments": list(db.session.scalars(select(Department).order_by(Department.code))),
        "categories": list(
            db.session.scalars(select(DemandCategory).order_by(DemandCategory.code))
        ),
    }


def _key_labels(names: dict[str, list]) -> dict[str, dict]:
    """Dimension → key → its name on the page."""
    return {
        "street": {s.id: s.name for s in names["streets"]},
        "department": {d.id: d.name for d in names["departments"]},
        "category": {c.id: c.name for c in names["categories"]},
        "tier": TIER_LABELS,
        "channel": demand_labels.CHANNELS,
    }


def _key_label(labels: dict[str, dict], dimension: str, key) -> str:
    if dimension == "month":
        return str(key)
    return str(labels[dimension].get(key, key))


def _form(cls, names: dict[str, list], **kwargs):
    return cls(
        request.args,
        streets=names["streets"],
        departments=names["departments"],
        categories=names["categories"],
        fixed=fixed_dimensions(current_user),
        today=today(),
        **kwargs,
    )


def _months(start: date, end: date) -> list[str]:
    """Every "YYYY-MM" from ``start``'s month to ``end``'s."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _dimensions(kind: str) -> tuple[str, ...]:
    """The breakdowns of ``kind`` a user may drill into: not those fixed for it."""
    fixed = fixed_dimensions(current_user)
    dims = VISIT_DIMENSIONS if kind == "visits" else figures.DIMENSIONS
    if kind == "packages":
        dims = ()
    return tuple(d for d in dims if d not in fixed)


@bp.route("/")
@roles_required(*VIEWERS)
def dashboard():
    names = _names()
    form = _form(StatsFilterForm, names)
    filters = read_filters(form)
    window = filters.window
    where = scoped(current_user, filters.asked)
    breakdowns = figures.demand_breakdowns(window, where)
    now = figures.late_figures(Window(ALL_TIME_START, today()), where)
    visits = figures.visit_figures(window, where)
    visit_groups = figures.visit_breakdowns(window, where)
    cases = activity.pipeline_figures(current_user, window, where)
    packages = activity.packages_issued(window, where)

    args = query_args(form)
    slice_args = {k: v for k, v in args.items() if k not in ("from", "to", "as_of")}

    def link(figure: str, dim: str | None = None, key=None, kind: str = "demands") -> str:
        cell = {"dim": dim, "key": key} if dim else {}
        return url_for("stats.rows", kind=kind, figure=figure, **args, **cell)

    def now_link(figure: str) -> str:
        return url_for("stats.rows", figure=figure, now=1, **slice_args)

    labels = _key_labels(names)
    shown = [
        d for d in figures.DIMENSIONS if d != "month" and d not in fixed_dimensions(current_user)
    ]
    tables = []
    for dim in shown:
        groups = breakdowns.by(dim)
        rows = [(key, _key_label(labels, dim, key), f) for key, f in groups.items()]
        rows.sort(key=lambda row: -row[2].collected)
        chart = charts.bar_chart(
            f"chart-{dim}",
            [(label, f.collected) for _key, label, f in rows],
            title=str(_l("Demands collected by %(dimension)s", dimension=DIMENSION_LABELS[dim])),
            desc=str(_l("One bar per row of the table below.")),
        )
        tables.append((dim, rows, chart))
    by_month = breakdowns.by("month")
    months = [
        (m, by_month.get(m, figures.DemandFigures()), visit_groups["month"].get(m, 0))
        for m in _months(window.start, window.end)
    ]
    trend = charts.trend_chart(
        "chart-trend",
        [(m, f.collected, f.resolved) for m, f, _v in months],
        series=(str(FIGURE_LABELS["collected"]), str(FIGURE_LABELS["resolved"])),
        title=str(_l("Demands collected and resolved by month")),
        desc=str(_l("Two bars per month; the table below gives the same numbers.")),
    )
    visit_streets = [
        (key, _key_label(labels, "street", key), n) for key, n in visit_groups["street"].items()
    ]
    return render_template(
        "stats/dashboard.html",
        form=form,
        window=window,
        total=breakdowns.total,
        now=now,
        visits=visits,
        visit_streets=visit_streets if "street" not in fixed_dimensions(current_user) else [],
        cases=cases,
        packages=packages,
        months=months,
        trend=trend,
        tables=tables,
        link=link,
        now_link=now_link,
        percent=percent,
        figure_labels=FIGURE_LABELS,
        dimension_labels=DIMENSION_LABELS,
        tier_labels=TIER_LABELS,
        rates=figures.RATES,
        pipeline_args={
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            **(
                {"street_id": where.street_id}
                if current_user.role == OFFICE and where.street_id
                else {}
            ),
        },
    )


@bp.route("/rows")
@roles_required(*VIEWERS)
def rows():
    """The rows behind one number of the dashboard: demands, visits or packages."""
    kind = request.args.get("kind") or "demands"
    figure = request.args.get("figure") or "collected"
    if kind not in KINDS or (kind == "demands" and figure not in DEMAND_COUNTS):
        abort(400)
    names = _names()
    form = _form(RowsFilterForm, names, dimensions=_dimensions(kind))
    filters = read_filters(form)
    window, asked = filters.window, filters.asked
    all_time = kind == "demands" and request.args.get("now") == "1"
    if all_time:  # overdue and supervised now: over all time, as of now
        window = Window(ALL_TIME_START, today())
    cell = read_cell(form)
    if cell is not None:
        window, asked = figures.narrowed(window, asked, *cell)
    # The scope last, so that no address reaches past it.
    where = scoped(current_user, asked)
    if kind == "demands":
        stmt = (
            select(Demand)
            .where(Demand.id.in_(figures.demand_ids(window, where, figure)))
            .options(
                joinedload(Demand.firm, innerjoin=True),
                joinedload(Demand.street, innerjoin=True),
                joinedload(Demand.category, innerjoin=True),
            )
            .order_by(Demand.submitted_at.desc(), Demand.id.desc())
        )
        title = FIGURE_LABELS[figure]
    elif kind == "visits":
        stmt = (
            select(Visit)
            .where(Visit.id.in_(figures.visit_ids(window, where)))
            .options(
                joinedload(Visit.firm, innerjoin=True), joinedload(Visit.street, innerjoin=True)
            )
            .order_by(Visit.visited_on.desc(), Visit.id.desc())
        )
        title = FIGURE_LABELS["visits"]
    else:
        stmt = (
            select(ServicePackage)
            .where(ServicePackage.id.in_(activity.package_ids(window, where)))
            .options(joinedload(ServicePackage.firm, innerjoin=True))
            .order_by(ServicePackage.issued_at.desc(), ServicePackage.id.desc())
        )
        title = FIGURE_LABELS["packages"]
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    labels = _key_labels(names)
    return render_template(
        "stats/rows.html",
        form=form,
        kind=kind,
        figure=figure,
        title=title,
        definition=figures.DEFINITIONS.get(figure if kind == "demands" else kind),
        window=window,
        form_window=filters.window,
        all_time=all_time,
        cell=(DIMENSION_LABELS[cell[0]], _key_label(labels, *cell)) if cell else None,
        page=page,
        back=url_for("stats.dashboard", **query_args(form, exclude=("dim", "key"))),
        demand_labels=demand_labels,
    )


@bp.route("/help", endpoint="help")
@roles_required(*VIEWERS)
def help_page():
    """What each figure counts, and how the period, the as-of time and the filters work."""
    return render_template(
        "stats/help.html",
        definitions=[
            (FIGURE_LABELS.get(name, name), text) for name, text in figures.DEFINITIONS.items()
        ],
    )
