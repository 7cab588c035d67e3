"""Permission matrix rows for the bulletins (通报), merged into tests/test_permission_matrix.py.

A bulletin is district-wide and issued by the office: the office files and previews them
(an empty post or preview is refused as a form, 422); the office and the leaders read and
download the filed ones. No route is an object of one street: ``OBJECT_ROUTES`` is empty.
"""

from tests.matrix_roles import only

ISSUERS = ("office",)
READERS = ("office", "leader")

ROWS: dict = {
    ("bulletins.index", "GET"): only(*READERS),
    ("bulletins.generate", "POST"): only(*ISSUERS, ok=422),
    ("bulletins.preview", "GET"): only(*ISSUERS, ok=422),
    ("bulletins.download", "GET"): only(*READERS),
}

OBJECT_ROUTES: tuple = ()


def objects(firm, users, department) -> dict:
    """A filed weekly bulletin (stored as filed, without rendering: the routes are what is
    checked here), one week per firm so the two calls file two periods."""
    from datetime import date, datetime, timedelta

    from crm.extensions import db
    from crm.stats.bulletin_xlsx import workbook_bytes
    from crm.stats.bulletins import build_content, period_of

    start, end = period_of("weekly", date(2025, 1, 6) + timedelta(weeks=firm.id % 40))
    content = build_content("weekly", start, end, datetime(2026, 1, 1))
    from crm.stats.models import Bulletin

    bulletin = Bulletin(
        kind="weekly",
        period_start=start,
        period_end=end,
        as_of=datetime(2026, 1, 1),
        year=content["year"],
        issue=content["issue"],
        title=content["title"],
        content=content,
        pdf=b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        xlsx=workbook_bytes(content),
        created_by_id=users["office"].id,
    )
    db.session.add(bulletin)
    db.session.flush()
    return {"bulletin_id": bulletin.id, "fmt": "pdf"}
