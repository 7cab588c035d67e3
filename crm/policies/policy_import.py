"""Policies from an Excel workbook, one policy a row, and the template to fill in.

A row is found by its document number (文号) and title: a pair the catalog knows updates
that policy, a new pair creates one, so importing the same file twice changes nothing.
Empty cells leave a policy as it is. Every row that cannot be used is reported with its
row number and reasons; the good rows are written through the catalog services, which
check and audit them as the editor does.
"""

import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font

from crm.audit.services import record
from crm.auth.models import User
from crm.firms.importer import ImportFileError
from crm.policies import catalog
from crm.policies.attributes import ATTRIBUTES, CriterionError, clean_value
from crm.policies.models import Policy

MAX_ROWS = 2000


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    aliases: str = ""


COLUMNS = (
    Column("title", "政策名称", "标题|名称|title"),
    Column("doc_number", "文号", "发文字号|document number|doc number"),
    Column("issuer", "发布单位", "发文单位|issuer"),
    Column("level", "层级", "政策层级|level"),
    Column("topic", "类别", "政策类别|topic"),
    Column("kind", "类型", "政策类型|kind"),
    Column("effective_from", "生效日期", "开始日期|effective from"),
    Column("effective_to", "截止日期", "失效日期|结束日期|effective to"),
    Column("no_application", "免申即享", "no application"),
    Column("benefits", "支持内容", "扶持内容|政策内容|benefits"),
    Column("how_to_apply", "申报方式", "申报流程|how to apply"),
    Column("criteria", "机器条件", "匹配条件|criteria"),
    Column("review_conditions", "审核条件", "人工审核条件|reviewed conditions"),
)
REQUIRED_FOR_NEW = ("title", "effective_from")
BY_FIELD = {c.field: c for c in COLUMNS}

# The Chinese words the template shows and the import reads, besides the codes themselves.
LEVEL_WORDS = {"city": "市级", "district": "区级"}
KIND_WORDS = {"universal": "普惠", "individual": "个性"}
TOPIC_WORDS = {
    "talent": "人才",
    "housing": "住房",
    "project": "项目扶持",
    "financing": "融资",
    "technology": "科技创新",
    "tax": "税费",
    "employment": "稳岗就业",
    "other": "其他",
}
ATTRIBUTE_WORDS = {
    "industry": "行业代码",
    "size": "企业规模",
    "street": "所属街镇",
    "tier": "重点企业等级",
    "high_tech": "高新技术企业",
    "foreign_invested": "外资企业",
    "age": "成立年限",
    "employees": "从业人数",
    "revenue": "营收规模",
    "registered_capital": "注册资本",
    "tags": "标签",
}
OPERATOR_WORDS = {
    "eq": "等于",
    "ne": "不等于",
    "in": "属于",
    "not_in": "不属于",
    "gte": "不少于",
    "lte": "不超过",
    "between": "介于",
    "prefix": "开头为",
    "not_prefix": "开头不为",
    "has": "含标签",
    "has_any": "含任一标签",
    "has_none": "不含标签",
}
_OPERATOR_SYMBOLS = {
    "=": "eq",
    "≠": "ne",
    "!=": "ne",
    "≥": "gte",
    ">=": "gte",
    "≤": "lte",
    "<=": "lte",
}
# Values of the choice attributes as people write them in Chinese.
_SIZE_WORDS = {"大": "large", "中": "medium", "小": "small", "微": "micro"}
_VALUE_WORDS = {
    "size": {**_SIZE_WORDS, **{word + "型": code for word, code in _SIZE_WORDS.items()}},
    "tier": {"区级": "district", "行业": "sector", "属地": "local", "无": "none"},
}
_YES = {"是", "y", "yes", "true", "1", "√"}
_NO = {"否", "n", "no", "false", "0", "×", ""}
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_SEPARATORS = re.compile(r"[,，、;；]")


def _key(text: str) -> str:
    return re.sub(r"[\s_\-*]", "", text.translate(str.maketrans("（）", "()")).lower())


def _table(words: Mapping[str, str]) -> dict[str, str]:
    return {**{_key(v): k for k, v in words.items()}, **{_key(k): k for k in words}}


_HEADERS = {_key(n): c.field for c in COLUMNS for n in (c.header, *c.aliases.split("|"))}
_LEVELS, _KINDS, _TOPICS = _table(LEVEL_WORDS), _table(KIND_WORDS), _table(TOPIC_WORDS)
_ATTRIBUTES, _OPERATORS = _table(ATTRIBUTE_WORDS), _table(OPERATOR_WORDS)


@dataclass
class ImportResult:
    created: list[tuple[int, Policy]] = field(default_factory=list)
    updated: list[tuple[int, Policy]] = field(default_factory=list)
    unchanged: list[tuple[int, Policy]] = field(default_factory=list)
    rejected: list[tuple[int, str, list[str]]] = field(default_factory=list)


