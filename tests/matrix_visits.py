"""Permission matrix rows for the visits pages, merged into tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.
"""

from datetime import timedelta

from tests.matrix_roles import only

# The ledger and a visit's page: its street, the office, the leader of a linked firm and a
# department that took part (the world's home visit had the department user's department).
VISIT_VIEWERS = ("office", "street", "commissioner", "department", "leader")
VISIT_LOGGERS = ("office", "street", "commissioner")

ROWS: dict = {
    ("visits.index", "GET"): only(*VISIT_VIEWERS),
    ("visits.export", "GET"): only(*VISIT_VIEWERS),
    # Without a firm: the firm picker; an empty post names no firm (422).
    ("visits.new", "GET"): only(*VISIT_LOGGERS),
    ("visits.new", "POST"): only(*VISIT_LOGGERS, ok=422),
    ("visits.detail", "GET"): only(*VISIT_VIEWERS),
    # The world's commissioner recorded the home visit; an empty post lacks the date (422).
    ("visits.edit", "GET"): only(*VISIT_LOGGERS),
    ("visits.edit", "POST"): only(*VISIT_LOGGERS, ok=422),
    # The cadence is the office's; the overdue list is scoped like the firm list.
    ("cadence.index", "GET"): only("office"),
    ("cadence.index", "POST"): only("office", ok=422),
    ("cadence.overdue", "GET"): only("office", "street", "commissioner", "leader"),
}
OBJECT_ROUTES: tuple = ("visits.detail", "visits.edit")


def objects(firm, users, department) -> dict:
    """One visit to ``firm`` yesterday, with someone of ``department`` along."""
    from crm.visits.services import log_visit
    from crm.workcal.services import today

    home = firm.street_id == users["commissioner"].street_id
    visit = log_visit(
        firm,
        actor=users["commissioner"] if home else users["office"],
        visited_on=today() - timedelta(days=1),
        method="on_site",
        summary="走访了解企业经营情况。",
        participants=[
            {
                "name": "部门联络员",
                "unit": department.name,
                "level": "department",
                "department_id": department.id,
            }
        ],
    )
    return {"visit_id": visit.id}
