"""What the API tests share: a world with two firms in two streets, a user of every role,
a demand in progress for each firm, and bearer tokens got through the API itself.

No tests here; the API test modules build their fixtures from ``build_world``.
"""

from crm.auth.models import ROLES
from tests.conftest import PASSWORD
from tests.test_permission_matrix import _demand_in_progress, _portal_objects

ANON = "anon"
EVERYONE = (ANON, *ROLES)
API = "/api/v1"


def get_token(client, username: str, password: str = PASSWORD) -> str:
    response = client.post(f"{API}/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


class Caller:
    """A client speaking for one user: ``caller.get("/demands")``, paths under /api/v1."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _open(self, method: str, path: str, **kwargs):
        headers = {**bearer(self.token), **kwargs.pop("headers", {})}
        response = self.client.open(f"{API}{path}", method=method, headers=headers, **kwargs)
        response.get_data()
        response.close()
        return response

    def get(self, path: str, **kwargs):
        return self._open("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self._open("POST", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self._open("DELETE", path, **kwargs)


def build_world(make_street, make_department, make_firm, make_user, make_contact, assign) -> dict:
    """Firm A in the home street, with every role linked to it, and firm B in another street
    with its own firm user, street centre and department."""
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    leader = make_user("leader", username="leader")
    firm = make_firm(name="上海华阳示例科技有限公司", street=home, leader_id=leader.id)
    other = make_firm(name="上海新泾另一家贸易有限公司", street=away)
    users = {
        "admin": make_user("admin", username="admin"),
        "office": make_user("office", username="office"),
        "street": make_user("street", username="street", street=home),
        "commissioner": make_user(
            "commissioner", username="commissioner", street=home, phone="13600001111"
        ),
        "department": make_user("department", username="department"),
        "leader": leader,
        "firm": make_user("firm", username="firm", firm=firm),
    }
    others = {
        "firm": make_user("firm", username="other-firm", firm=other),
        "street": make_user("street", username="other-street", street=away),
        "department": make_user("department", username="other-department"),
    }
    assign(firm, users["commissioner"], "primary")
    contact = make_contact(firm, phone="13812345678")
    other_contact = make_contact(other, name="李娜", phone="13998765432")
    demand = _demand_in_progress(firm, users["office"], users["department"])
    other_demand = _demand_in_progress(other, users["office"], others["department"])
    portal = _portal_objects(firm, users["firm"], users["office"], "home")
    other_portal = _portal_objects(other, others["firm"], users["office"], "away")
    return {
        "users": users,
        "others": others,
        "home": home,
        "away": away,
        "firm": firm,
        "other": other,
        "ids": {"firm_id": firm.id, "contact_id": contact.id, **demand, **portal},
        "other_ids": {
            "firm_id": other.id,
            "contact_id": other_contact.id,
            **other_demand,
            **other_portal,
        },
        "other_secrets": (other.name, "13998765432", "李娜"),
    }


def callers(client, world) -> dict[str, Caller]:
    """A caller per role (and ``anon`` without a token)."""
    found = {ANON: Caller(client, None)}
    for role, user in world["users"].items():
        found[role] = Caller(client, get_token(client, user.username))
    return found
