"""Test fixtures: a migrated database per test, real logins, query counting.

The suite runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` is set.
SQLite: the migrations run once into a template file that every test copies.
PostgreSQL: the migrations run once; every test ends by emptying every table.
Under pytest-xdist (``make test`` runs one worker per core) each worker has a database of
its own: its own SQLite files, or ``<TEST_DATABASE_URL's database>_<worker>`` on PostgreSQL,
created when missing.
"""

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, make_url, text

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from crm import create_app
from crm.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … under pytest-xdist
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
        url = _worker_database(_normalise(PG_URL))
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _upgrade(url, tmp)
        _snapshot_reference_data(url)
        empty = _Emptier(url)
        yield url, empty
        empty.engine.dispose()
        return
    path = tmp / "template.sqlite3"
    _upgrade(f"sqlite:///{path}", tmp)
    yield path


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
    _reference_rows.update(_read_rows(engine, REFERENCE_TABLES))
    engine.dispose()


def _read_rows(engine, names) -> dict[str, list[dict]]:
    """Every row of the tables ``names``, as dicts, by table."""
    with engine.connect() as conn:
        return {
            name: [dict(row._mapping) for row in conn.execute(db.metadata.tables[name].select())]
            for name in names
        }


def _move_sequence(conn, table) -> None:
    """Keep an id sequence past the ids just inserted, as after the migration."""
    if "id" in table.c:
        sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
        conn.execute(text(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table.name}))"))  # noqa: S608


def _worker_database(url: str) -> str:
    """The database this process tests in: TEST_DATABASE_URL's, or a worker's own beside it."""
    if not WORKER:
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{WORKER}")
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


class _Emptier:
    """Empties every table after a test, back to the rows the migrations insert.

    DELETE and restarting the sequences take a few milliseconds in one round trip, where
    TRUNCATE of every table takes a hundred. The deletes run as a replica would
    (``session_replication_role``, which the superuser the tests connect as may set): no
    foreign key or trigger fires, so tables that refer to each other (firms and users) and
    the append-only audit log empty like the rest.
    """

    def __init__(self, url: str):
        self.engine = create_engine(url)
        with self.engine.connect() as conn:
            sequences = conn.scalars(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).all()
        self.delete = "; ".join(
            [f"DELETE FROM {table.name}" for table in db.metadata.sorted_tables]  # noqa: S608
            + [f"ALTER SEQUENCE {name} RESTART" for name in sequences]
        )

    def __call__(self, rows: dict[str, list[dict]] | None = None) -> None:
        """Empty the tables, then insert ``rows`` (default: the migrations' reference rows)."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql(self.delete)
            for name, table_rows in (rows or _reference_rows).items():
                if table_rows:
                    table = db.metadata.tables[name]
                    conn.execute(table.insert(), table_rows)
                    _move_sequence(conn, table)


@pytest.fixture
def database_url(database_template, tmp_path):
    if PG_URL:
        url, empty = database_template
        yield url
        empty()
        return
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def saved_databases(tmp_path_factory):
    """The databases ``built_once`` saved, by test module and name. Session-wide: pytest-xdist
    interleaves modules on a worker, which would tear a module's fixture down and up again."""
    return {"folder": tmp_path_factory.mktemp("saved")}


@pytest.fixture
def built_once(request, app, database_template, database_url, saved_databases):
    """``built_once(name, build)``: run ``build()`` in the first test of a module that asks,
    save the database it made and the plain value it returned (ids, names, never ORM
    objects), and give every later test the same database, restored, and the same value.

    For worlds of many rows that hundreds of parametrised tests start from: restoring takes
    milliseconds where building takes a second. Files the build stored in the upload
    folder are saved and restored with the rows.
    """

    uploads = Path(app.config["UPLOAD_FOLDER"])

    def use(name: str, build):
        name = f"{request.module.__name__}.{name}"
        files = saved_databases["folder"] / f"{name}-uploads"
        if name in saved_databases:
            saved, value = saved_databases[name]
            if files.exists():
                shutil.copytree(files, uploads, dirs_exist_ok=True)
            db.session.remove()
            if PG_URL:
                _url, empty = database_template
                empty(saved)
            else:
                db.engine.dispose()
                _sqlite_copy(saved, _sqlite_path(database_url))
            return value
        value = build()
        db.session.commit()
        if uploads.exists():
            shutil.copytree(uploads, files)
        if PG_URL:
            saved = _read_rows(db.engine, [t.name for t in db.metadata.sorted_tables])
        else:
            db.engine.dispose()
            saved = saved_databases["folder"] / f"{name}.sqlite3"
            _sqlite_copy(_sqlite_path(database_url), saved)
        saved_databases[name] = (saved, value)
        return value

    return use


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _sqlite_copy(source, target) -> None:
    """A consistent copy through SQLite's backup API, whatever its write-ahead log holds."""
    import sqlite3

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


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
