"""Display names for the demand loop's codes: states, channels, levels, ratings, timeline
event kinds, task states and roles. Pages, exports and notifications all read them here."""

from flask_babel import lazy_gettext as _l

from crm.labels import label

STATES = {
    "submitted": _l("Submitted"),
    "accepted": _l("Accepted"),
    "dispatched": _l("Dispatched"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "withdrawn": _l("Withdrawn"),
    "rejected": _l("Not accepted"),
    "returned": _l("Returned"),
    "reopened": _l("Reopened"),
}
# Bootstrap colours for a state's badge.
STATE_COLOURS = {
    "submitted": "secondary",
    "accepted": "info",
    "dispatched": "primary",
    "in_progress": "primary",
    "resolved": "success",
    "closed": "dark",
    "withdrawn": "light",
    "rejected": "light",
    "returned": "warning",
    "reopened": "warning",
}
CHANNELS = {
    "visit": _l("Visit"),
    "hotline": _l("Hotline 12345"),
    "walk_in": _l("Service centre walk-in"),
    "portal": _l("Portal"),
    "api": _l("Mini-program"),
}
URGENCIES = {"normal": _l("Normal"), "urgent": _l("Urgent")}
LEVELS = {
    1: _l("Level 1: the street's grid solves it"),
    2: _l("Level 2: street coordination"),
    3: _l("Level 3: district departments jointly"),
}
SHORT_LEVELS = {1: _l("Level 1"), 2: _l("Level 2"), 3: _l("Level 3")}
RATINGS = {
    "satisfied": _l("Satisfied"),
    "basically_satisfied": _l("Basically satisfied"),
    "not_satisfied": _l("Not satisfied"),
}
CATEGORY_KINDS = {
    "consultation": _l("Consultation"),
    "general": _l("General"),
    "complex": _l("Complex"),
}
TASK_STATES = {
    "pending": _l("Waiting for acceptance"),
    "accepted": _l("Being handled"),
    "resolved": _l("Resolved"),
    "returned": _l("Returned"),
    "cancelled": _l("Cancelled"),
}
TASK_ROLES = {"lead": _l("Lead unit"), "co": _l("Co-handling unit")}
EXTENSION_STATES = {
    "pending": _l("Waiting for a decision"),
    "approved": _l("Approved"),
    "declined": _l("Declined"),
}
EVENT_KINDS = {
    "submitted": _l("Demand received"),
    "accepted": _l("Accepted"),
    "rejected": _l("Not accepted"),
    "merged": _l("Merged as a duplicate"),
    "duplicate_merged": _l("A duplicate was merged into this demand"),
    "withdrawn": _l("Withdrawn by the firm"),
    "dispatched": _l("Dispatched"),
    "task_accepted": _l("Task accepted"),
    "task_returned": _l("Task returned"),
    "task_resolved": _l("Co-handling task resolved"),
    "progress": _l("Progress note"),
    "extension_requested": _l("Extension requested"),
    "extension_approved": _l("Extension approved"),
    "extension_declined": _l("Extension declined"),
    "paused": _l("Paused, waiting on the firm"),
    "resumed": _l("Resumed"),
    "resolved": _l("Resolved, reply sent to the firm"),
    "rated": _l("Rated by the firm"),
    "closed_unrated": _l("Closed without rating"),
    "follow_up": _l("Follow-up call"),
    "note": _l("Note"),
    "message": _l("Message from the firm"),
    "attachment_added": _l("Attachments added"),
    "due_soon": _l("Due-soon warning"),
    "reminder": _l("Reminder"),
    "supervision": _l("Supervision"),
    "bulletin": _l("Listed in the bulletin"),
}


def event_facts(event) -> list[tuple[str, str]]:
    """The details of a timeline event worth showing, as (label, value) pairs."""
    data = event.data or {}
    facts: list[tuple[str, str]] = []

    def add(text, value) -> None:
        if value not in (None, "", []):
            facts.append((str(text), str(value)))

    if "channel" in data:
        add(_l("Channel"), label(CHANNELS, data["channel"]))
    if "level" in data:
        add(_l("Level"), label(SHORT_LEVELS, data["level"]))
    add(_l("Lead unit"), data.get("lead"))
    add(_l("Co-handling units"), "、".join(data.get("co") or []))
    if "unit" in data and "lead" not in data:
        role = data.get("role")
        add(_l("Unit"), data["unit"] + (f" ({label(TASK_ROLES, role)})" if role else ""))
    if data.get("days") and event.kind.startswith("extension"):
        add(_l("Working days asked for"), data["days"])
    if data.get("due_on"):
        unverified = data.get("due_verified") is False
        add(_l("Due date"), data["due_on"] + (f" ({_l('unverified')})" if unverified else ""))
    add(_l("New due date"), data.get("new_due_on"))
    if data.get("days_added"):
        add(_l("Deadlines moved by (working days)"), data["days_added"])
    if data.get("rating"):
        add(_l("Rating"), label(RATINGS, data["rating"]))
    add(_l("Merged into"), data.get("into_number"))
    add(_l("Files"), "、".join(data.get("files") or []))
    return facts