class RowError(ValueError):
    pass


# -- reading the workbook ---------------------------------------------------------------------


def read_rows(filename: str, stream: IO[bytes]) -> list[tuple[int, dict[str, Any]]]:
    """(row number, {field: cell}) for every row with something in it; ``ImportFileError``
    when the file as a whole cannot be used."""
    if not (filename or "").lower().endswith(".xlsx") or stream.read(4) != b"PK\x03\x04":
        raise ImportFileError(_l("Upload an Excel workbook (.xlsx), as the template."))
    stream.seek(0)
    table = _cells(stream)
    fields = [_HEADERS.get(_key(_text(c))) for c in next(table, None) or ()]
    if "title" not in fields:
        raise ImportFileError(
            _l("Row 1 must hold the column headers, including 政策名称. See the template.")
        )
    rows = []
    for number, cells in enumerate(table, start=2):
        raw = {f: cells[i] for i, f in enumerate(fields) if f and i < len(cells)}
        if all(_text(v) == "" for v in raw.values()):
            continue
        if len(rows) == MAX_ROWS:
            raise ImportFileError(
                _l("The file has more than %(max)s policies: split it.", max=MAX_ROWS)
            )
        rows.append((number, raw))
    if not rows:
        raise ImportFileError(_l("The file has a header row but no policies under it."))
    return rows


def _cells(stream: IO[bytes]) -> Iterator[tuple]:
    broken = _l("The workbook could not be read; it may be damaged. Save it again in Excel.")
    # A damaged workbook fails deep in zipfile or the XML parser, with many kinds of error.
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        rows = list(sheet.iter_rows(values_only=True))
        book.close()
    except Exception as exc:
        raise ImportFileError(broken) from exc
    return iter(rows)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# -- reading a row ----------------------------------------------------------------------------


def parse_row(raw: Mapping[str, Any], *, streets: Mapping[int, str]) -> tuple[dict, list | None]:
    """The row's policy fields (non-empty cells only) and criteria (None when the cell is
    empty); ``RowError`` with every problem of the row, one per line."""
    data: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in raw.items():
        text = _text(value)
        if not text or name == "criteria":
            continue
        try:
            data[name] = _field(name, value, text)
        except RowError as exc:
            problems.append(f"{BY_FIELD[name].header}：{exc}")
    criteria = None
    if _text(raw.get("criteria")):
        try:
            criteria = parse_criteria(_text(raw["criteria"]), streets=streets)
        except RowError as exc:
            problems.extend(str(exc).splitlines())
    if problems:
        raise RowError("\n".join(problems))
    return data, criteria


def _field(name: str, value: Any, text: str) -> Any:
    if name in ("level", "kind", "topic"):
        table = {"level": _LEVELS, "kind": _KINDS, "topic": _TOPICS}[name]
        words = {"level": LEVEL_WORDS, "kind": KIND_WORDS, "topic": TOPIC_WORDS}[name]
        if _key(text) not in table:
            raise RowError(_l("use one of %(words)s", words="、".join(words.values())))
        return table[_key(text)]
    if name in ("effective_from", "effective_to"):
        return _date(value, text)
    if name == "no_application":
        if text.lower() in _YES:
            return True
        if text.lower() in _NO:
            return False
        raise RowError(_l("write 是 or 否"))
    if name == "review_conditions":
        return text.splitlines()
    return text


