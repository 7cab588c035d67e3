"""GET /healthz: what a load balancer or a monitoring probe asks."""

import pytest

from crm import create_app
from crm.extensions import db
from tests.conftest import _base_config

SECRET = "Not-Shown-Secret-1"
UNREACHABLE = {
    # A file in a folder that does not exist: SQLite cannot open it.
    "sqlite-missing-file": lambda tmp: f"sqlite:///{tmp / 'no-such-folder' / 'crm.sqlite3'}",
    # Port 9 (discard) has no PostgreSQL behind it; the password must not reach the answer.
    "postgresql-closed-port": lambda tmp: f"postgresql+psycopg://crm:{SECRET}@127.0.0.1:9/crm",
}


def test_health_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_needs_no_login_and_answers_the_same_when_logged_in(client, login_as):
    login_as("office")
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}


@pytest.fixture(params=sorted(UNREACHABLE))
def unreachable_app(request, tmp_path):
    app = create_app(_base_config(UNREACHABLE[request.param](tmp_path), tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_health_answers_503_with_the_reason_when_the_database_is_unreachable(unreachable_app):
    response = unreachable_app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.mimetype == "application/json"
    body = response.json
    assert body["status"] == "error"
    assert body["database"] == "unreachable"
    assert body["reason"]
    assert SECRET not in response.get_data(as_text=True)
