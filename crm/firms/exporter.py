"""Firms to Excel: the filtered firm list, and the empty template for imports.

The export uses the import's Chinese headers and words, so a file can be exported, edited
and imported again. Rows are read from the database in batches and written by openpyxl's
write-only workbook, so a list of tens of thousands of firms never sits in memory at once.
"""

import io
import random
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, select

from crm.auth.models import User
from crm.extensions import db
from crm.firms import uscc
from crm.firms.importer import COLUMNS, SIZE_WORDS, STATUS_WORDS, TIER_WORDS
from crm.firms.models import Assignment, Firm
from crm.firms.services import FirmFilter, firm_query
from crm.org.models import Street
from crm.spreadsheets import header_cell, safe_cell

BATCH = 1000
COMMISSIONER_HEADERS = ("主包保专员", "备包保专员")
_WIDTHS = {"name": 36, "uscc": 22, "address": 36, "tags": 24, "street": 14}
# Every firm column the file has; "street" is the street's name, read through a join.
_FIRM_FIELDS = [c.field for c in COLUMNS if c.field != "street"]


def _commissioner(role: str):
    """The display name of the firm's current ``role`` commissioner, as a scalar subquery."""
    return (
        select(User.display_name)
        .join(Assignment, Assignment.commissioner_id == User.id)
        .where(Assignment.firm_id == Firm.id, Assignment.role == role)
        .where(Assignment.ended_at.is_(None))
        .order_by(Assignment.started_at.desc(), Assignment.id.desc())
        .limit(1)
        .correlate(Firm)
        .scalar_subquery()
    )


def export_statement(user: User, filters: FirmFilter) -> Select:
    """One statement for the whole list: the firm list's query with the file's columns."""
    return (
        firm_query(user, filters)
        .with_only_columns(
            *(getattr(Firm, f) for f in _FIRM_FIELDS),
            Street.name.label("street"),
            _commissioner("primary").label("primary_commissioner"),
            _commissioner("backup").label("backup_commissioner"),
        )
        .join_from(Firm, Street, Firm.street_id == Street.id)
    )


def export_firms(user: User, filters: FirmFilter) -> tuple[io.BytesIO, int]:
    """The firms ``user`` may see under ``filters`` as a workbook, and how many there are."""
    rows = db.session.execute(export_statement(user, filters).execution_options(yield_per=BATCH))
    return _workbook(_firm_rows(rows))


def template_workbook(street_name: str) -> io.BytesIO:
    """An empty import file: the header row and one example row in ``street_name``."""
    example = {
        "name": "上海示例科技有限公司",
        "uscc": uscc.generate(random.Random(4754)),
        "legal_representative": "张三",
        "industry_code": "I6513",
        "size": "small",
        "registered_capital": Decimal("500"),
        "employees": 25,
        "revenue_band": "500-2000",
        "established_on": date(2019, 5, 1),
        "street": street_name,
        "address": "示例路100号",
        "high_tech": True,
        "foreign_invested": False,
        "tier": "local",
        "tags": ["专精特新", "软件"],
        "status": "active",
    }
    out, _count = _workbook(
        [[_cell_value(c.field, example[c.field]) for c in COLUMNS]], commissioners=False
    )
    return out


def _firm_rows(rows: Iterable) -> Iterable[list[Any]]:
    for row in rows:
        values = row._mapping
        yield [_cell_value(c.field, values[c.field]) for c in COLUMNS] + [
            values["primary_commissioner"],
            values["backup_commissioner"],
        ]


def _cell_value(field: str, value: Any) -> Any:
    words = {"size": SIZE_WORDS, "tier": TIER_WORDS, "status": STATUS_WORDS}
    if field in words:
        value = words[field].get(value, value)
    elif isinstance(value, bool):
        value = "是" if value else "否"
    elif field == "tags":
        value = "、".join(value or [])
    return None if value in (None, "") else value


def _workbook(rows: Iterable[list[Any]], *, commissioners: bool = True) -> tuple[io.BytesIO, int]:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("企业")
    headers = [c.header for c in COLUMNS] + (list(COMMISSIONER_HEADERS) if commissioners else [])
    for i, c in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(c.field, 12)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([header_cell(sheet, h, bold) for h in headers])
    count = 0
    for row in rows:
        sheet.append([safe_cell(sheet, v) for v in row])
        count += 1
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out, count
