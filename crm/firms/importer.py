"""Firm import from Excel (.xlsx) and CSV: read every row, preview, write on confirmation.

``read_upload`` turns a file into plain rows: each cell parsed into a JSON value, with the
problems found in it. Those rows wait server-side under a random token (``store``) between
the preview and the confirmation, so nothing the browser sends back is trusted.
``plan_import`` checks them against the database (streets, the user's scope, the firms
that exist) at both steps, and ``apply_import`` writes the good ones through the firm
services, which audit each firm.
"""

import csv
import io
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import labels
from crm.audit.services import record
from crm.auth.models import User
from crm.extensions import db
from crm.firms.industries import is_valid_code
from crm.firms.models import REVENUE_BANDS, Firm
from crm.firms.services import USCC_MESSAGES, FirmError, create_firm, update_firm
from crm.firms.uscc import normalise, uscc_error
from crm.org.models import Street

MAX_ROWS = 50_000
PREVIEW_TTL_SECONDS = 2 * 3600


@dataclass(frozen=True)
class Column:
    field: str
    header: str  # as in the template and the export
    label: Any  # the name on our pages
    aliases: str = ""  # other headers accepted, separated by |


# fmt: off
COLUMNS = (
    Column("name", "企业名称", _l("Firm name"), "名称|企业名|firm name|name"),
    Column("uscc", "统一社会信用代码", _l("Unified social credit code"),
           "信用代码|社会信用代码|uscc|unified social credit code"),
    Column("legal_representative", "法定代表人", _l("Legal representative"),
           "法人|法人代表|legal representative"),
    Column("industry_code", "行业代码", _l("Industry (GB/T 4754)"),
           "行业|国民经济行业代码|industry|industry code"),
    Column("size", "企业规模", _l("Size"), "规模|size"),
    Column("registered_capital", "注册资本（万元）", _l("Registered capital (10,000 yuan)"),
           "注册资本|registered capital"),
    Column("employees", "从业人数", _l("Employees"), "员工人数|职工人数|employees"),
    Column("revenue_band", "营收规模", _l("Annual revenue"),
           "营收规模（万元）|年营收|revenue|annual revenue|revenue band"),
    Column("established_on", "成立日期", _l("Date established"),
           "成立时间|date established|established on"),
    Column("street", "所属街镇", _l("Street"), "街镇|街道|street"),
    Column("address", "地址", _l("Address"), "注册地址|经营地址|address"),
    Column("high_tech", "高新技术企业", _l("High-tech enterprise"),
           "高新企业|high-tech|high-tech enterprise"),
    Column("foreign_invested", "外资企业", _l("Foreign-invested"), "外资|foreign-invested"),
    Column("tier", "重点企业等级", _l("Key-firm tier"), "重点企业|tier|key-firm tier"),
    Column("tags", "标签", _l("Tags"), "tags"),
    Column("status", "状态", _l("Status"), "企业状态|status"),
)
# fmt: on
REQUIRED_FOR_NEW = ("name", "uscc", "street")
BY_FIELD = {c.field: c for c in COLUMNS}

# The Chinese words the export writes and the import reads, besides the codes themselves.
SIZE_WORDS = {"large": "大", "medium": "中", "small": "小", "micro": "微"}
TIER_WORDS = {"district": "区级", "sector": "行业", "local": "属地"}
STATUS_WORDS = {"prospect": "待落户", "active": "正常", "moved_out": "迁出"}
_SIZES = {
    **{v: k for k, v in SIZE_WORDS.items()},
    **{v + "型": k for k, v in SIZE_WORDS.items()},
    **{k: k for k in SIZE_WORDS},
}
_TIERS = {
    **{v: k for k, v in TIER_WORDS.items()},
    **{v + "重点": k for k, v in TIER_WORDS.items()},
    **{k: k for k in TIER_WORDS},
    "无": None,
    "none": None,
}
_STATUSES = {
    **{v: k for k, v in STATUS_WORDS.items()},
    **{k: k for k in STATUS_WORDS},
    "moved out": "moved_out",
    "在营": "active",
    "存续": "active",
}
_YES = {"是", "y", "yes", "true", "1", "√"}
_NO = {"否", "n", "no", "false", "0", "×"}
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_TAG_SEPARATORS = re.compile(r"[,，、;；]")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

