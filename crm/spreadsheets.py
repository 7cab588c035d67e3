"""Excel downloads shared by every export: safe cells and the download response."""

import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from flask import send_file
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def header_cell(sheet, value: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


def safe_cell(sheet, value: Any) -> Any:
    """Text that looks like a formula stays text: a firm's name must never run in Excel."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def ledger_workbook(
    title: str, columns: Iterable[tuple[str, str, int]], rows: Iterable[list[Any]]
) -> tuple[io.BytesIO, int]:
    """One sheet ``title``: bold headers frozen on top, each column's width, then ``rows``
    streamed through openpyxl's write-only mode. ``columns`` are (header, key, width)."""
    columns = list(columns)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for i, (_header, _key, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([header_cell(sheet, header, bold) for header, _k, _w in columns])
    count = 0
    for row in rows:
        sheet.append([safe_cell(sheet, v) for v in row])
        count += 1
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out, count


def download(out, name: str, ascii_name: str):
    """``out`` (a file object) as an .xlsx attachment named ``name``."""
    response = send_file(out, mimetype=XLSX, max_age=0)
    # The Chinese name for browsers, an ASCII one for the few that ignore filename*.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
