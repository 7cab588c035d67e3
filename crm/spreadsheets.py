"""Excel downloads shared by every export: safe cells and the download response."""

from typing import Any
from urllib.parse import quote

from flask import send_file
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

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


def download(out, name: str, ascii_name: str):
    """``out`` (a file object) as an .xlsx attachment named ``name``."""
    response = send_file(out, mimetype=XLSX, max_age=0)
    # The Chinese name for browsers, an ASCII one for the few that ignore filename*.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
