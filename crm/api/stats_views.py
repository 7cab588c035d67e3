"""The figures of DESIGN §9: GET /api/v1/stats/demands and /api/v1/stats/visits.

Nothing is counted here: the figures, their breakdowns and what each one means come from
``crm.stats.definitions``, the one place they are defined, so the API, the dashboard and
the bulletins cannot disagree. This module reads the request into a ``Window`` and a
``Slice``, narrows the slice to what the caller may see (``crm.stats.scope``), and words
the answer.

Scope: the office may ask for any slice; a street's centre gets its own street and a
leader the firms linked to it, whatever is asked. A street's user who names another
street explicitly is refused (403) rather than silently given its own street's figures,
which it could take for the street it asked about.
"""

from dataclasses import asdict
from datetime import UTC, date, datetime

from flask import jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crm.api.auth import api_roles, refuse
from crm.api.errors import ApiError
from crm.api.openapi import operation
from crm.api.parsing import query_args
from crm.api.stats_schemas import (
    MAX_YEARS,
    DemandFiguresOut,
    DemandGroup,
    DemandStats,
    DemandStatsQuery,
    SliceOut,
    VisitGroup,
    VisitStats,
    VisitStatsQuery,
    WindowOut,
)
from crm.demands import labels as demand_labels
from crm.demands.models import DemandCategory
from crm.extensions import db
from crm.labels import TIERS
from crm.org.models import Department, Street
from crm.stats import definitions as figures
from crm.stats.definitions import NO_TIER, Slice, Window
from crm.stats.scope import VIEWERS, scoped
from crm.timeutil import SHANGHAI, utcnow
from crm.workcal.services import today

_OUT_OF_SCOPE = _l("This is outside your scope: you may see your own street's figures only.")
_STARTS_AFTER_END = _l("The first day is after the last day.")
_TOO_LONG = _l("The period may be at most %(years)s years long.", years=MAX_YEARS)
_OUT_OF_RANGE = _l("Out of range.")
_NO_KEY = _l("None")
VISIT_FIGURES = ("visits", "firms_visited", "coverage")


def _window(args) -> Window:
    """The request's days and moment; 422 naming the field when they make no period."""
    end = args.to or today()
    start = args.start or date(end.year, 1, 1)
    if start > end:
        raise ApiError(422, "invalid", fields={"from": _STARTS_AFTER_END})
    if end >= _years_after(start, MAX_YEARS):
        raise ApiError(422, "invalid", fields={"from": _TOO_LONG})
    # "Now" is fixed once and answered, so the same figures can be asked for again.
    return Window(start, end, _utc(args.as_of) or utcnow())


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return date(day.year + years, 3, 1)


def _utc(moment: datetime | None) -> datetime | None:
    """``as_of`` as naive UTC, the way times are stored; a naive one is Shanghai time."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # the first or last hours of the calendar
        raise ApiError(422, "invalid", fields={"as_of": _OUT_OF_RANGE}) from None


def _slice(args) -> Slice:
    """The slice asked for, within the caller's scope; 403 when it names what the caller
    may not see (another street)."""
    asked = Slice(
        **{
            name: getattr(args, name, None)
            for name in ("street_id", "department_id", "category_id", "tier", "channel")
        }
    )
    allowed = scoped(current_user, asked)
    for name, value in asdict(asked).items():
        if value is not None and getattr(allowed, name) != value:
            refuse(f"figures out of scope: {name}", _OUT_OF_SCOPE)
    return allowed


def _window_out(window: Window) -> WindowOut:
    return WindowOut.model_validate({"from": window.start, "to": window.end, "as_of": window.as_of})


def _slice_out(where: Slice) -> SliceOut:
    return SliceOut.model_validate(
        {name: getattr(where, name, None) for name in SliceOut.model_fields}
    )


def _definitions(names) -> dict[str, str]:
    return {name: str(figures.DEFINITIONS[name]) for name in names if name in figures.DEFINITIONS}


def _json(model):
    return jsonify(model.model_dump(mode="json", by_alias=True, exclude_unset=True))


# -- labels of group keys ---------------------------------------------------------------------

_NAMED = {"street": Street, "department": Department, "category": DemandCategory}


def _labels(dimension: str, keys) -> dict:
    """Each key's label: one statement for the named dimensions, none for the others."""
    if dimension in _NAMED:
        model = _NAMED[dimension]
        ids = [key for key in keys if key is not None]
        names = (
            dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())
            if ids
            else {}
        )
        return {key: names.get(key, str(key)) for key in keys}
    if dimension == "tier":
        table = {**TIERS, NO_TIER: _l("No tier")}
    elif dimension == "channel":
        table = demand_labels.CHANNELS
    else:  # month: YYYY-MM reads the same in every language
        table = {}
    return {key: str(table.get(key, key)) for key in keys}


