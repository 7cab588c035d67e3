"""Display names for the codes assistance cases store (states, events, routes, outcomes)."""

from flask_babel import lazy_gettext as _l

STATES = {"open": _l("Open"), "landed": _l("Landed"), "dropped": _l("Dropped")}
STATE_COLOURS = {"open": "primary", "landed": "success", "dropped": "secondary"}
TALENT_ROUTES = {
    "high_tech": _l("High-tech enterprise, no quota"),
    "points": _l("By points"),
}
REFERRAL_OUTCOMES = {
    "pending": _l("Pending"),
    "granted": _l("Granted"),
    "declined": _l("Declined"),
}
EVENTS = {
    "opened": _l("Opened"),
    "advanced": _l("Moved to the next stage"),
    "moved_back": _l("Moved back a stage"),
    "landed": _l("Landed"),
    "dropped": _l("Dropped"),
    "reopened": _l("Reopened"),
    "registered": _l("The prospect registered as a firm"),
    "edited": _l("Details changed"),
    "departments": _l("Departments involved changed"),
}


def label(table: dict, code: str | None) -> str:
    if code is None or code == "":
        return "—"
    return str(table.get(code, code))
