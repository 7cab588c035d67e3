"""A bulletin's Excel twin: the same content as its PDF, as sheets a unit can sort and
sum — 总体情况 (the district's figures), 单位排名 (the departments' and the streets'
rankings) and 超期督办事项 (the items overdue or supervised). In Chinese, like the PDF:
it is the office's document whatever the interface language.

Counts are numbers and rates are fractions shown as percentages, so the cells hold the
very numbers the content dict holds.
"""

import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from crm.spreadsheets import header_cell, safe_cell
from crm.stats import definitions as figures
from crm.stats.bulletins import RANKED

TOTALS = (
    ("受理数", "collected"),
    ("办结数", "resolved"),
    ("按期办结数", "resolved_on_time"),
    ("按时受理数", "accepted_in_time"),
    ("已评价数", "rated"),
    ("满意和基本满意数", "satisfied"),
    ("不满意数", "not_satisfied"),
    ("超期未办结数", "overdue"),
    ("已督办数", "supervised"),
    ("办结率", "resolution_rate"),
    ("按期办结率", "on_time_rate"),
    ("响应率", "response_rate"),
    ("满意率", "satisfaction_rate"),
)
RATES = {name for name, _, _ in figures.RATES}
RANKING_COLUMNS = (
    ("排名", "rank", 6),
    ("单位", "name", 24),
    ("派单数", "dispatched", 9),
    ("办结数", "resolved", 9),
    ("按期办结数", "resolved_on_time", 11),
    ("超期数", "overdue", 9),
    ("办结率", "resolution_rate", 9),
    ("不满意数", "not_satisfied", 9),
)
ITEM_COLUMNS = (
    ("序号", 6),
    ("诉求编号", 18),
    ("企业名称", 32),
    ("承办单位", 20),
    ("办理时限", 12),
    ("超期工作日", 11),
    ("督办", 6),
)


def _rate(sheet, value: float | None):
    if value is None:
        return "—"
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "0.0%"
    return cell


def _sheet(book: Workbook, title: str, widths):
    sheet = book.create_sheet(title)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    return sheet


def workbook_bytes(content: dict) -> bytes:
    """The .xlsx file of the bulletin ``content``."""
    bold = Font(bold=True)
    book = Workbook(write_only=True)

    sheet = _sheet(book, "总体情况", (22, 40))
    sheet.append([header_cell(sheet, content["title"], bold)])
    sheet.append(["发文单位", content["office"]])
    sheet.append(["期号", f"{content['year']}年第{content['issue']}期"])
    sheet.append(["统计期间", f"{content['period']['start']} 至 {content['period']['end']}"])
    sheet.append(["统计时点（UTC）", content["as_of"]])
    sheet.append([])
    sheet.append([header_cell(sheet, "指标", bold), header_cell(sheet, "数值", bold)])
    totals = content["totals"]
    for label, key in TOTALS:
        value = totals.get(key)
        sheet.append([label, _rate(sheet, value) if key in RATES else value])
    sheet.append(["上期受理数", content["previous"]["collected"]])
    sheet.append([])
    sheet.append([header_cell(sheet, "工作亮点", bold)])
    for sentence in content["highlights"]:
        sheet.append([safe_cell(sheet, sentence)])

    sheet = _sheet(book, "单位排名", [w for _h, _k, w in RANKING_COLUMNS])
    for key, _dimension, label in RANKED:
        sheet.append([header_cell(sheet, label, bold)])
        sheet.append([header_cell(sheet, h, bold) for h, _k, _w in RANKING_COLUMNS])
        for row in content["rankings"][key]:
            sheet.append(
                [
                    _rate(sheet, row[k]) if k == "resolution_rate" else safe_cell(sheet, row[k])
                    for _h, k, _w in RANKING_COLUMNS
                ]
            )
        sheet.append([])

    sheet = _sheet(book, "超期督办事项", [w for _h, w in ITEM_COLUMNS])
    sheet.freeze_panes = "A2"
    sheet.append([header_cell(sheet, h, bold) for h, _w in ITEM_COLUMNS])
    for n, item in enumerate(content["items"], start=1):
        sheet.append(
            [
                n,
                item["number"],
                safe_cell(sheet, item["firm"]),
                safe_cell(sheet, item["unit"]),
                item["deadline"] or "—",
                item["days_overdue"],
                "是" if item["supervised"] else "否",
            ]
        )

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