PROBLEMS = {
    "uscc_missing": _l("The unified social credit code is empty."),
    "too_long": _l("%(column)s is longer than %(max)s characters."),
    "industry": _l(
        "%(value)s is not a GB/T 4754 industry code (a section letter and 2 to 4 digits, e.g. I65)."
    ),
    "size": _l("Unknown size %(value)s: use 大, 中, 小 or 微."),
    "number": _l("%(column)s must be a number, not %(value)s."),
    "whole_number": _l("%(column)s must be a whole number, not %(value)s."),
    "range": _l("%(column)s must be between 0 and %(max)s."),
    "revenue": _l("Unknown revenue band %(value)s: use one of %(choices)s."),
    "date": _l("%(value)s is not a date: write it as 2019-05-01 or 2019/5/1."),
    "future": _l("The date established %(value)s is in the future."),
    "yes_no": _l("%(column)s must be 是 or 否, not %(value)s."),
    "tier": _l("Unknown tier %(value)s: use 区级, 行业, 属地 or 无."),
    "status": _l("Unknown status %(value)s: use 待落户, 正常 or 迁出."),
    "street": _l("There is no street named %(value)s."),
    "street_scope": _l("%(value)s is not your street: you may import only firms of %(own)s."),
    "firm_scope": _l("This code belongs to a firm of another street (%(street)s)."),
    "required": _l("A new firm needs %(columns)s."),
    "duplicate": _l("Duplicate of row %(row)s: the same unified social credit code."),
}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, for the upload form."""


class UploadGone(LookupError):
    """The previewed upload expired or was already imported."""


class NotYours(PermissionError):
    """Someone asked for another user's upload."""


class _CellError(ValueError):
    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.problem = {"code": code, **params}


def describe(problem: dict[str, Any]) -> str:
    """One problem, in the reader's language."""
    params = {k: v for k, v in problem.items() if k != "code"}
    if problem["code"] == "uscc":
        return str(USCC_MESSAGES[params["reason"]])
    if problem["code"] == "rule":  # a firm service's message, translated when it was raised
        return params["message"]
    if "field" in params:
        params["column"] = BY_FIELD[params.pop("field")].header
    if "fields" in params:
        params["columns"] = "、".join(BY_FIELD[f].header for f in params.pop("fields"))
    return str(PROBLEMS[problem["code"]]) % params


# -- reading files -------------------------------------------------------------------------


def read_upload(filename: str, stream: IO[bytes], *, max_rows: int = MAX_ROWS) -> dict:
    """Parse every row of an uploaded .xlsx or .csv; raise ``ImportFileError`` if unusable."""
    suffix = Path(filename or "").suffix.lower()
    head = stream.read(8)
    stream.seek(0)
    if suffix not in (".xlsx", ".csv", ".xls"):
        raise ImportFileError(_l("Upload an Excel workbook (.xlsx) or a CSV file."))
    if not head:
        raise ImportFileError(_l("The file is empty."))
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _l(
                "This is an old Excel 97-2003 workbook, or a password-protected one. Open it "
                "in Excel, remove any password, save it as .xlsx and upload that."
            )
        )
    if head.startswith(b"PK\x03\x04"):
        table = _xlsx_rows(stream)
    elif suffix == ".csv":
        table = _csv_rows(stream.read())
    else:
        raise ImportFileError(
            _l(
                "The file is not a valid Excel workbook; it may be damaged. "
                "Open it in Excel, save it again and upload it."
            )
        )

    header = next(table, None)
    fields, ignored = _read_header(header or ())
    rows = []
    for number, cells in enumerate(table, start=2):
        raw = {f: cells[i] for i, f in enumerate(fields) if f and i < len(cells)}
        if all(_text(v) == "" for v in raw.values()):
            continue
        if len(rows) == max_rows:
            raise ImportFileError(
                _l(
                    "The file has more than %(max)s rows. Split it into files "
                    "of at most %(max)s rows.",
                    max=max_rows,
                )
            )
        rows.append(_parse_row(number, raw))
    if not rows:
        raise ImportFileError(_l("The file has a header row but no firms under it."))
    return {"filename": (filename or "")[:200], "ignored": ignored, "rows": rows}


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple]:
    from openpyxl import load_workbook

    # A damaged workbook fails deep inside zipfile or the XML parser, with many kinds of
    # error; whatever they are, the person uploading needs the same answer.
    broken = _l(
        "The workbook could not be read; it may be damaged. Open it in Excel, "
        "save it again and upload it."
    )
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(broken) from exc
    try:
        if not book.worksheets:
            raise ImportFileError(broken)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some programs write a wrong size; read what is there
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                raise ImportFileError(broken) from exc
            yield row
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise ImportFileError(
            _l("The CSV file could not be read: %(error)s", error=str(exc))
        ) from exc


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GBK as Chinese Excel saves CSV."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")  # GB 18030 is a superset of GBK
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        _l(
            "The CSV file is neither UTF-8 nor GBK text. Save it from Excel "
            'as "CSV UTF-8" or as an Excel workbook.'
        )
    )


