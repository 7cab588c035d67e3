"""Test fixtures: a migrated database per test, real logins, query counting.

The suite runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` is set.
SQLite: the migrations run once into a template file that every test copies.
PostgreSQL: the migrations run once; every test ends by truncating every table.
"""

import os
import re
import shutil
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from crm import create_app
from crm.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "Tested-Pass-42"


def _normalise(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _base_config(url: str, tmp_path) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast; the policy is what tests check
        "RATELIMIT_ENABLED": False,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SERVER_NAME": None,
    }


def _upgrade(url: str, tmp_path) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """SQLite: a migrated template file. PostgreSQL: the schema, rebuilt from migrations."""
    tmp = tmp_path_factory.mktemp("db")
    if PG_URL:
        url = _normalise(PG_URL)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _upgrade(url, tmp)
        _snapshot_reference_data(url)
        return url
    path = tmp / "template.sqlite3"
    _upgrade(f"sqlite:///{path}", tmp)
    return path


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context and session, as in production.

    The test's own session is committed before and after, so the request sees the data the
    test made and the test sees what the request changed.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.commit()
        db.session.expire_all()
        return response


# Rows the migrations themselves insert (reference data): every test starts with them, as
# it does on SQLite, where each test copies the freshly migrated file.
REFERENCE_TABLES = (
    "demand_categories",
    "visit_cadences",
    "case_types",
    "case_stages",
    "checklist_template_items",
)
_reference_rows: dict[str, list[dict]] = {}


def _snapshot_reference_data(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        for name in REFERENCE_TABLES:
            table = db.metadata.tables[name]
            _reference_rows[name] = [dict(row._mapping) for row in conn.execute(table.select())]
    engine.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [t.name for t in db.metadata.sorted_tables]
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        for name, rows in _reference_rows.items():
            table = db.metadata.tables[name]
            if rows:
                conn.execute(table.insert(), rows)
            if rows and "id" in table.c:
                # Keep the id sequence past the restored ids, as after the migration.
                sequence = f"pg_get_serial_sequence('{name}', 'id')"
                reset = f"SELECT setval({sequence}, (SELECT MAX(id) FROM {name}))"  # noqa: S608
                conn.execute(text(reset))
    engine.dispose()


@pytest.fixture
def database_url(database_template, tmp_path):
    if PG_URL:
        yield database_template
        _truncate_all(database_template)
        return
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(_base_config(database_url, tmp_path))
    app.test_client_class = FreshContextClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def count_queries(app):
    """``with count_queries() as queries: ...``; ``len(queries)`` is the statements run."""

    @contextmanager
    def counting():
        statements: list[str] = []

        def before(conn, cursor, statement, params, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


@pytest.fixture
def login_as(client, make_user):
    """``login_as("office")`` logs a fresh user of that role in through the real form."""

    def _login(role_or_user, **overrides):
        user = (
            make_user(role_or_user, **overrides) if isinstance(role_or_user, str) else role_or_user
        )
        response = login(client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    return _login


def post_form(client, url: str, data: dict, *, form_url: str | None = None):
    """Post ``data`` to ``url`` with the CSRF token from the page at ``form_url``."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, form_url or url)})


pytest_plugins = ["tests.factories"]


def english(client) -> None:
    """Switch the logged-in session to English, so assertions can quote the interface."""
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})
