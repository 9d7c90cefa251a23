"""The privacy policy: complete in every locale, versioned, with live links and addresses."""

import re

import pytest

from iptor_site.core.locales import LOCALES
from iptor_site.core.settings import PROJECT_ROOT
from iptor_site.legal.documents import LegalLibrary

LIBRARY = LegalLibrary(PROJECT_ROOT / "legal")
EMAILS = {"marketing": "m@x.test", "privacy": "p@x.test", "contact": "c@x.test", "authority": "a@x.test"}


def render(locale, library=LIBRARY):
    return library.render("privacy", locale, emails=EMAILS, inquiry_url=f"/{locale}/privacy/inquiry")


def structure(locale):
    return [(h.level, h.anchor) for h in render(locale).headings]


def test_every_locale_has_the_current_version():
    current = LIBRARY.current_version("privacy")
    assert current == "2023-01"
    assert LIBRARY.locales("privacy", current) == set(LOCALES)


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_translations_have_the_same_sections_and_anchors(locale):
    english = structure("en")
    assert len(english) > 30
    assert structure(locale) == english


@pytest.mark.parametrize("locale", LOCALES)
def test_anchors_are_unique_and_stable(locale):
    anchors = [anchor for _, anchor in structure(locale)]
    assert len(anchors) == len(set(anchors))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", a) for a in anchors)


def paragraphs(locale):
    html = str(render(locale).html)
    return [re.sub(r"<[^>]+>", "", p).strip() for p in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", html, re.S)]


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_translation_is_complete_and_not_english(locale):
    english, translated = paragraphs("en"), paragraphs(locale)
    assert len(translated) == len(english)
    # Only the postal address lines may read the same in every language.
    same = [p for p in translated if p in english and "Stockholm" not in p]
    assert same == []
    english_words = {"the", "and", "your", "with", "which", "policy", "information"}
    for text in translated:
        words = set(re.findall(r"[a-z]+", text.lower()))
        assert len(words & english_words) <= 1, text


GLOSSARY = {
    "nl": ["persoonsgegevens", "AVG", "verwerkingsverantwoordelijke", "verwerker", "toestemming", "gerechtvaardigd belang", "toezichthoudende autoriteit"],
    "fr": ["données à caractère personnel", "RGPD", "responsable du traitement", "sous-traitant", "consentement", "intérêt légitime", "autorité de contrôle"],
    "de": ["personenbezogene Daten", "DSGVO", "Verantwortliche", "Auftragsverarbeiter", "Einwilligung", "berechtigtes Interesse", "Aufsichtsbehörde"],
}


@pytest.mark.parametrize("locale", GLOSSARY)
def test_translation_uses_the_official_gdpr_terms(locale):
    text = " ".join(paragraphs(locale))
    for term in GLOSSARY[locale]:
        assert term in text, term


@pytest.mark.parametrize("locale", LOCALES)
def test_known_defects_of_the_source_are_fixed(locale):
    source = (PROJECT_ROOT / "legal/privacy/2023-01" / f"{locale}.md").read_text("utf-8")
    for defect in ["email protected", "thirty party", "25 Street", " UE ", "\nmunications", "by in the manner", "SUPPORT LOGIN", "Additional Policies"]:
        assert defect not in source


@pytest.mark.parametrize("locale", LOCALES)
def test_page_shows_policy_version_toc_links_and_addresses(make_app, locale):
    app = make_app(
        EMAIL_MARKETING_OPTOUT="optout@iptor.test",
        EMAIL_PRIVACY="dpo@iptor.test",
        EMAIL_CONTACT="hello@iptor.test",
        EMAIL_SUPERVISORY_AUTHORITY="authority@imy.test",
    )
    html = app.test_client().get(f"/{locale}/privacy").text
    updated = {"en": "Last updated: January 2023", "nl": "januari 2023", "fr": "janvier 2023", "de": "Januar 2023"}
    assert updated[locale] in html
    # Table of contents: one link per top-level section, each to an existing anchor.
    toc = re.search(r'<nav class="toc".*?</nav>', html, re.S).group(0)
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert targets == [h.anchor for h in render(locale).toc]
    for anchor in targets:
        assert f'id="{anchor}"' in html
    # Every "inquiry form" is a link to the inquiry form, with the request type when known.
    inquiry_links = re.findall(rf'href="/{locale}/privacy/inquiry(\?type=[a-z0-9-]+)?"', html)
    assert sorted(inquiry_links) == sorted(
        ["", "?type=erasure", "?type=marketing-opt-out", "?type=marketing-opt-out", "?type=sb27", "?type=rectification", "?type=complaint"]
        + [""]  # the footer link
    )
    # Contact addresses come from the settings.
    for address in ("optout@iptor.test", "dpo@iptor.test", "hello@iptor.test", "authority@imy.test"):
        assert f'<a href="mailto:{address}">{address}</a>' in html
    assert "[[email" not in html and "inquiry:" not in html


def test_inquiry_form_links_resolve(client):
    html = client.get("/fr/privacy").text
    for href in set(re.findall(r'href="(/fr/privacy/inquiry[^"]*)"', html)):
        assert client.get(href.replace("&amp;", "&")).status_code == 200


def test_locale_missing_the_current_version_redirects_to_one_that_has_it(make_app, legal_copy):
    newer = legal_copy / "privacy" / "2024-06"
    newer.mkdir()
    for locale in ("en", "fr"):
        text = (legal_copy / "privacy/2023-01" / f"{locale}.md").read_text("utf-8")
        (newer / f"{locale}.md").write_text(text, "utf-8")
    client = make_app(LEGAL_DIR=str(legal_copy)).test_client()

    response = client.get("/de/privacy", headers={"Accept-Language": "de-DE, fr;q=0.8"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/fr/privacy"
    assert "Accept-Language" in response.vary

    response = client.get("/nl/privacy", headers={"Accept-Language": "nl"})
    assert response.headers["Location"] == "/en/privacy"

    html = client.get("/fr/privacy").text
    assert "juin 2024" in html
    hreflangs = re.findall(r'<link rel="alternate" hreflang="([^"]+)"', html)
    assert hreflangs == ["en", "fr", "x-default"]
    switcher = re.search(r'<nav class="lang-switcher".*?</nav>', html, re.S).group(0)
    assert re.findall(r'\slang="([a-z]+)"', switcher) == ["en", "fr"]
    sitemap = client.get("/sitemap.xml").text
    assert "http://localhost/de/privacy" not in sitemap
    assert "http://localhost/fr/privacy" in sitemap


def test_policy_without_a_title_is_refused(legal_copy):
    (legal_copy / "privacy/2023-01/en.md").write_text("## Only a section {#x}\n\nText.\n", "utf-8")
    with pytest.raises(ValueError, match="title"):
        render("en", LegalLibrary(legal_copy))
