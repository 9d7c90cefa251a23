"""The landing and pricing copy: per-locale content files, complete, translated, safe and cached by version."""

import csv
import re
import shutil

import pytest
import yaml

from iptor_site.core.assets import content_version
from iptor_site.core.locales import LOCALES
from iptor_site.core.settings import PROJECT_ROOT
from iptor_site.pages.content import PAGES, ContentError, ContentLibrary, problems

CONTENT = PROJECT_ROOT / "content"
TRANSLATED = [loc for loc in LOCALES if loc != "en"]
OPTIONAL = {"logos", "testimonials", "certifications", "screenshot"}
#: The product's name reads the same in Dutch as in English (as in the client's Dutch copy).
SAME_IN_EVERY_LANGUAGE = {"Iptor multiflex Base Module", "multiflex Base Module"}


def load(page, locale, folder=CONTENT):
    return yaml.safe_load((folder / page / f"{locale}.yaml").read_text("utf-8"))


def leaves(data, path=""):
    """(path, value) of every text in a content file, optional sections left out."""
    if isinstance(data, dict):
        return [leaf for key, value in data.items() if key not in OPTIONAL
                for leaf in leaves(value, f"{path}.{key}")]
    if isinstance(data, list):
        return [leaf for n, value in enumerate(data) for leaf in leaves(value, f"{path}[{n}]")]
    return [(path, data)]


