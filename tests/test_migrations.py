"""The migrations build the whole schema the models describe (``flask db check`` is clean)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_flask_db_check_reports_no_changes(runner):
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
