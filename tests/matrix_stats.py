"""Permission matrix rows for the dashboard, merged into tests/test_permission_matrix.py.

The office, a street's centre and a district leader see figures (crm.stats.scope.VIEWERS),
each within its own scope; no route here names an object, so there is nothing another
street's user must be refused by address: tests/test_stats_pages.py checks that a street's
user editing the address still sees only its street.
"""

from tests.matrix_roles import only

VIEWERS = ("office", "street", "leader")

ROWS: dict = {
    ("stats.dashboard", "GET"): only(*VIEWERS),
    ("stats.rows", "GET"): only(*VIEWERS),  # without arguments: the demands collected
    ("stats.help", "GET"): only(*VIEWERS),
}

OBJECT_ROUTES: tuple = ()


def objects(firm, users, department) -> dict:
    return {}