@pytest.fixture
def content_copy(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def test_every_page_has_a_file_per_locale_and_nothing_is_wrong_with_them():
    for page in PAGES:
        assert sorted(p.stem for p in (CONTENT / page).glob("*.yaml")) == sorted(LOCALES)
    assert problems(CONTENT) == []


@pytest.mark.parametrize("libyaml", [True, False])
def test_the_library_holds_each_file_as_pyyaml_reads_it_with_or_without_libyaml(monkeypatch, libyaml):
    if libyaml and not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    library = ContentLibrary(CONTENT)
    for page in PAGES:
        for locale in LOCALES:
            assert library.page(page, locale) == load(page, locale)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_locale_has_the_same_sections_and_keys_as_english(page, locale):
    english = [path for path, _ in leaves(load(page, "en"))]
    assert len(english) > 15
    assert [path for path, _ in leaves(load(page, locale))] == english
    assert set(load(page, locale)["proof" if page == "landing" else "meta"]) == set(
        load(page, "en")["proof" if page == "landing" else "meta"])


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("locale", TRANSLATED)
def test_translated_copy_is_complete_and_not_english(page, locale):
    english = dict(leaves(load(page, "en")))
    english_words = {"the", "and", "your", "with", "which", "our", "for", "free", "users", "month"}
    for path, text in leaves(load(page, locale)):
        assert isinstance(text, str) and text.strip(), path
        if path.endswith(".icon"):
            assert text == english[path]
            continue
        if text in SAME_IN_EVERY_LANGUAGE:
            continue
        assert text != english[path], path
        words = set(re.findall(r"[a-z]+", re.sub(r"\{[a-z_]+\}", "", text).lower()))
        assert len(words & english_words) <= 1, (path, text)


def test_french_copy_has_a_no_break_space_before_high_punctuation():
    for page in PAGES:
        for path, text in leaves(load(page, "fr")):
            bare = [m.start() for m in re.finditer(r"[:;?!]", text) if text[m.start() - 1] not in "\u202f\u00a0"]
            assert bare == [], (page, path, text)


def test_the_optional_sections_ship_empty():
    for locale in LOCALES:
        proof = load("landing", locale)["proof"]
        assert {key: proof[key] for key in OPTIONAL} == {"logos": [], "testimonials": [], "certifications": [],
                                                         "screenshot": {}}


@pytest.mark.parametrize("lang", LOCALES)
def test_an_empty_proof_section_renders_nothing(client, lang):
    html = client.get(f"/{lang}/").text
    assert "proof-title" not in html and 'class="section proof"' not in html
    assert "<blockquote" not in html and "<figure" not in html


def test_filled_proof_sections_render_in_their_locale_only(make_app, content_copy):
    path = content_copy / "landing" / "de.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["proof"]["testimonials"] = [{"quote": "Ein Zitat zum Test.", "name": "Erika Muster", "role": "IT-Leiterin"}]
    data["proof"]["certifications"] = [{"name": "Zertifikat T", "text": "Nur ein Test."}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    client = make_app(CONTENT_DIR=str(content_copy)).test_client()
    german = client.get("/de/").text
    assert '<h2 id="proof-title">Kunden und Zertifizierungen</h2>' in german
    assert "<blockquote><p>Ein Zitat zum Test.</p></blockquote>" in german
    assert "<figcaption>Erika Muster, IT-Leiterin</figcaption>" in german
    assert "<strong>Zertifikat T</strong> – Nur ein Test." in german
    assert "proof-title" not in client.get("/en/").text


def test_a_locale_missing_a_key_stops_start_up_naming_file_and_key(make_app, content_copy):
    path = content_copy / "pricing" / "nl.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    del data["faq"]["items"][1]
    data["cta"].pop("button")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ContentError) as refused:
        make_app(CONTENT_DIR=str(content_copy))
    message = str(refused.value)
    assert "pricing/nl.faq.items: expected a list of 3 entries" in message
    assert "pricing/nl.cta: missing keys ['button']" in message


@pytest.mark.parametrize(("text", "complaint"), [
    ("", "expected text"),
    ("Ab {prize} pro Monat", "unknown names ['prize']"),
    ("Ab {price} pro Monat und {months} Monate", "names ['months', 'price'], English names ['price']"),
])
def test_empty_text_and_wrong_placeholders_are_refused(content_copy, text, complaint):
    path = content_copy / "pricing" / "de.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["intro"]["lead"] = text
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert any(complaint in problem and "pricing/de.intro.lead" in problem for problem in problems(content_copy))
    with pytest.raises(ContentError):
        ContentLibrary(content_copy)


def test_yaml_is_read_safely(content_copy, tmp_path):
    marker = tmp_path / "executed"
    (content_copy / "landing" / "fr.yaml").write_text(
        f"meta: !!python/object/apply:os.system ['touch {marker}']\n", "utf-8")
    found = problems(content_copy)
    assert any(p.startswith(str(content_copy / "landing" / "fr.yaml")) for p in found)
    assert not marker.exists()


def test_an_edited_content_file_changes_the_content_version_and_the_page(make_app, content_copy):
    app = make_app(CONTENT_DIR=str(content_copy))
    assert "All your day-to-day business processes in one module" in app.test_client().get("/en/").text
    before = content_version(app)
    path = content_copy / "landing" / "en.yaml"
    path.write_text(path.read_text("utf-8").replace(
        'title: "All your day-to-day business processes in one module"',
        'title: "Every day-to-day business process in one module"'), "utf-8")
    assert content_version(app) != before
    restarted = make_app(CONTENT_DIR=str(content_copy))
    assert restarted.extensions["content_version"] != app.extensions["content_version"]
    assert '<h1 id="hero-title">Every day-to-day business process in one module</h1>' in (
        restarted.test_client().get("/en/").text)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_copy_uses_no_term_the_glossary_forbids(locale):
    with (PROJECT_ROOT / "translations" / "GLOSSARY.csv").open(encoding="utf-8", newline="") as fh:
        patterns = [(row["concept"], re.compile(row[f"forbidden_{locale}"], re.IGNORECASE))
                    for row in csv.DictReader(fh) if row[f"forbidden_{locale}"]]
    assert patterns or locale == "en"
    found = [(page, path, concept, match.group(0))
             for page in PAGES for path, text in leaves(load(page, locale))
             for concept, pattern in patterns for match in [pattern.search(str(text))] if match]
    assert found == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_copy_names_the_privacy_form_and_product_by_their_glossary_terms(locale):
    with (PROJECT_ROOT / "translations" / "GLOSSARY.csv").open(encoding="utf-8", newline="") as fh:
        terms = {row["concept"]: row[locale] for row in csv.DictReader(fh)}
    text = " ".join(str(value) for _, value in leaves(load("landing", locale)))
    assert terms["privacy form"] in text
    assert terms["product"].lower() in text.lower()