def _header_key(text: str) -> str:
    text = text.translate(str.maketrans("（）", "()")).lower()
    return re.sub(r"[\s_\-*]", "", text)


_HEADERS = {
    _header_key(name): c.field for c in COLUMNS for name in (c.header, *c.aliases.split("|"))
}


def _read_header(cells: tuple) -> tuple[list[str | None], list[str]]:
    fields: list[str | None] = []
    ignored = []
    for cell in cells:
        text = _text(cell)
        found = _HEADERS.get(_header_key(text))
        if found and found in fields:
            raise ImportFileError(
                _l("The column %(column)s appears twice in row 1.", column=BY_FIELD[found].header)
            )
        fields.append(found)
        if text and not found:
            ignored.append(text)
    if "uscc" not in fields:
        raise ImportFileError(
            _l(
                "Row 1 must hold the column headers, including 统一社会信用代码. "
                "Download the template to see them."
            )
        )
    return fields, ignored


# -- reading cells ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    return str(value).strip()


def _parse_row(number: int, raw: dict[str, Any]) -> dict:
    values: dict[str, Any] = {}
    problems = []
    for name, cell in raw.items():
        if _text(cell) == "":
            continue
        try:
            values[name] = _PARSERS[name](cell, name)
        except _CellError as exc:
            problems.append(exc.problem)
    key = values.pop("uscc", "")
    if not key and not any(p["code"] == "uscc" for p in problems):
        problems.insert(0, {"code": "uscc_missing"})
    return {
        "row": number,
        "key": key,
        "uscc": _text(raw.get("uscc")),
        "name": _text(raw.get("name"))[:128],
        "values": values,
        "problems": problems,
    }


def _string(max_length: int):
    def parse(cell: Any, name: str) -> str:
        text = _text(cell)
        if len(text) > max_length:
            raise _CellError("too_long", field=name, max=max_length)
        return text

    return parse


def _uscc(cell: Any, name: str) -> str:
    code = normalise(_text(cell))
    if reason := uscc_error(code):
        raise _CellError("uscc", reason=reason)
    return code


def _industry(cell: Any, name: str) -> str:
    code = _text(cell).upper()
    if not is_valid_code(code):
        raise _CellError("industry", value=code)
    return code


def _choice(table: dict, code: str):
    def parse(cell: Any, name: str) -> str | None:
        text = _text(cell)
        try:
            return table[text.lower().replace("　", "").strip()]
        except KeyError:
            raise _CellError(code, value=text) from None

    return parse


def _decimal(cell: Any, name: str) -> Decimal:
    text = _text(cell)
    if isinstance(cell, bool):
        raise _CellError("number", field=name, value=text)
    cleaned = re.sub(r"[,，\s]|万元$|万$", "", text)
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise _CellError("number", field=name, value=text) from None
    if not number.is_finite():
        raise _CellError("number", field=name, value=text)
    return number


def _capital(cell: Any, name: str) -> str:
    number = _decimal(cell, name)
    if not 0 <= number <= 10**11:
        raise _CellError("range", field=name, max=10**11)
    return str(number.quantize(Decimal("0.01")))


def _employees(cell: Any, name: str) -> int:
    number = _decimal(re.sub(r"人$", "", _text(cell)), name)
    if number != number.to_integral_value():
        raise _CellError("whole_number", field=name, value=_text(cell))
    if not 0 <= number <= 10**7:
        raise _CellError("range", field=name, max=10**7)
    return int(number)


def _revenue(cell: Any, name: str) -> str:
    text = _text(cell)
    band = re.sub(r"\s|万元|万", "", text).translate(
        str.maketrans(
            {
                "＜": "<",
                "＞": ">",
                "≥": ">",
                "－": "-",
                "—": "-",
                "~": "-",
                "～": "-",
                "至": "-",
                "＝": "=",
            }
        )
    )
    band = band.replace(">=", ">").replace(">", ">=")
    if band.endswith("以下"):
        band = "<" + band[:-2]
    elif band.endswith("以上"):
        band = ">=" + band[:-2]
    if band not in REVENUE_BANDS:
        raise _CellError("revenue", value=text, choices="、".join(REVENUE_BANDS))
    return band


