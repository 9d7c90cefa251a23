"""The Iptor multiflex Base Module website."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from iptor_site.backoffice import cli as backoffice_cli
from iptor_site.backoffice import demo_views as backoffice_demo_views
from iptor_site.backoffice import request_views as backoffice_request_views
from iptor_site.backoffice import views as backoffice_views
from iptor_site.consent import cli as consent_cli
from iptor_site.consent import cookie_consent, stamps
from iptor_site.consent import views as consent_views
from iptor_site.core import (
    assets,
    errors,
    health,
    locales,
    migrations,
    ratelimits,
    rendering,
    requestlog,
    security,
    translations,
    validation,
)
from iptor_site.core.extensions import babel, csrf, db, limiter
from iptor_site.core.settings import PROJECT_ROOT, check_settings, derive_key, load_settings
from iptor_site.demo import manage_views as demo_manage_views
from iptor_site.demo import views as demo_views
from iptor_site.legal import documents
from iptor_site.mail import cli as mail_cli
from iptor_site.pages import brand, company
from iptor_site.pages import content as page_content
from iptor_site.pages import views as pages_views
from iptor_site.privacy_requests import cli as privacy_cli
from iptor_site.privacy_requests import erasure
from iptor_site.privacy_requests import views as privacy_views


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

    # After-request hooks run in reverse order: the log line sees the response as sent,
    # compressed or turned into a 304 by the hook before it.
    requestlog.init_app(app)
    assets.init_app(app)
    validation.init_app(app)  # before any hook that parses the form: it reads the raw body
    security.init_app(app)
    cookie_consent.init_app(app)
    locales.init_app(app)
    babel.init_app(app, locale_selector=locales.babel_locale)
    csrf.init_app(app)
    db.init_app(app)
    limiter.init_app(app)
    limiter.request_filter(ratelimits.reads_are_free)
    documents.init_app(app)
    page_content.init_app(app)
    rendering.init_app(app)
    stamps.init_app(app)
    erasure.init_app(app)
    errors.init_app(app)

    for commands in (translations, migrations, mail_cli, privacy_cli, backoffice_cli, consent_cli):
        commands.init_app(app)
    for blueprint in (pages_views.bp, pages_views.negotiation, company.bp, demo_views.bp, demo_manage_views.bp,
                      privacy_views.bp, health.bp, consent_views.bp, backoffice_views.bp, backoffice_demo_views.bp,
                      backoffice_request_views.bp):
        app.register_blueprint(blueprint)
    brand.init_app(app)
    return app
