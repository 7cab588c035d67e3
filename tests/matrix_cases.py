"""Permission matrix rows for the cases pages, merged into tests/test_permission_matrix.py.

``ROWS``: (endpoint, method) -> {role: status}, built with ``only``/``same`` from there.
``OBJECT_ROUTES``: endpoints with an object in the address that another street's user
must be refused. ``objects(firm, users, department)`` makes this area's objects for
``firm`` (the world's home firm, then the other street's) and returns their ids under
the names the routes' parameters use.
"""

from tests.matrix_roles import only

# The board and a case's page: its street, the office, a department involved in it (the
# world's home case involves the department user's department) and the leader of a linked
# firm. Only the office and the street change a case; a department involved adds notes.
CASE_VIEWERS = ("office", "street", "commissioner", "department", "leader")
CASE_EDITORS = ("office", "street", "commissioner")

ROWS: dict = {
    ("cases.board", "GET"): only(*CASE_VIEWERS),
    # Without a firm: the firm picker; an empty post names no firm, type or title (422).
    ("cases.new", "GET"): only(*CASE_EDITORS),
    ("cases.new", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.detail", "GET"): only(*CASE_VIEWERS),
    # Empty posts lack the case's version, the tick's value, the note or the fields (422).
    ("cases.advance", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.back", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.land", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.drop", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.reopen", "POST"): only("office", "street", ok=422),
    ("cases.tick", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.note", "POST"): only(*CASE_EDITORS, "department", ok=422),
    ("cases.details", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.set_departments", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.add_referral", "POST"): only(*CASE_EDITORS, ok=422),
    ("cases.update_referral", "POST"): only(*CASE_EDITORS, ok=422),
}
OBJECT_ROUTES: tuple = (
    "cases.detail",
    "cases.advance",
    "cases.back",
    "cases.land",
    "cases.drop",
    "cases.reopen",
    "cases.tick",
    "cases.note",
    "cases.details",
    "cases.set_departments",
    "cases.add_referral",
    "cases.update_referral",
)


def objects(firm, users, department) -> dict:
    """A financing case for ``firm`` with ``department`` involved, owned by a commissioner
    of the firm's street, with one bank referral."""
    from sqlalchemy import select

    from crm.assistance import referrals, services
    from crm.assistance.models import CaseType
    from crm.auth.models import User
    from crm.auth.passwords import hash_password
    from crm.extensions import db

    owner = users["commissioner"]
    if owner.street_id != firm.street_id:
        owner = User(
            username=f"case-owner-{firm.id}",
            display_name="另一街道专员",
            role="commissioner",
            street_id=firm.street_id,
            password_hash=hash_password("Case-Owner-42"),
        )
        db.session.add(owner)
        db.session.flush()
    case = services.open_case(
        case_type=db.session.scalar(select(CaseType).where(CaseType.code == "FIN")),
        actor=users["office"],
        title="流动资金贷款对接",
        owner=owner,
        firm=firm,
        expected_investment=500,
        departments=[department],
    )
    referral = referrals.add_referral(
        case, actor=users["office"], bank="上海农商银行", amount_requested=300
    )
    db.session.commit()
    return {
        "case_id": case.id,
        "checklist_item_id": case.checklist[0].id,
        "referral_id": referral.id,
    }
