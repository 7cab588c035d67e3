"""Permission matrix rows for the portal's package pages (see test_permission_matrix.py).

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.
"""

ROWS: dict = {}
OBJECT_ROUTES: tuple = ()


def objects(firm, users, department) -> dict:
    return {}
