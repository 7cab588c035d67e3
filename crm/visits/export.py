"""The visits ledger to Excel: the page's selection, every row, with Chinese headers.

One statement read in batches into openpyxl's write-only workbook, as the demand ledger's
export. The file is in Chinese whatever the reader's interface language.
"""

import io
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import aliased

from crm.auth.models import User
from crm.demands.models import Demand
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Street
from crm.spreadsheets import ledger_workbook
from crm.timeutil import local_time
from crm.visits.models import Visit, VisitParticipant
from crm.visits.queries import VisitFilter, ledger_query

BATCH = 1000

METHOD_WORDS = {"on_site": "实地走访", "phone": "电话", "online": "线上", "meeting": "座谈会"}
TIER_WORDS = {"district": "区级重点企业", "sector": "行业重点企业", "local": "属地重点企业"}

# (header, row key, column width)
COLUMNS = (
    ("走访日期", "visited_on", 11),
    ("企业名称", "firm", 32),
    ("统一社会信用代码", "uscc", 21),
    ("所属街镇", "street", 12),
    ("重点企业等级", "tier", 13),
    ("走访方式", "method", 9),
    ("企业服务专员", "commissioner", 12),
    ("联合走访", "joint", 8),
    ("参与人员", "participants", 30),
    ("走访情况", "summary", 50),
    ("诉求数", "demand_count", 7),
    ("诉求编号", "demand_numbers", 24),
    ("应企业要求", "requested", 9),
    ("超频走访说明", "courtesy_override", 24),
    ("记录人", "created_by", 12),
    ("记录时间", "created_at", 17),
)


def _participants():
    who = case(
        (VisitParticipant.unit == "", VisitParticipant.name),
        else_=VisitParticipant.name + "（" + VisitParticipant.unit + "）",
    )
    return (
        select(VisitParticipant.visit_id, func.aggregate_strings(who, "、").label("names"))
        .group_by(VisitParticipant.visit_id)
        .subquery()
    )


def _demands():
    return (
        select(
            Demand.visit_id,
            func.count(Demand.id).label("n"),
            func.aggregate_strings(Demand.number, "、").label("numbers"),
        )
        .where(Demand.visit_id.is_not(None))
        .group_by(Demand.visit_id)
        .subquery()
    )


def export_statement(user: User, filters: VisitFilter) -> Select:
    people, demands = _participants(), _demands()
    commissioner, recorder = aliased(User), aliased(User)
    return (
        ledger_query(user, filters)
        .with_only_columns(
            Visit.visited_on,
            Firm.name.label("firm"),
            Firm.uscc,
            Street.name.label("street"),
            Firm.tier,
            Visit.method,
            commissioner.display_name.label("commissioner"),
            Visit.joint,
            people.c.names.label("participants"),
            Visit.summary,
            demands.c.n.label("demand_count"),
            demands.c.numbers.label("demand_numbers"),
            Visit.requested_by_firm.label("requested"),
            Visit.courtesy_override,
            recorder.display_name.label("created_by"),
            Visit.created_at,
        )
        .join_from(Visit, Firm, Visit.firm_id == Firm.id)
        .join_from(Visit, Street, Visit.street_id == Street.id)
        .join_from(Visit, commissioner, Visit.commissioner_id == commissioner.id)
        .join_from(Visit, recorder, Visit.created_by_id == recorder.id)
        .outerjoin_from(Visit, people, people.c.visit_id == Visit.id)
        .outerjoin_from(Visit, demands, demands.c.visit_id == Visit.id)
    )


def _cells(row) -> list[Any]:
    values = dict(row)
    values["tier"] = TIER_WORDS.get(row["tier"], "无")
    values["method"] = METHOD_WORDS.get(row["method"], row["method"])
    values["joint"] = "是" if row["joint"] else "否"
    values["requested"] = "是" if row["requested"] else "否"
    values["demand_count"] = row["demand_count"] or 0
    values["created_at"] = local_time(row["created_at"])
    return [None if values[key] in (None, "") else values[key] for _h, key, _w in COLUMNS]


def export_visits(user: User, filters: VisitFilter) -> tuple[io.BytesIO, int]:
    """The visits ``user`` may see under ``filters`` as a workbook, and how many."""
    stmt = export_statement(user, filters).execution_options(yield_per=BATCH)
    rows = db.session.execute(stmt)
    return ledger_workbook("走访台账", COLUMNS, (_cells(row._mapping) for row in rows))
