"""Permission matrix rows for the portal's package pages, merged into
tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.

The portal is the firm's alone: staff see packages on the firm's page instead. The
world's package is not acknowledged yet, so an empty post acknowledges it (the note is
optional) and goes back to the package.
"""

from tests.matrix_roles import only

ROWS: dict = {
    ("portal_packages.packages", "GET"): only("firm"),
    ("portal_packages.package", "GET"): only("firm"),
    ("portal_packages.package_pdf", "GET"): only("firm"),
    ("portal_packages.package_acknowledge", "POST"): only("firm", ok=302),
    ("portal_packages.policies", "GET"): only("firm"),
}

OBJECT_ROUTES: tuple = (
    "portal_packages.package",
    "portal_packages.package_pdf",
    "portal_packages.package_acknowledge",
)


def objects(firm, users, department) -> dict:
    """A package issued to ``firm`` by the office, handed over in person."""
    from datetime import date

    from crm.policies.packages import issue

    package = issue(firm, by=users["office"], on=date(2026, 3, 2), channel="in_person")
    return {"package_id": package.id}
