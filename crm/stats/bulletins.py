"""Bulletins (通报, DESIGN §8-§9): the office's weekly and monthly report on how the units
handled the firms' demands — their rankings, the items still overdue or supervised, and a
few sentences drawn from the figures.

A bulletin is an official document of the office and is always written in Chinese,
whatever the interface language of whoever generates or downloads it: its text here is
Chinese on purpose, not a translatable message.

``build_content`` takes the figures once, as of a moment, into a JSON-serialisable dict;
the PDF (``bulletin_pdf``) and the Excel twin (``bulletin_xlsx``) are both made from that
dict, so they show the same numbers. ``file_bulletin`` stores the dict and both documents:
a filed bulletin is never changed, so it is downloaded as it was issued whatever happens to
the demands afterwards. ``file_due_bulletins`` is the scheduled job's work: last week's and
last month's bulletins, each filed once.
"""

import logging
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.audit.services import record
from crm.auth.models import User
from crm.demands.escalation import days_overdue
from crm.demands.models import Demand, DemandTask
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.stats import definitions as figures
from crm.stats.definitions import ALL_TIME_START, Slice, Window
from crm.stats.models import KINDS, MONTHLY, WEEKLY, Bulletin
from crm.timeutil import local_time, utcnow
from crm.workcal.services import current_calendar

log = logging.getLogger(__name__)

KIND_NAMES = {WEEKLY: "周报", MONTHLY: "月报"}
PERIOD_NAMES = {WEEKLY: "本周", MONTHLY: "本月"}
RANKED = (("departments", "department", "职能部门"), ("streets", "street", "街镇"))


# -- periods ------------------------------------------------------------------------------


def period_of(kind: str, day: date) -> tuple[date, date]:
    """The period of ``kind`` holding ``day``: its ISO week (Monday to Sunday) or its
    calendar month, as (first day, last day)."""
    if kind == WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == MONTHLY:
        start = day.replace(day=1)
        after = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return start, after - timedelta(days=1)
    raise ValueError(f"no such kind of bulletin: {kind}")


def previous_period(kind: str, today: date) -> tuple[date, date]:
    """The last full period of ``kind`` that ended before ``today``."""
    start, _end = period_of(kind, today)
    return period_of(kind, start - timedelta(days=1))


def issue_of(kind: str, start: date) -> tuple[int, int]:
    """(year, issue number): the ISO week's year and number, or the month's."""
    if kind == WEEKLY:
        year, week, _ = start.isocalendar()
        return year, week
    return start.year, start.month


def title_of(kind: str, start: date) -> str:
    year, issue = issue_of(kind, start)
    return f"企业诉求办理情况{KIND_NAMES[kind]}（{year}年第{issue}期）"


# -- the content ----------------------------------------------------------------------------