def _date(cell: Any, name: str) -> str:
    if isinstance(cell, datetime):
        day = cell.date()
    elif isinstance(cell, date):
        day = cell
    else:
        text = _text(cell)
        match = _DATE.fullmatch(text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
        try:
            day = date(*(int(g) for g in match.groups())) if match else None
        except ValueError:
            day = None
        if day is None:
            raise _CellError("date", value=text)
    if day > date.today():
        raise _CellError("future", value=day.isoformat())
    return day.isoformat()


def _yes_no(cell: Any, name: str) -> bool:
    text = _text(cell).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise _CellError("yes_no", field=name, value=_text(cell))


def _tags(cell: Any, name: str) -> list[str]:
    text = _text(cell)
    if len(text) > 300:
        raise _CellError("too_long", field=name, max=300)
    return sorted({t.strip() for t in _TAG_SEPARATORS.split(text) if t.strip()})


_PARSERS = {
    "name": _string(128),
    "uscc": _uscc,
    "legal_representative": _string(64),
    "industry_code": _industry,
    "size": _choice(_SIZES, "size"),
    "registered_capital": _capital,
    "employees": _employees,
    "revenue_band": _revenue,
    "established_on": _date,
    "street": _string(64),
    "address": _string(200),
    "high_tech": _yes_no,
    "foreign_invested": _yes_no,
    "tier": _choice(_TIERS, "tier"),
    "tags": _tags,
    "status": _choice(_STATUSES, "status"),
}


# -- keeping an upload between preview and confirmation --------------------------------------


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(token: str) -> Path:
    if not _TOKEN.fullmatch(token):
        raise UploadGone(token)
    return _folder() / f"{token}.json"


def store(upload: dict, user: User) -> str:
    """Keep ``upload`` for ``user`` under a new token, and clear out stale ones."""
    folder = _folder()
    now = time.time()
    for old in folder.iterdir():
        with suppress(FileNotFoundError):  # another process may be clearing up too
            if now - old.stat().st_mtime > PREVIEW_TTL_SECONDS:
                old.unlink()
    token = secrets.token_urlsafe(24)
    partial = folder / f"{token}.partial"
    with open(
        os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8"
    ) as fh:
        json.dump({"user_id": user.id, "created": now, **upload}, fh, ensure_ascii=False)
    partial.rename(folder / f"{token}.json")  # readers never see half a file
    return token


def load(token: str, user: User) -> dict:
    path = _path(token)
    try:
        upload = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        raise UploadGone(token) from None
    if upload["user_id"] != user.id:
        raise NotYours(token)
    if time.time() - upload["created"] > PREVIEW_TTL_SECONDS:
        path.unlink(missing_ok=True)
        raise UploadGone(token)
    return upload


@contextmanager
def claim(token: str, user: User) -> Iterator[dict]:
    """Take the upload for writing, once: a second confirmation finds it gone.

    If the block fails, nothing was committed, so the upload is put back for another try.
    """
    upload = load(token, user)
    path = _path(token)
    claimed = path.with_suffix(".claimed")
    try:
        path.rename(claimed)  # atomic: of two confirmations only one gets here
    except FileNotFoundError:
        raise UploadGone(token) from None
    try:
        yield upload
    except BaseException:
        claimed.rename(path)
        raise
    claimed.unlink(missing_ok=True)


# -- checking against the database, and writing ---------------------------------------------


@dataclass
class RowPlan:
    row: int
    uscc: str
    name: str
    action: str = "reject"  # create, update, unchanged or reject
    data: dict[str, Any] = field(default_factory=dict)  # what to write
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field: (old, new)
    firm: Firm | None = None
    firm_id: int | None = None
    street_name: str = ""
    problems: list[dict] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [describe(p) for p in self.problems]


@dataclass
class ImportPlan:
    filename: str
    ignored: list[str]
    rows: list[RowPlan]

    def of(self, action: str) -> list[RowPlan]:
        return [r for r in self.rows if r.action == action]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("create", "update", "unchanged", "reject"), 0)
        for r in self.rows:
            counts[r.action] += 1
        return counts


