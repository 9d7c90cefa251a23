"""The gettext catalogs: complete, current, consistent and compilable."""

import io
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from iptor_site.config import PROJECT_ROOT
from iptor_site.i18n import DEFAULT_LOCALE, LOCALES

TRANSLATED = [loc for loc in LOCALES if loc != DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalog(locale):
    path = PROJECT_ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def strings(value):
    return list(value) if isinstance(value, tuple) else [value]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> set:
    """The msgids the code and templates use today, freshly extracted."""
    out = Path(tmp_path_factory.mktemp("pot")) / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"), "-k", "_l",
         "--no-location", "-o", str(out), str(PROJECT_ROOT)]
    )
    with out.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_is_complete_and_not_fuzzy(locale):
    cat = catalog(locale)
    assert not cat.fuzzy, "the header is marked fuzzy"
    problems = [
        m.id for m in cat if m.id and (m.fuzzy or not all(strings(m.string)))
    ]
    assert problems == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_covers_every_string_in_use(locale, template):
    ids = {m.id for m in catalog(locale) if m.id}
    assert template - ids == set(), "run `flask translate update` and translate the new strings"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_placeholders_match_their_msgid(locale):
    for message in catalog(locale):
        if not message.id:
            continue
        wanted = sorted(PLACEHOLDER.findall(" ".join(strings(message.id))))
        for text in strings(message.string):
            # A plural form may drop the number ("one user"), never add or rename one.
            found = sorted(PLACEHOLDER.findall(text))
            assert set(found) <= set(wanted) and (found == wanted or message.pluralizable), (
                message.id, text)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_compiles_without_errors(locale):
    cat = catalog(locale)
    assert [(m.id, errors) for m, errors in cat.check()] == []
    buffer = io.BytesIO()
    write_mo(buffer, cat)
    assert len(buffer.getvalue()) > 1000


def test_the_app_uses_the_compiled_catalogs(client):
    assert "Prijzen" in client.get("/nl/pricing").text
    assert "Tarifs" in client.get("/fr/pricing").text
    assert "Preise" in client.get("/de/pricing").text