def _date(value: Any, text: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = _DATE.fullmatch(text.split()[0]) if text.split() else None
    try:
        return date(*(int(g) for g in found.groups())) if found else date.fromisoformat(text)
    except ValueError:
        raise RowError(_l("%(value)s is not a date: write it as 2026-05-01", value=text)) from None


def parse_criteria(text: str, *, streets: Mapping[int, str]) -> list[tuple[str, str, Any]]:
    """One criterion a line, "attribute operator value": 从业人数 不少于 50."""
    criteria, problems = [], []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        try:
            criteria.append(_criterion(line, streets))
        except (RowError, CriterionError) as exc:
            problems.append(f"{BY_FIELD['criteria'].header}「{line}」：{exc}")
    if problems:
        raise RowError("\n".join(problems))
    return criteria


def _criterion(line: str, streets: Mapping[int, str]) -> tuple[str, str, Any]:
    parts = line.split(maxsplit=2)
    if len(parts) < 3:
        raise RowError(_l("write the attribute, the comparison and the value, with spaces"))
    attribute = _ATTRIBUTES.get(_key(parts[0]))
    if attribute is None:
        raise RowError(_l("unknown attribute %(name)s", name=parts[0]))
    operator = _OPERATOR_SYMBOLS.get(parts[1]) or _OPERATORS.get(_key(parts[1]))
    if operator is None:
        raise RowError(_l("unknown comparison %(name)s", name=parts[1]))
    value: Any = parts[2]
    if attribute in _VALUE_WORDS:
        words = _VALUE_WORDS[attribute]
        value = [words.get(v.strip(), v.strip()) for v in _SEPARATORS.split(value) if v.strip()]
    return attribute, operator, clean_value(attribute, operator, value, streets=streets)


# -- writing ----------------------------------------------------------------------------------


def import_policies(
    rows: list[tuple[int, dict[str, Any]]], *, actor: User, streets: Mapping[int, str]
) -> ImportResult:
    """Create or update a policy for every good row; the caller commits."""
    result = ImportResult()
    seen: dict[tuple[str, str], int] = {}
    for number, raw in rows:
        title = _text(raw.get("title"))
        try:
            data, criteria = parse_row(raw, streets=streets)
            key = (data.get("doc_number", ""), data.get("title", ""))
            if key in seen:
                raise RowError(_l("the same 文号 and title as row %(row)s", row=seen[key]))
            seen[key] = number
            _write(number, data, criteria, actor=actor, result=result)
        except RowError as exc:
            result.rejected.append((number, title, str(exc).splitlines()))
        except catalog.PolicyError as exc:
            result.rejected.append((number, title, [exc.message]))
    record(
        "policy.import",
        object_type="policies",
        user=actor,
        detail={
            "created": len(result.created),
            "updated": len(result.updated),
            "unchanged": len(result.unchanged),
            "rejected": [n for n, _t, _p in result.rejected],
        },
    )
    return result


def _write(number: int, data: dict, criteria: list | None, *, actor: User, result) -> None:
    policy = catalog.find_by_key(data.get("doc_number", ""), data.get("title", ""))
    if policy is None:
        missing = [BY_FIELD[f].header for f in REQUIRED_FOR_NEW if f not in data]
        if missing:
            raise RowError(_l("a new policy needs %(columns)s", columns="、".join(missing)))
        result.created.append((number, catalog.create_policy(data, criteria or [], actor=actor)))
        return
    if criteria is None:
        criteria = [tuple(c) for c in catalog.criteria_of(policy)]
    changed = catalog.update_policy(policy, data, criteria, actor=actor)
    (result.updated if changed else result.unchanged).append((number, policy))


# -- the template -----------------------------------------------------------------------------

EXAMPLE = {
    "title": "高新技术企业认定奖励",
    "doc_number": "示例科发〔2026〕1号",
    "issuer": "区科学技术委员会",
    "level": "区级",
    "topic": "科技创新",
    "kind": "普惠",
    "effective_from": date(2026, 1, 1),
    "effective_to": date(2026, 12, 31),
    "no_application": "是",
    "benefits": "对首次认定的高新技术企业给予一次性奖励 20 万元。",
    "how_to_apply": "免申即享，由区科委直接拨付。",
    "criteria": "高新技术企业 等于 是\n从业人数 不少于 10\n企业规模 属于 小、微",
    "review_conditions": "近三年无严重失信记录",
}


def template_workbook() -> io.BytesIO:
    """The import template: the columns with one example row, and a sheet that lists the
    words each column takes."""
    book = Workbook()
    sheet = book.active
    sheet.title = "政策"
    bold = Font(bold=True)
    sheet.append([c.header for c in COLUMNS])
    sheet.append([EXAMPLE[c.field] for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = bold
    for cell in sheet[2]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("填写说明")
    lines = [
        ("政策名称、生效日期", "新政策必填"),
        ("文号与政策名称", "与已有政策相同的行更新该政策，空白单元格不改动原值"),
        ("层级", "、".join(LEVEL_WORDS.values())),
        ("类别", "、".join(TOPIC_WORDS.values())),
        ("类型", "、".join(KIND_WORDS.values())),
        ("免申即享", "是 或 否"),
        ("日期", "2026-01-01 或 2026/1/1"),
        ("机器条件", "每行一条：属性 比较 值，以空格分隔；多个值用顿号或逗号分隔"),
        ("审核条件", "每行一条，由人工判断"),
        ("属性", "、".join(ATTRIBUTE_WORDS.values())),
        ("比较", "、".join(OPERATOR_WORDS.values())),
    ]
    help_sheet.append(["项目", "填写方法"])
    for cell in help_sheet[1]:
        cell.font = bold
    for line in lines:
        help_sheet.append(list(line))
    for attribute, word in ATTRIBUTE_WORDS.items():
        allowed = "、".join(OPERATOR_WORDS[o] for o in ATTRIBUTES[attribute].operators)
        help_sheet.append([word, f"可用比较：{allowed}"])
    help_sheet.column_dimensions["A"].width = 20
    help_sheet.column_dimensions["B"].width = 90
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out
