"""``flask db``: schema migrations through Alembic, on the app's own engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import Connection

from iptor_site.core.extensions import db
from iptor_site.core.settings import PROJECT_ROOT

group = AppGroup("db", help="Create and migrate the database schema.")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


@contextmanager
def migrating() -> Iterator[Connection]:
    """One transaction for the migrations, on the current app's engine.

    On SQLite, foreign keys are off while it runs and checked before it commits:
    SQLite changes a table by rebuilding it, and dropping the old table with them on
    would delete (ON DELETE CASCADE) or refuse the rows of every table that refers
    to it. SQLite ignores the pragma inside a transaction, so it is set before.
    """
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver = connection.connection.dbapi_connection if sqlite else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")


def upgrade(revision: str = "head") -> None:
    """Bring the current app's database to ``revision``."""
    config = alembic_config()
    with migrating() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(revision: str) -> None:
    """Take the current app's database back to ``revision``."""
    config = alembic_config()
    with migrating() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


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