def plan_import(upload: dict, user: User) -> ImportPlan:
    """What importing ``upload`` as ``user`` would do to each row, given the database now."""
    streets = db.session.scalars(select(Street).where(Street.active.is_(True))).all()
    by_name = {s.code: s for s in streets} | {s.name: s for s in streets}
    names = {s.id: s.name for s in db.session.scalars(select(Street))}
    firms = _firms_by_uscc([r["key"] for r in upload["rows"] if r["key"]])
    own_street = user.street_id if user.role == "street" else None
    first_row: dict[str, int] = {}
    plan = ImportPlan(upload["filename"], upload["ignored"], [])
    for row in upload["rows"]:
        item = RowPlan(
            row["row"], row["key"] or row["uscc"], row["name"], problems=list(row["problems"])
        )
        plan.rows.append(item)
        values = dict(row["values"])
        if key := row["key"]:
            if key in first_row:
                item.problems.append({"code": "duplicate", "row": first_row[key]})
            first_row.setdefault(key, row["row"])
        if "street" in values:
            street = by_name.get(values.pop("street"))
            if street is None:
                item.problems.append({"code": "street", "value": row["values"]["street"]})
            elif own_street is not None and street.id != own_street:
                item.problems.append(
                    {"code": "street_scope", "value": street.name, "own": names.get(own_street, "")}
                )
            else:
                values["street_id"] = street.id
        firm = firms.get(key) if key else None
        if firm is not None and own_street is not None and firm.street_id != own_street:
            item.problems.append({"code": "firm_scope", "street": names.get(firm.street_id)})
        if key and firm is None:
            failed = {p.get("field") for p in row["problems"]}
            given = {"uscc", *row["values"], *failed}  # the code is checked above
            missing = [f for f in REQUIRED_FOR_NEW if f not in given]
            if missing:
                item.problems.append({"code": "required", "fields": missing})
        if item.problems:
            continue
        values = {k: _model_value(k, v) for k, v in values.items()}
        if firm is None:
            item.action, item.data = "create", {"uscc": key, **values}
            item.street_name = names[values["street_id"]]
            continue
        item.firm, item.firm_id, item.name = firm, firm.id, firm.name
        item.street_name = names[firm.street_id]
        item.data = {k: v for k, v in values.items() if not _same(getattr(firm, k), v)}
        for k, v in item.data.items():
            if k == "street_id":
                item.changes["street"] = (names.get(firm.street_id), names[v])
            else:
                item.changes[k] = (getattr(firm, k), v)
        item.action = "update" if item.data else "unchanged"
    return plan


def apply_import(plan: ImportPlan, *, actor: User) -> ImportPlan:
    """Create and update the firms of ``plan``; one audit record each, and one for the lot."""
    for item in plan.rows:
        try:
            if item.action == "create":
                item.firm = create_firm(item.data, actor=actor)
                item.firm_id = item.firm.id
            elif item.action == "update":
                update_firm(item.firm, item.data, actor=actor)
                item.name = item.firm.name
        except FirmError as exc:  # the services' own rules, checked once more
            item.action = "reject"
            item.problems.append({"code": "rule", "message": str(exc)})
    record(
        "firm.import",
        object_type="firms",
        user=actor,
        detail={"file": plan.filename, "rows": len(plan.rows), **plan.counts},
    )
    return plan


def _firms_by_uscc(codes: list[str]) -> dict[str, Firm]:
    found: dict[str, Firm] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), 500):  # keep each IN list well under driver limits
        chunk = unique[start : start + 500]
        found.update(
            (f.uscc, f) for f in db.session.scalars(select(Firm).where(Firm.uscc.in_(chunk)))
        )
    return found


def _model_value(name: str, value: Any) -> Any:
    if name == "registered_capital":
        return Decimal(value)
    if name == "established_on":
        return date.fromisoformat(value)
    return value


def _same(old: Any, new: Any) -> bool:
    if isinstance(new, list):
        return sorted(set(old or [])) == new
    return old == new


def format_value(name: str, value: Any) -> str:
    """A stored value as the preview shows it."""
    tables = {
        "size": labels.SIZES,
        "tier": labels.TIERS,
        "status": labels.STATUSES,
        "revenue_band": labels.REVENUE_BANDS,
    }
    if value is None or value in ("", []):
        return "—"
    if name in tables:
        return labels.label(tables[name], value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return "、".join(value)
    return str(value)
