"""The Iptor multiflex Base Module website."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from .config import PROJECT_ROOT, check_settings, derive_key, load_settings


def create_app(test_config: dict | None = None) -> Flask:
    """Build and configure the application.

    ``test_config`` overrides the settings read from the environment.
    """
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(load_settings(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    check_settings(app.config)
    if not app.config["SUPPRESSION_KEY"]:
        app.config["SUPPRESSION_KEY"] = derive_key(app.config["SECRET_KEY"], "suppression")
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    from . import (
        admin_cli,
        cli,
        consent_cli,
        cookieconsent,
        errors,
        i18n,
        legal,
        mail,
        migrate,
        performance,
        rendering,
        requestlog,
        rights_cli,
        security,
        validation,
    )
    from .extensions import babel, csrf, db, limiter

    # After-request hooks run in reverse order: the log line sees the response as sent,
    # compressed or turned into a 304 by the hook before it.
    requestlog.init_app(app)
    performance.init_app(app)
    validation.init_app(app)  # before any hook that parses the form: it reads the raw body
    security.init_app(app)
    cookieconsent.init_app(app)
    i18n.init_app(app)
    babel.init_app(app, locale_selector=i18n.current_locale)
    csrf.init_app(app)
    db.init_app(app)
    from .ratelimits import reads_are_free

    limiter.init_app(app)
    limiter.request_filter(reads_are_free)
    app.extensions["legal"] = legal.LegalLibrary(app.config["LEGAL_DIR"])
    rendering.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    migrate.init_app(app)
    mail.init_app(app)
    rights_cli.init_app(app)
    admin_cli.init_app(app)
    consent_cli.init_app(app)

    from .demo import manage_views as demo_manage_views
    from .views import admin, cookies, forms, health, pages, privacy_requests

    app.register_blueprint(pages.bp)
    app.register_blueprint(pages.negotiation)
    app.register_blueprint(forms.bp)
    app.register_blueprint(demo_manage_views.bp)
    app.register_blueprint(privacy_requests.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(cookies.bp)
    app.register_blueprint(admin.bp)
    return app
