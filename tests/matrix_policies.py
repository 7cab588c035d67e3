"""Permission matrix rows for the policies pages, merged into tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.

The catalog is the district's, not a street's: a policy has no street, so no route here
is an object another street's user must be refused. The candidate list is scoped instead:
tests/test_policy_candidates.py checks that a street sees only its own firms there.
"""

from tests.matrix_roles import only

MANAGERS = ("office",)
READERS = ("office", "street", "commissioner", "leader")
CANDIDATE_VIEWERS = ("office", "street", "commissioner")

ROWS: dict = {
    ("policies.index", "GET"): only(*READERS),
    ("policies.detail", "GET"): only(*READERS),
    ("policies.new", "GET"): only(*MANAGERS),
    ("policies.new", "POST"): only(*MANAGERS, ok=422),  # the title and dates are required
    ("policies.edit", "GET"): only(*MANAGERS),
    # An edit must say which version it was made on: an empty post is refused.
    ("policies.edit", "POST"): only(*MANAGERS, ok=422),
    ("policies.retire", "POST"): only(*MANAGERS, ok=422),  # the reason is required
    # The world's policy is in force: nothing to reinstate, said on the policy's page.
    ("policies.reinstate", "POST"): only(*MANAGERS, ok=302),
    ("policies.preview", "POST"): only(*MANAGERS),  # no rows: the number of firms alone
    ("policies.attach", "POST"): only(*MANAGERS, ok=422),  # no file chosen
    ("policies.attachment", "GET"): only(*READERS),
    ("policies.attachment_delete", "POST"): only(*MANAGERS, ok=302),
    ("policies.import_policies", "GET"): only(*MANAGERS),
    ("policies.import_policies", "POST"): only(*MANAGERS, ok=422),  # no file chosen
    ("policies.import_template", "GET"): only(*MANAGERS),
    ("policies.candidates", "GET"): only(*CANDIDATE_VIEWERS),
    ("policies.candidates_export", "GET"): only(*CANDIDATE_VIEWERS),
}

OBJECT_ROUTES: tuple = ()


def objects(firm, users, department) -> dict:
    """A policy in force for small firms of ``firm``'s street, with one file."""
    from datetime import date

    from crm.demands.attachments import Upload
    from crm.policies import catalog

    policy = catalog.create_policy(
        {
            "title": f"小微企业稳岗补贴{firm.id}",
            "doc_number": f"测人社〔2026〕{firm.id}号",
            "effective_from": date(2026, 1, 1),
            "kind": "universal",
        },
        [("street", "eq", firm.street_id), ("size", "in", ["small", "micro"])],
        actor=users["office"],
    )
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    (file,) = catalog.store_attachments(
        policy, [Upload("申报指南.pdf", "application/pdf", pdf)], actor=users["office"]
    )
    return {"policy_id": policy.id, "file_id": file.id}
