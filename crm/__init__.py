"""Enterprise service-package CRM: the application factory."""

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    from crm.config import load_config

    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    if proxies := app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    from crm import db_setup, extensions, i18n, models  # noqa: F401  (models: the schema)
    from crm.auth import sessions

    extensions.db.init_app(app)
    db_setup.configure_engine_events(app)
    extensions.migrate.init_app(
        app, extensions.db, directory=str(ROOT / "migrations"), render_as_batch=True
    )
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    i18n.init_app(app)
    sessions.init_app(app)

    _register_blueprints(app)

    from crm import errors, templating
    from crm.cli import register_cli
    from crm.demands import mail

    errors.init_app(app)
    templating.init_app(app)
    mail.init_app(app)  # notifications go out by email after each commit
    register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from crm.admin.views import bp as admin_bp
    from crm.api.views import bp as api_bp
    from crm.assistance import pipeline_views, prospect_views, type_views
    from crm.assistance.views import bp as cases_bp
    from crm.audit.views import bp as audit_bp
    from crm.auth.views import bp as auth_bp
    from crm.demands.category_views import bp as categories_bp
    from crm.demands.ledger_views import bp as ledger_bp
    from crm.demands.notification_views import bp as notifications_bp
    from crm.demands.queue_views import bp as tasks_bp
    from crm.demands.views import bp as demands_bp
    from crm.firms.transfer_views import export_bp, import_bp
    from crm.firms.views import bp as firms_bp
    from crm.health import bp as health_bp
    from crm.home import bp as home_bp
    from crm.policies import bulk_views, package_views
    from crm.policies.views import bp as policies_bp
    from crm.portal import package_views as portal_package_views
    from crm.portal import review_views, staff_views
    from crm.portal.signup_views import bp as signup_bp
    from crm.portal.views import bp as portal_bp
    from crm.stats import bulletin_views
    from crm.stats.views import bp as stats_bp
    from crm.visits import cadence_views, myday_views
    from crm.visits.views import bp as visits_bp
    from crm.workcal.views import bp as workcal_bp

    for bp in (
        auth_bp,
        home_bp,
        import_bp,
        export_bp,
        firms_bp,
        demands_bp,
        tasks_bp,
        ledger_bp,
        notifications_bp,
        categories_bp,
        admin_bp,
        audit_bp,
        health_bp,
        workcal_bp,
        portal_bp,
        signup_bp,
        staff_views.service_requests_bp,
        review_views.profile_changes_bp,
        review_views.signups_bp,
        review_views.invitations_bp,
        visits_bp,
        cadence_views.bp,
        myday_views.bp,
        cases_bp,
        type_views.bp,
        prospect_views.bp,
        pipeline_views.bp,
        policies_bp,
        package_views.bp,
        bulk_views.bp,
        portal_package_views.bp,
        stats_bp,
        bulletin_views.bp,
        api_bp,
    ):
        app.register_blueprint(bp)
