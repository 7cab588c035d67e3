"""The ledger to Excel: the page's selection, every row, with Chinese headers and words.

One statement, read in batches (``yield_per``) and written by openpyxl's write-only
workbook, so a district's year of demands never sits in memory at once. The file is in
Chinese whatever the reader's interface language: it is passed on and filed as is.
"""

import io
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from crm.auth.models import User
from crm.demands import states
from crm.demands.ledger import LedgerFilter, ledger_query
from crm.demands.models import Demand, DemandCategory, DemandTask
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.spreadsheets import ledger_workbook
from crm.timeutil import local_time

BATCH = 1000

STATE_WORDS = {
    "submitted": "待受理",
    "accepted": "已受理待派单",
    "dispatched": "已派单",
    "in_progress": "办理中",
    "resolved": "已办结待评价",
    "closed": "已关闭",
    "withdrawn": "已撤回",
    "rejected": "不予受理",
    "returned": "已退单",
    "reopened": "不满意重办",
}
CHANNEL_WORDS = {
    "visit": "走访",
    "hotline": "12345热线",
    "walk_in": "服务中心窗口",
    "portal": "企业门户",
    "api": "小程序",
}
LEVEL_WORDS = {1: "一级（小事网格办）", 2: "二级（大事社区协商办）", 3: "三级（难事部门联合办）"}
RATING_WORDS = {"satisfied": "满意", "basically_satisfied": "基本满意", "not_satisfied": "不满意"}
URGENCY_WORDS = {"normal": "一般", "urgent": "紧急"}

# (header, row key, column width)
COLUMNS = (
    ("诉求编号", "number", 18),
    ("提交时间", "submitted_at", 17),
    ("企业名称", "firm", 32),
    ("统一社会信用代码", "uscc", 21),
    ("所属街镇", "street", 12),
    ("诉求类别", "category", 12),
    ("诉求标题", "title", 30),
    ("诉求内容", "description", 40),
    ("渠道", "channel", 12),
    ("紧急程度", "urgency", 8),
    ("办理层级", "level", 20),
    ("状态", "state", 12),
    ("主办单位", "lead_unit", 20),
    ("协办单位", "co_units", 24),
    ("受理时间", "accepted_at", 17),
    ("派单时间", "dispatched_at", 17),
    ("办理期限", "due_on", 11),
    ("期限说明", "due_note", 14),
    ("办结时间", "resolved_at", 17),
    ("超期情况", "lateness", 10),
    ("答复内容", "reply", 40),
    ("满意度", "rating", 9),
    ("关闭时间", "closed_at", 17),
)
_TIMES = ("submitted_at", "accepted_at", "dispatched_at", "resolved_at", "closed_at")


def _unit_names():
    """Each demand's current lead unit and its co-handling units, one row per demand.

    Grouped once over all tasks and joined, rather than looked up row by row: the tasks
    table is read in one pass whatever the size of the export.
    """
    unit_street = aliased(Street)
    name = func.coalesce(Department.name, unit_street.name)
    live = DemandTask.state != "cancelled"
    latest_lead = (
        select(DemandTask.demand_id, func.max(DemandTask.id).label("task_id"))
        .where(DemandTask.role == "lead", live)
        .group_by(DemandTask.demand_id)
        .subquery()
    )
    lead = (
        select(latest_lead.c.demand_id, name.label("name"))
        .join(DemandTask, DemandTask.id == latest_lead.c.task_id)
        .outerjoin(Department, DemandTask.department_id == Department.id)
        .outerjoin(unit_street, DemandTask.street_id == unit_street.id)
        .subquery()
    )
    co = (
        select(DemandTask.demand_id, func.aggregate_strings(name, "、").label("names"))
        .outerjoin(Department, DemandTask.department_id == Department.id)
        .outerjoin(unit_street, DemandTask.street_id == unit_street.id)
        .where(DemandTask.role == "co", live)
        .group_by(DemandTask.demand_id)
        .subquery()
    )
    return lead, co


def export_statement(user: User, filters: LedgerFilter, *, today: date) -> Select:
    """The ledger's query for ``user`` and ``filters``, with the file's columns."""
    lead, co = _unit_names()
    return (
        ledger_query(user, filters, today=today)
        .with_only_columns(
            Demand.number,
            Demand.submitted_at,
            Firm.name.label("firm"),
            Firm.uscc,
            Street.name.label("street"),
            DemandCategory.name.label("category"),
            Demand.title,
            Demand.description,
            Demand.channel,
            Demand.urgency,
            Demand.level,
            Demand.state,
            lead.c.name.label("lead_unit"),
            co.c.names.label("co_units"),
            Demand.accepted_at,
            Demand.dispatched_at,
            Demand.due_on,
            Demand.due_verified,
            Demand.paused_at,
            Demand.resolved_at,
            Demand.reply,
            Demand.rating,
            Demand.closed_at,
            Demand.closed_without_rating,
        )
        .join_from(Demand, Firm, Demand.firm_id == Firm.id)
        .join_from(Demand, Street, Demand.street_id == Street.id)
        .join_from(Demand, DemandCategory, Demand.category_id == DemandCategory.id)
        .outerjoin_from(Demand, lead, lead.c.demand_id == Demand.id)
        .outerjoin_from(Demand, co, co.c.demand_id == Demand.id)
    )


def export_demands(user: User, filters: LedgerFilter, *, today: date) -> tuple[io.BytesIO, int]:
    """The ledger rows ``user`` may see under ``filters`` as a workbook, and how many."""
    stmt = export_statement(user, filters, today=today).execution_options(yield_per=BATCH)
    rows = db.session.execute(stmt)
    return ledger_workbook("诉求台账", COLUMNS, (_cells(row._mapping, today) for row in rows))


def _lateness(row, today: date) -> str:
    due = row["due_on"]
    if due is None:
        return ""
    if row["resolved_at"] is not None:
        return "超期办结" if local_time(row["resolved_at"]).date() > due else "按期办结"
    if row["state"] in states.OPEN_STATES and row["paused_at"] is None and due < today:
        return "超期未办结"
    return ""


def _cells(row, today: date) -> list[Any]:
    values = dict(row)
    for key in _TIMES:
        values[key] = local_time(values[key])
    values["channel"] = CHANNEL_WORDS.get(row["channel"], row["channel"])
    values["urgency"] = URGENCY_WORDS.get(row["urgency"], row["urgency"])
    values["level"] = LEVEL_WORDS.get(row["level"], row["level"])
    state = STATE_WORDS.get(row["state"], row["state"])
    if row["state"] == "closed" and row["closed_without_rating"]:
        state += "（未评价）"
    values["state"] = state
    values["rating"] = RATING_WORDS.get(row["rating"]) if row["rating"] else None
    notes = []
    if row["due_on"] is not None and not row["due_verified"]:
        notes.append("日历未核实")
    if row["paused_at"] is not None:
        notes.append("暂停计时")
    values["due_note"] = "，".join(notes)
    values["lateness"] = _lateness(row, today)
    return [None if values[key] in (None, "") else values[key] for _h, key, _w in COLUMNS]
