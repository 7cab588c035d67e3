"""Permission matrix rows for this area, merged into tests/test_permission_matrix.py."""

ROWS: dict = {}

OBJECT_ROUTES: tuple = ()


def objects(firm, users, department) -> dict:
    return {}
