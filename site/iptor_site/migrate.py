"""``flask db``: schema migrations through Alembic, on the app's own engine."""

from __future__ import annotations

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .config import PROJECT_ROOT
from .extensions import db

group = AppGroup("db", help="Create and migrate the database schema.")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def upgrade(revision: str = "head") -> None:
    """Bring the current app's database to ``revision``."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    upgrade(revision)
    click.echo(f"database at {revision} ({current_app.config['DATABASE_URL'].split('@')[-1]})")


@group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def revision_command(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
