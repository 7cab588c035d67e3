"""Display names for the policy and package codes, shared by the staff pages, the portal,
the bulk issuance and the exports."""

from flask_babel import lazy_gettext as _l

LEVEL_LABELS = {"city": _l("City"), "district": _l("District")}
KIND_LABELS = {"universal": _l("Universal (普惠)"), "individual": _l("Individual (个性)")}
TOPIC_LABELS = {
    "talent": _l("Talent"),
    "housing": _l("Housing"),
    "project": _l("Project support"),
    "financing": _l("Financing"),
    "technology": _l("Technology and innovation"),
    "tax": _l("Tax and fees"),
    "employment": _l("Employment"),
    "other": _l("Other"),
}
CHANNEL_LABELS = {
    "in_person": _l("Handed over in person"),
    "meeting": _l("At a meeting"),
    "mail": _l("By post"),
    "email": _l("By email"),
    "portal": _l("Through the portal"),
}
