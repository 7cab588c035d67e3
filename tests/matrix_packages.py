"""Permission matrix rows for the packages pages, merged into tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.

Issuing is the office's, and a street's centre and commissioners' for their street's
firms; reading adds the leader for its linked firms (DESIGN §2). Departments, the admin
and firm users have no staff package pages (firms read theirs in the portal).
"""

from tests.matrix_roles import only

ISSUERS = ("office", "street", "commissioner")
READERS = (*ISSUERS, "leader")

ROWS: dict = {
    ("packages.firm_index", "GET"): only(*READERS),
    ("packages.compose", "GET"): only(*ISSUERS),
    # An empty post names no day and no channel: the form comes back refused.
    ("packages.compose", "POST"): only(*ISSUERS, ok=422),
    ("packages.detail", "GET"): only(*READERS),
    ("packages.download", "GET"): only(*READERS),
    # The note is optional: an empty post records the acknowledgement.
    ("packages.acknowledge", "POST"): only(*ISSUERS, ok=302),
}

OBJECT_ROUTES: tuple = (
    "packages.firm_index",
    "packages.compose",
    "packages.detail",
    "packages.download",
    "packages.acknowledge",
)


def objects(firm, users, department) -> dict:
    """A package issued to ``firm`` by the office, with a universal policy in it."""
    from crm.extensions import db
    from crm.policies.models import Policy
    from crm.policies.packages import issue
    from crm.workcal.services import today

    on = today()
    db.session.add(
        Policy(title=f"普惠政策{firm.id}", doc_number="测〔2026〕1号", effective_from=on)
    )
    db.session.flush()
    package = issue(firm, by=users["office"], on=on, channel="in_person")
    return {"package_id": package.id}
