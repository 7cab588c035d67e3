"""Permission matrix rows for the prospects pages, merged into tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.

Also the case type editor (the office alone) and the pipeline figures. The type editor's
routes use the migration's first type (工商注册, id 1): its last stage (id 4) has no case,
so an empty post deletes it; template item 1 is its first checklist item.
"""

from tests.matrix_roles import only

WORKERS = ("office", "street", "commissioner")


ROWS: dict = {
    # Case types: the office keeps them (DESIGN §6). Empty posts are refused as forms
    # (422); a delete needs no field.
    ("case_types.index", "GET"): only("office"),
    ("case_types.new", "GET"): only("office"),
    ("case_types.new", "POST"): only("office", ok=422),
    ("case_types.detail", "GET"): only("office"),
    ("case_types.edit", "GET"): only("office"),
    # Fields missing from a post keep their stored values: an empty post saves nothing.
    ("case_types.edit", "POST"): only("office", ok=302),
    ("case_types.stage_add", "POST"): only("office", ok=422),
    ("case_types.stage_rename", "POST"): only("office", ok=422),
    ("case_types.stage_move", "POST"): only("office", ok=422),
    ("case_types.stage_delete", "POST"): only("office", ok=302),
    ("case_types.item_add", "POST"): only("office", ok=422),
    ("case_types.item_edit", "GET"): only("office"),
    ("case_types.item_edit", "POST"): only("office", ok=302),
    ("case_types.item_move", "POST"): only("office", ok=422),
    ("case_types.item_delete", "POST"): only("office", ok=302),
    # Prospects: the office, and a street's centre and commissioners for their street.
    # Fields missing from an edit post keep their stored values: an empty post saves nothing.
    ("prospects.index", "GET"): only(*WORKERS),
    ("prospects.new", "GET"): only(*WORKERS),
    ("prospects.new", "POST"): only(*WORKERS, ok=422),
    ("prospects.detail", "GET"): only(*WORKERS),
    ("prospects.edit", "GET"): only(*WORKERS),
    ("prospects.edit", "POST"): only(*WORKERS, ok=302),
    ("prospects.drop", "POST"): only(*WORKERS, ok=422),
    ("prospects.register", "GET"): only(*WORKERS),
    ("prospects.register", "POST"): only(*WORKERS, ok=422),
    # Figures: the office, a street's people for their street, a leader for its firms.
    ("pipeline.index", "GET"): only(*WORKERS, "leader"),
}

OBJECT_ROUTES: tuple = (
    "prospects.detail",
    "prospects.edit",
    "prospects.drop",
    "prospects.register",
)


def objects(firm, users, department) -> dict:
    """One prospect in ``firm``'s street, and the migration's type 1 for the type editor."""
    from crm.assistance.prospect_services import create_prospect

    home = users["commissioner"].street_id == firm.street_id
    prospect = create_prospect(
        {
            "name": f"待落户项目{firm.id}",
            "street_id": firm.street_id,
            "contact_name": "陈静",
            "contact_phone": "13600002222",
            "source": "招商推介会",
            "owner_id": users["commissioner"].id if home else None,
        },
        actor=users["office"],
    )
    return {
        "prospect_id": prospect.id,
        "case_type_id": 1,
        "stage_id": 4,
        "template_item_id": 1,
    }
