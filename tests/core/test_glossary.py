"""The glossary (translations/GLOSSARY.csv): fixed terms per language, forbidden ones refused.

Every catalog string and every line of every legal document is checked against the
glossary's forbidden patterns for its language: a translator or reviewer who brings back
"Sperrung", "aanvraagformulier" for the privacy form or "désabonner" fails the suite.
"""

import csv
import re

import pytest
from babel.messages.pofile import read_po

from iptor_site.core.locales import DEFAULT_LOCALE, LOCALES
from iptor_site.core.settings import PROJECT_ROOT

GLOSSARY = PROJECT_ROOT / "translations" / "GLOSSARY.csv"
COLUMNS = ["concept", *LOCALES, *(f"forbidden_{loc}" for loc in LOCALES), "note"]
TRANSLATED = [loc for loc in LOCALES if loc != DEFAULT_LOCALE]
INQUIRY_LINK = re.compile(r"\[([^\]]+)\]\(inquiry:[a-z0-9-]*\)")


def glossary():
    with GLOSSARY.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def term(concept, locale):
    return next(row[locale] for row in glossary() if row["concept"] == concept)


def catalog(locale):
    with (PROJECT_ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def strings(value):
    return list(value) if isinstance(value, tuple) else [value]


def legal_documents(locale):
    return sorted((PROJECT_ROOT / "legal").glob(f"*/*/{locale}.md"))


def texts(locale):
    """(where, text) for every unit of text a visitor can read in this language.

    A catalog string is one unit (so `^…$` in a pattern means the whole string); a legal
    document is checked line by line. English is the msgids and the English documents.
    """
    if locale == DEFAULT_LOCALE:
        for message in catalog(TRANSLATED[0]):
            for text in strings(message.id) if message.id else []:
                yield "msgid", text
    else:
        for message in catalog(locale):
            for text in strings(message.string) if message.id else []:
                yield f"{locale} msgstr for {strings(message.id)[0]!r}", text
    for path in legal_documents(locale):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            yield f"{path.relative_to(PROJECT_ROOT)}:{number}", line


def test_glossary_is_complete_and_its_patterns_compile():
    rows = glossary()
    concepts = [row["concept"] for row in rows]
    assert len(concepts) == len(set(concepts))
    for row in rows:
        assert all(row[loc].strip() for loc in LOCALES), row["concept"]
        for loc in LOCALES:
            if row[f"forbidden_{loc}"]:
                re.compile(row[f"forbidden_{loc}"])
    # The terms the review of issue 15 settled are there.
    for concept in ("product", "privacy form", "privacy request", "restriction of processing",
                    "right to erasure", "right of access", "postal address"):
        assert concept in concepts


@pytest.mark.parametrize("locale", LOCALES)
def test_no_catalog_string_or_legal_document_uses_a_forbidden_term(locale):
    assert legal_documents(locale)
    patterns = [
        (row["concept"], re.compile(row[f"forbidden_{locale}"], re.IGNORECASE))
        for row in glossary() if row[f"forbidden_{locale}"]
    ]
    found = [
        (concept, where, match.group(0))
        for where, text in texts(locale)
        for concept, pattern in patterns
        for match in [pattern.search(text)] if match
    ]
    assert found == []


@pytest.mark.parametrize("locale", LOCALES)
def test_the_policy_names_the_privacy_form_by_its_glossary_term(locale):
    name = term("privacy form", locale)
    for path in legal_documents(locale):
        links = INQUIRY_LINK.findall(path.read_text("utf-8"))
        assert links, path
        assert set(links) == {name}, path


@pytest.mark.parametrize("locale", TRANSLATED)
def test_pages_and_mails_call_the_privacy_request_by_its_glossary_term(locale):
    by_id = {m.id: m.string for m in catalog(locale) if m.id}
    request = term("privacy request", locale).lower()
    named = [
        "Privacy inquiry",
        "Confirm your privacy request",
        "Please confirm your privacy request",
        "Send a new privacy request",
        "We have completed your privacy request number %(number)s.",
        "We cannot grant your privacy request number %(number)s, for the following reason:",
        "Your privacy request has been completed",
    ]
    for msgid in named:
        assert request in by_id[msgid].lower(), (msgid, by_id[msgid])


def test_forbidden_patterns_catch_what_the_review_found():
    """The patterns match the defects the reviewers quoted (so a typo in one cannot pass silently)."""
    rows = {row["concept"]: row for row in glossary()}
    quoted = [
        ("restriction of processing", "de", "deren Berichtigung, Aktualisierung, Sperrung oder sonstige Änderung"),
        ("restriction of processing", "nl", "bij te werken, af te schermen of anderszins te wijzigen"),
        ("restriction of processing", "fr", "rectifier, mettre à jour, supprimer ou modifier"),
        ("privacy form", "nl", "vul dan ons [aanvraagformulier](inquiry:marketing-opt-out) in"),
        ("privacy form", "fr", "veuillez remplir notre [formulaire de demande](inquiry:sb27)"),
        ("privacy form", "de", "füllen Sie bitte unser [Anfrageformular](inquiry:erasure) aus"),
        ("privacy request", "fr", "Demande relative à la protection des données"),
        ("privacy request", "fr", "Confirmez votre demande relative à vos données"),
        ("unsubscribe", "fr", "Je peux me désabonner à tout moment."),
        ("book a demo", "nl", "Gratis demo aanvragen"),
        ("demo", "de", "Ihre Iptor multiflex Demo wurde abgesagt"),
        ("postal address", "en", "Iptor Sweden AB, PO Box 160, SE-101 23 Stockholm, Sweden"),
        ("request number", "fr", "votre demande relative à vos données (numéro %(number)s), comme"),
        ("contact records", "nl", "Contactgegevens"),
        ("we (formal)", "nl", "We konden de door u gevraagde pagina niet vinden."),
    ]
    for concept, locale, text in quoted:
        assert re.search(rows[concept][f"forbidden_{locale}"], text, re.IGNORECASE), (concept, text)
    # …and leave the settled terms alone.
    for concept in ("privacy form", "privacy request"):
        for locale in LOCALES:
            pattern = rows[concept][f"forbidden_{locale}"]
            assert not pattern or not re.search(pattern, rows[concept][locale], re.IGNORECASE)
    assert not re.search(rows["contact records"]["forbidden_nl"], "uw contactgegevens door te geven", re.I)
