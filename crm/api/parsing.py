"""Reading requests: JSON bodies and query strings through their pydantic models, with
refusals in the API's error shape; and one page of a list."""

from typing import Any, TypeVar

from flask import request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, func, select

from crm.api.errors import ApiError
from crm.extensions import db

M = TypeVar("M", bound=BaseModel)

# Pydantic's error types, said the way the pages say them.
_MESSAGES = {
    "missing": _l("This field is required."),
    "string_too_short": _l("This field is required."),
    "string_too_long": _l("Too long."),
    "string_type": _l("Give a text."),
    "int_type": _l("Give a whole number."),
    "int_parsing": _l("Give a whole number."),
    "int_from_float": _l("Give a whole number."),
    "bool_type": _l("Give true or false."),
    "bool_parsing": _l("Give true or false."),
    "literal_error": _l("Not a valid choice."),
    "enum": _l("Not a valid choice."),
    "date_type": _l("Give a date as YYYY-MM-DD."),
    "date_parsing": _l("Give a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": _l("Give a date as YYYY-MM-DD."),
    "date_from_datetime_inexact": _l("Give a date as YYYY-MM-DD."),
    "datetime_type": _l("Give a date and time, e.g. 2026-03-31T18:00:00+08:00."),
    "datetime_parsing": _l("Give a date and time, e.g. 2026-03-31T18:00:00+08:00."),
    "datetime_from_date_parsing": _l("Give a date and time, e.g. 2026-03-31T18:00:00+08:00."),
    "greater_than_equal": _l("Out of range."),
    "less_than_equal": _l("Out of range."),
    "too_long": _l("Too many items."),
    "extra_forbidden": _l("Unknown field."),
    "union_tag_invalid": _l("Unknown action."),
    "union_tag_not_found": _l("Unknown action."),
}
_BAD_TEXT = _l("Text may not contain NUL or other invalid characters.")


def check_text(value: Any, path: str = "") -> None:
    """Refuse strings no database stores: NUL (PostgreSQL) and lone surrogates (UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value or _unencodable(value):
            raise ApiError(422, "invalid", fields={path or "body": _BAD_TEXT})
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path or "body")
            check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            check_text(item, f"{path}.{n}" if path else str(n))


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def fields_of(exc: ValidationError, *, tag: str | None = None) -> dict[str, str]:
    """``{field: message}`` from pydantic's errors; ``tag``: a discriminator value that
    pydantic puts first in each location, left out here."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        if tag is not None and loc and loc[0] == tag:
            loc = loc[1:]
        # Pydantic names the union member it tried (e.g. "DepartmentUnit"): not a field.
        loc = [part for part in loc if not part[:1].isupper()]
        name = ".".join(loc) or ("action" if error["type"].startswith("union_tag") else "body")
        message = _MESSAGES.get(error["type"], _l("Not a valid value."))
        fields.setdefault(name, str(message))
    return fields


def json_body(model: type[M]) -> M:
    """The request's JSON body as ``model``; 415, 400 or 422 otherwise."""
    if not request.is_json:
        raise ApiError(415)
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if data is None:
        raise ApiError(400, "bad_json", _l("The body is not valid JSON."))
    check_text(data)
    tag = data.get("action") if isinstance(data, dict) else None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "invalid", fields=fields_of(exc, tag=tag if isinstance(tag, str) else None)
        ) from None


def query_args(model: type[M]) -> M:
    args = request.args.to_dict()
    check_text(args)
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise ApiError(422, "invalid", fields=fields_of(exc)) from None


def page_of(stmt: Select, page: int, per_page: int) -> tuple[list, int]:
    """One page of ``stmt``'s rows and how many there are in all: two statements."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return items, total
