"""What every template can use: permission checks, formatting and the label tables."""

from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal, get_locale

from crm import labels
from crm.auth import permissions
from crm.firms.industries import describe as describe_industry


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        allowed=permissions.allowed,
        get_locale=get_locale,
        can_view_firm=permissions.can_view_firm,
        can_edit_firm=permissions.can_edit_firm,
        can_assign=permissions.can_assign,
        labels=labels,
        describe_industry=describe_industry,
    )
    app.jinja_env.filters["datetime"] = lambda v, fmt="yyyy-MM-dd HH:mm": (
        format_datetime(v, fmt) if v else ""
    )
    app.jinja_env.filters["date"] = lambda v, fmt="yyyy-MM-dd": format_date(v, fmt) if v else ""
    app.jinja_env.filters["mask_phone"] = permissions.mask_phone
    # Amounts (万元) with the locale's digit grouping and no empty decimals: 20,000 / 1,250.5.
    app.jinja_env.filters["amount"] = lambda v: "" if v is None else format_decimal(v, "#,##0.##")
