"""Bearer tokens: issued under the login page's rules, refused when expired, revoked or
their user disabled; a browser's cookie never authorises the API; errors in one shape."""

from datetime import timedelta

from sqlalchemy import select

from crm.api.models import ApiToken
from crm.audit.models import AuditLog
from crm.auth.services import set_active, set_password
from crm.extensions import db
from crm.timeutil import utcnow
from tests.conftest import PASSWORD, login
from tests.test_api_world import API, Caller, bearer, get_token


def _token_row(raw: str) -> ApiToken:
    from crm.api.tokens import token_hash

    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))


def test_a_token_is_issued_for_good_credentials_and_opens_the_api(client, make_user):
    user = make_user("office")
    response = client.post(
        f"{API}/auth/token", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["user"]["role"] == "office" and body["user"]["username"] == user.username
    assert body["expires_at"].endswith("Z")
    assert "Set-Cookie" not in response.headers
    assert Caller(client, body["token"]).get("/demands").status_code == 200
    assert _token_row(body["token"]).user_id == user.id


def test_wrong_credentials_are_refused_and_recorded(client, make_user):
    user = make_user("firm")
    response = client.post(f"{API}/auth/token", json={"username": user.username, "password": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"
    failures = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "login", AuditLog.result == "failure")
    ).all()
    assert [f.user_id for f in failures] == [user.id]


def test_five_wrong_passwords_lock_the_account_for_the_api_too(client, make_user):
    user = make_user("firm")
    for _ in range(5):
        client.post(f"{API}/auth/token", json={"username": user.username, "password": "nope"})
    response = client.post(
        f"{API}/auth/token", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "locked"


def test_a_lockout_from_the_login_page_also_blocks_new_tokens(client, make_user):
    user = make_user("commissioner")
    for _ in range(5):
        login(client, user.username, "wrong-password")
    response = client.post(
        f"{API}/auth/token", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "locked"


def test_an_expired_token_is_refused(client, make_user):
    user = make_user("office")
    raw = get_token(client, user.username)
    _token_row(raw).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = Caller(client, raw).get("/demands")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused_and_others_keep_working(client, make_user):
    user = make_user("office")
    first, second = get_token(client, user.username), get_token(client, user.username)
    assert Caller(client, first).delete("/auth/token").status_code == 204
    assert Caller(client, first).get("/demands").status_code == 401
    assert Caller(client, second).get("/demands").status_code == 200
    assert _token_row(first).revoked_at is not None


def test_disabling_a_user_or_changing_the_password_ends_its_tokens(client, make_user):
    admin = make_user("admin")
    disabled, changed = make_user("firm"), make_user("street")
    raw_disabled = get_token(client, disabled.username)
    raw_changed = get_token(client, changed.username)
    set_active(disabled, False, actor=admin)
    set_password(changed, "Another-Pass-2026", actor=admin)
    db.session.commit()
    assert Caller(client, raw_disabled).get("/demands").status_code == 401
    assert Caller(client, raw_changed).get("/demands").status_code == 401
    response = client.post(
        f"{API}/auth/token", json={"username": disabled.username, "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "disabled"


def test_a_login_cookie_does_not_authorise_the_api_nor_is_refreshed(client, make_user):
    user = make_user("office")
    assert login(client, user.username).status_code == 302
    assert client.get("/demands/").status_code == 200  # the pages: logged in
    response = client.get(f"{API}/demands")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "Set-Cookie" not in response.headers
    # With a token as well, the token decides and the cookie is left alone.
    raw = get_token(client, user.username)
    response = client.get(f"{API}/demands", headers=bearer(raw))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert client.get("/demands/").status_code == 200  # and the browser is still logged in


def test_posts_need_no_csrf_token_but_a_bearer_token(client, make_user, make_demand):
    user = make_user("office")
    demand = make_demand()
    assert login(client, user.username).status_code == 302
    path = f"{API}/demands/{demand.id}/actions"
    refused = client.post(path, json={"action": "accept"})
    assert refused.status_code == 401
    accepted = client.post(
        path, json={"action": "accept"}, headers=bearer(get_token(client, user.username))
    )
    assert accepted.status_code == 200
    assert accepted.get_json()["state"] == "accepted"


def test_malformed_authorization_headers_are_refused(client, make_user):
    make_user("office", username="someone")
    for header in ("Basic b2ZmaWNlOng=", "Bearer", "Bearer " + "x" * 300, "Token abc"):
        response = client.get(f"{API}/demands", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["error"]["code"] in ("invalid_token", "unauthorized")


def test_errors_are_json_in_the_requests_language_and_pages_stay_html(client, make_user):
    raw = get_token(client, make_user("office").username)
    missing = client.get(f"{API}/no-such-thing", headers=bearer(raw))
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert missing.get_json()["error"]["message"] == "页面或记录不存在。"
    english = client.get(f"{API}/demands/999999?lang=en", headers=bearer(raw))
    assert english.status_code == 404
    assert english.get_json()["error"]["message"] == "The page or record was not found."
    wrong_method = client.put(f"{API}/demands", headers=bearer(raw))
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"]["code"] == "method_not_allowed"
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_the_openapi_document_is_public_and_describes_every_route(client, app):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    routes = {
        (rule.rule.removeprefix(API).replace("<int:", "{").replace(">", "}"), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert described == routes
    action = spec["components"]["schemas"]["ActionRequest"]
    assert set(action["discriminator"]["mapping"]) >= {"accept", "dispatch", "rate", "message"}
    secured = spec["paths"]["/demands"]["post"]
    assert secured["security"] == [{"bearer": []}]
    assert {"201", "200", "401", "403", "422"} <= set(secured["responses"])


def test_no_api_write_is_authorised_by_a_login_cookie(app, client, make_user):
    """The API is exempt from CSRF because a cookie never authorises it: every write,
    sent with a logged-in browser's cookie and no bearer token, is refused with 401."""
    assert login(client, make_user("office").username).status_code == 302
    adapter = app.url_map.bind("localhost")
    refused = {}
    for rule in app.url_map.iter_rules():
        writes = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if (
            not rule.endpoint.startswith("api.")
            or not writes
            or rule.endpoint == "api.token_create"
        ):
            continue
        url = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1))
        for method in writes:
            refused[f"{method} {url}"] = client.open(url, method=method, json={}).status_code
    assert refused and set(refused.values()) == {401}, refused


def test_an_unexpected_failure_is_a_json_500_that_tells_nothing(
    app, client, make_user, monkeypatch
):
    from crm.api import demand_views

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(demand_views, "page_of", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    raw = get_token(client, make_user("office").username)
    response = client.get(f"{API}/demands", headers=bearer(raw))
    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "server_error"
    assert "secret" not in response.get_data(as_text=True)
