"""Permission matrix rows for the bulk pages, merged into tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.

Bulk issuance is the office's, and a street's centre's for its own street (DESIGN §2).
The world's issuance is done, with one package and its PDF: it can be downloaded, and
resuming it is refused as a conflict (409). An empty start form is refused (422).
"""

from tests.matrix_roles import only

ISSUERS = ("office", "street")

ROWS: dict = {
    ("bulk_packages.index", "GET"): only(*ISSUERS),
    ("bulk_packages.new", "GET"): only(*ISSUERS),
    ("bulk_packages.new", "POST"): only(*ISSUERS, ok=422),
    ("bulk_packages.detail", "GET"): only(*ISSUERS),
    ("bulk_packages.status", "GET"): only(*ISSUERS),
    ("bulk_packages.resume", "POST"): only(*ISSUERS, ok=409),
    ("bulk_packages.download", "GET"): only(*ISSUERS),
}

OBJECT_ROUTES: tuple = (
    "bulk_packages.detail",
    "bulk_packages.status",
    "bulk_packages.resume",
    "bulk_packages.download",
)


def objects(firm, users, department) -> dict:
    """A finished issuance to ``firm``'s street: its one package and a stand-in PDF."""
    from crm.extensions import db
    from crm.policies.models import BulkIssuance, PackageDocument
    from crm.policies.packages import issue
    from crm.timeutil import utcnow

    now = utcnow()
    bulk = BulkIssuance(
        street_id=firm.street_id,
        as_of=now.date(),
        channel="in_person",
        status="done",
        total=1,
        issued=1,
        rendered=1,
        created_by=users["office"],
        started_at=now,
        progress_at=now,
        finished_at=now,
    )
    db.session.add(bulk)
    db.session.flush()
    package = issue(firm, by=users["office"], on=bulk.as_of, channel="in_person", bulk=bulk)
    db.session.add(PackageDocument(package_id=package.id, pdf=b"%PDF-1.4\n%%EOF\n"))
    db.session.flush()
    return {"bulk_id": bulk.id}
