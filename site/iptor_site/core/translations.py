"""``flask translate``: extract, update and compile the gettext catalogs."""

from __future__ import annotations

import click
from babel.messages.frontend import CommandLineInterface
from flask import Flask
from flask.cli import AppGroup

from iptor_site.core.locales import DEFAULT_LOCALE, LOCALES
from iptor_site.core.settings import PROJECT_ROOT

TRANSLATIONS = PROJECT_ROOT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"

translate = AppGroup("translate", help="Manage the interface translations.")


def pybabel(*args: str) -> None:
    """Run a pybabel command in-process, failing loudly."""
    try:
        CommandLineInterface().run(["pybabel", "-q", *args])
    except SystemExit as exc:  # pybabel exits on errors
        if exc.code:
            raise click.ClickException(f"pybabel {args[0]} failed") from exc


@translate.command()
def extract() -> None:
    """Collect the translatable strings into translations/messages.pot."""
    pybabel(
        "extract",
        "-F", str(PROJECT_ROOT / "babel.cfg"),
        "-k", "_l",
        "--no-location",
        "--sort-output",
        "--project", "iptor-site",
        "-o", str(TEMPLATE),
        str(PROJECT_ROOT),
    )


@translate.command()
def update() -> None:
    """Extract, then merge new strings into every locale's catalog."""
    extract.callback()
    for locale in LOCALES:
        if locale == DEFAULT_LOCALE:
            continue
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        command = "update" if po.exists() else "init"
        pybabel(command, "-i", str(TEMPLATE), "-d", str(TRANSLATIONS), "-l", locale,
                *(["--no-wrap", "--ignore-obsolete"] if command == "update" else ["--no-wrap"]))


@translate.command()
def compile() -> None:  # noqa: A001 - the command's name
    """Build the .mo files the site reads (they are not committed)."""
    pybabel("compile", "--statistics", "-d", str(TRANSLATIONS))


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(translate)