def _ordered(dimension: str, groups: dict, labels: dict) -> list:
    """Months and codes in their own order; named rows by name."""
    if dimension in _NAMED:
        return sorted(groups, key=lambda key: (key is None, labels[key]))
    if dimension == "tier":
        order = [*TIERS, NO_TIER]
    elif dimension == "channel":
        order = list(demand_labels.CHANNELS)
    else:
        return sorted(groups)
    return sorted(groups, key=lambda key: order.index(key) if key in order else len(order))


def _label(labels: dict, key) -> str:
    return labels[key] if key is not None else str(_NO_KEY)


# -- demands --------------------------------------------------------------------------------


def _figures_out(found) -> DemandFiguresOut:
    return DemandFiguresOut.model_validate(found.as_dict())


@operation(
    "GET",
    "/stats/demands",
    summary="The demand figures of a period and slice, as of a moment (统计口径)",
    description=(
        "Demands received from `from` to `to` (Asia/Shanghai days, both included) and "
        "counted as they stood at `as_of`: collected, resolved, resolved on time, rated, "
        "satisfied, accepted in time, overdue and supervised, and the rates. `definitions` "
        "says what each figure counts. The office may slice any way; a street's centre gets "
        "its own street, a district leader its linked firms."
    ),
    tag="stats",
    query=DemandStatsQuery,
    responses={200: DemandStats},
)
@api_roles(*VIEWERS)
def stats_demands():
    args = query_args(DemandStatsQuery)
    window = _window(args)
    where = _slice(args)
    answer = {
        "window": _window_out(window),
        "slice": _slice_out(where),
        "definitions": _definitions(DemandFiguresOut.model_fields),
    }
    if args.group_by is None:
        answer["figures"] = _figures_out(figures.demand_figures(window, where))
        return _json(DemandStats(**answer))
    breakdowns = figures.demand_breakdowns(window, where)
    groups = breakdowns.by(args.group_by)
    labels = _labels(args.group_by, list(groups))
    answer["figures"] = _figures_out(breakdowns.total)
    answer["groups"] = [
        DemandGroup(key=key, label=_label(labels, key), figures=_figures_out(groups[key]))
        for key in _ordered(args.group_by, groups, labels)
    ]
    return _json(DemandStats(**answer))


# -- visits ---------------------------------------------------------------------------------


@operation(
    "GET",
    "/stats/visits",
    summary="The visit figures of a period: visits, firms visited, each tier's coverage",
    description=(
        "Visits made on a day from `from` to `to` (Asia/Shanghai, both included) and "
        "recorded by `as_of`; the distinct firms visited; and for each tier, how many of its "
        "active firms were visited at least once. Scoped as /stats/demands."
    ),
    tag="stats",
    query=VisitStatsQuery,
    responses={200: VisitStats},
)
@api_roles(*VIEWERS)
def stats_visits():
    args = query_args(VisitStatsQuery)
    window = _window(args)
    where = _slice(args)
    answer = {
        "window": _window_out(window),
        "slice": _slice_out(where),
        "figures": figures.visit_figures(window, where).as_dict(),
        "definitions": _definitions(VISIT_FIGURES),
    }
    if args.group_by is not None:
        groups = figures.visit_breakdowns(window, where)[args.group_by]
        labels = _labels(args.group_by, list(groups))
        answer["groups"] = [
            VisitGroup(key=key, label=_label(labels, key), visits=groups[key])
            for key in _ordered(args.group_by, groups, labels)
        ]
    return _json(VisitStats(**answer))
