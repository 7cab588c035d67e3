"""Display names for the codes stored in the database (roles, sizes, tiers, ...)."""

from flask_babel import lazy_gettext as _l

ROLES = {
    "admin": _l("Administrator"),
    "office": _l("Investment office"),
    "street": _l("Street service centre"),
    "commissioner": _l("Enterprise service commissioner"),
    "department": _l("Department handler"),
    "leader": _l("District leader"),
    "firm": _l("Firm user"),
}
SIZES = {"large": _l("Large"), "medium": _l("Medium"), "small": _l("Small"), "micro": _l("Micro")}
TIERS = {
    "district": _l("District-level key firm"),
    "sector": _l("Sector key firm"),
    "local": _l("Local key firm"),
}
STATUSES = {"prospect": _l("Prospect"), "active": _l("Active"), "moved_out": _l("Moved out")}
REVENUE_BANDS = {
    "<100": _l("Under 1 million yuan"),
    "100-500": _l("1 to 5 million yuan"),
    "500-2000": _l("5 to 20 million yuan"),
    "2000-10000": _l("20 to 100 million yuan"),
    "10000-50000": _l("100 to 500 million yuan"),
    ">=50000": _l("500 million yuan or more"),
}
ASSIGNMENT_ROLES = {"primary": _l("Primary commissioner"), "backup": _l("Backup commissioner")}


def label(table: dict, code: str | None) -> str:
    if code is None or code == "":
        return "—"
    return str(table.get(code, code))