def percent(rate: float | None) -> str:
    """0.857 as 85.7%; no denominator as a dash."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _unit_names(model, ids) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _ranking(by_unit: dict, names: dict[int, str]) -> list[dict]:
    """Rows of one ranking: by resolution rate (highest first; none last), then fewest
    overdue, then name."""
    rows = [
        {
            "id": unit_id,
            "name": names.get(unit_id, "—"),
            "dispatched": f.collected,
            "resolved": f.resolved,
            "resolved_on_time": f.resolved_on_time,
            "overdue": f.overdue,
            "resolution_rate": f.resolution_rate,
            "not_satisfied": f.not_satisfied,
        }
        for unit_id, f in by_unit.items()
    ]
    rows.sort(
        key=lambda r: (
            r["resolution_rate"] is None,
            -(r["resolution_rate"] or 0),
            r["overdue"],
            r["name"],
        )
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def overdue_items(end: date, as_of: datetime) -> list[dict]:
    """Every demand still overdue at ``as_of`` (received any time up to ``end``): its
    number, firm, lead unit, deadline as of then, working days overdue, and whether it was
    supervised. Two statements whatever their number."""
    window = Window(ALL_TIME_START, end, as_of)
    rows = figures.demand_rows(
        window,
        Slice(),
        "overdue",
        Demand.number.label("number"),
        Demand.firm_id.label("firm_id"),
        Demand.due_on.label("due_on"),
    ).subquery()
    found = db.session.execute(
        select(rows.c.id, rows.c.number, rows.c.deadline, rows.c.due_on, rows.c.supervised)
        .add_columns(Firm.name.label("firm"))
        .join(Firm, Firm.id == rows.c.firm_id)
    ).all()
    if not found:
        return []
    leads = {}
    for demand_id, department, street in db.session.execute(
        select(DemandTask.demand_id, Department.name, Street.name)
        .outerjoin(Department, Department.id == DemandTask.department_id)
        .outerjoin(Street, Street.id == DemandTask.street_id)
        .where(
            DemandTask.demand_id.in_([row.id for row in found]),
            DemandTask.role == "lead",
            DemandTask.dispatched_at <= as_of,
        )
        .order_by(DemandTask.dispatched_at, DemandTask.id)
    ):
        leads[demand_id] = department or street  # the latest dispatch's lead wins
    calendar = current_calendar()
    today = local_time(as_of).date()
    items = []
    for row in found:
        deadline = date.fromisoformat(row.deadline) if row.deadline else row.due_on
        items.append(
            {
                "id": row.id,
                "number": row.number,
                "firm": row.firm,
                "unit": leads.get(row.id) or "—",
                "deadline": deadline.isoformat() if deadline else None,
                "days_overdue": days_overdue(deadline, today, calendar) if deadline else None,
                "supervised": bool(row.supervised),
            }
        )
    items.sort(key=lambda i: (-(i["days_overdue"] or 0), i["number"]))
    return items


def _highlights(kind: str, totals, rankings: dict, previous) -> list[str]:
    """A few sentences the figures say: who did best, who has nothing overdue, how
    satisfied the firms were, and how the intake moved since the last period."""
    said = []
    for key, _dimension, label in RANKED:
        rated = [r for r in rankings[key] if r["resolution_rate"] is not None]
        if rated:
            best = rated[0]
            said.append(
                f"{label}中，{best['name']}办结率最高，为{percent(best['resolution_rate'])}"
                f"（受理{best['dispatched']}件，办结{best['resolved']}件）。"
            )
        clean = [r["name"] for r in rankings[key] if r["dispatched"] and not r["overdue"]]
        if clean:
            said.append(f"{label}中，{'、'.join(clean)}{PERIOD_NAMES[kind]}受理的诉求无超期。")
    if totals.rated:
        said.append(
            f"企业满意率为{percent(totals.satisfaction_rate)}（已评价{totals.rated}件，"
            f"满意和基本满意{totals.satisfied}件，不满意{totals.not_satisfied}件）。"
        )
    change = totals.collected - previous.collected
    movement = "持平" if change == 0 else f"{'增加' if change > 0 else '减少'}{abs(change)}件"
    said.append(f"受理诉求{totals.collected}件，较上期（{previous.collected}件）{movement}。")
    return said


def _requirements(items: list[dict]) -> list[str]:
    said = []
    if items:
        said.append(
            f"对本通报列出的{len(items)}件超期诉求，请承办单位主要负责同志亲自过问，"
            "自通报之日起3个工作日内办结并向企业反馈，办理结果报区投资促进办公室。"
        )
    said.append("各单位要严格落实首问负责和限时办结制度，对临期诉求提前研判、及时办理，杜绝超期。")
    said.append("对企业不满意的诉求，要逐件回访、查找原因，重新办理直至企业认可。")
    return said


def build_content(kind: str, start: date, end: date, as_of: datetime) -> dict:
    """What a bulletin of ``kind`` for ``start``–``end`` reports as of ``as_of`` (naive
    UTC): JSON-serialisable, the one source of both documents."""
    if kind not in KINDS:
        raise ValueError(f"no such kind of bulletin: {kind}")
    window = Window(start, end, as_of)
    breakdowns = figures.demand_breakdowns(window)
    totals = breakdowns.total
    previous_start, previous_end = previous_period(kind, start)
    previous = figures.demand_figures(Window(previous_start, previous_end, as_of))
    rankings = {}
    for key, dimension, _label in RANKED:
        by_unit = breakdowns.by(dimension)
        model = Department if dimension == "department" else Street
        rankings[key] = _ranking(by_unit, _unit_names(model, list(by_unit)))
    items = overdue_items(end, as_of)
    year, issue = issue_of(kind, start)
    return {
        "kind": kind,
        "kind_name": KIND_NAMES[kind],
        "title": title_of(kind, start),
        "office": current_app.config["OFFICE_NAME"],
        "year": year,
        "issue": issue,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "as_of": as_of.isoformat(timespec="seconds"),
        "issued_on": local_time(as_of).date().isoformat(),
        "totals": totals.as_dict(),
        "previous": {
            "start": previous_start.isoformat(),
            "end": previous_end.isoformat(),
            "collected": previous.collected,
        },
        "rankings": rankings,
        "items": items,
        "highlights": _highlights(kind, totals, rankings, previous),
        "requirements": _requirements(items),
    }


# -- filing ---------------------------------------------------------------------------------


def filed(kind: str, start: date) -> Bulletin | None:
    return db.session.scalar(
        select(Bulletin).where(Bulletin.kind == kind, Bulletin.period_start == start)
    )


def render_pdf(content: dict) -> bytes | None:
    """The bulletin's PDF, or None when it cannot be produced now (logged); it can be
    rendered again from the same content later."""
    from crm.policies.pdf import RenderError
    from crm.stats.bulletin_pdf import render

    try:
        return render(content)
    except RenderError:
        log.exception("bulletin %s: the PDF could not be rendered", content["title"])
        return None


def file_bulletin(
    kind: str, start: date, end: date, as_of: datetime, actor: User | None = None
) -> Bulletin:
    """File the bulletin of the period: its content, PDF and Excel. A period filed already
    is returned as it is — a filed bulletin is never replaced. Not committed."""
    existing = filed(kind, start)
    if existing is not None:
        return existing
    from crm.stats.bulletin_xlsx import workbook_bytes

    content = build_content(kind, start, end, as_of)
    bulletin = Bulletin(
        kind=kind,
        period_start=start,
        period_end=end,
        as_of=as_of,
        year=content["year"],
        issue=content["issue"],
        title=content["title"],
        content=content,
        pdf=render_pdf(content),
        xlsx=workbook_bytes(content),
        created_by_id=actor.id if actor is not None else None,
    )
    try:
        with db.session.begin_nested():  # two filings at once: the first one stands
            db.session.add(bulletin)
    except IntegrityError:
        return filed(kind, start)
    record(
        "bulletin.filed",
        bulletin,
        user=actor,
        detail={"kind": kind, "period_start": start.isoformat(), "pdf": bulletin.pdf is not None},
    )
    return bulletin


def file_due_bulletins(today: date, *, as_of: datetime | None = None) -> list[Bulletin]:
    """File last week's and last month's bulletins if they are not filed yet; the ones
    filed now. Running it again files nothing. Not committed."""
    made = []
    for kind in KINDS:
        start, end = previous_period(kind, today)
        if filed(kind, start) is None:
            made.append(file_bulletin(kind, start, end, as_of or utcnow()))
    return made
