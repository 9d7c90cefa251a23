"""The company-details page (legal notice, Impressum) and the footer that links to it."""

import re

import pytest

from iptor_site import create_app
from iptor_site.core.locales import LOCALES
from iptor_site.core.settings import COMPANY_SETTINGS, ConfigError
from iptor_site.pages.company import LABELS
from pagestates import TRACKING

FULL = {
    "COMPANY_NAME": "Iptor Example GmbH",
    "COMPANY_ADDRESS": "Musterstraße 1; 10115 Berlin\nDeutschland",
    "COMPANY_REPRESENTATIVE": "Erika Mustermann (Geschäftsführerin)",
    "COMPANY_PHONE": "+49 30 123 456-0",
    "COMPANY_EMAIL": "impressum@iptor.test",
    "COMPANY_REGISTER": "Amtsgericht Charlottenburg",
    "COMPANY_REGISTRATION": "HRB 123456 B",
    "COMPANY_VAT_ID": "DE123456789",
}


def terms(page: str) -> list[str]:
    return re.findall(r"<dt>([^<]+)</dt>", page)


def test_every_setting_has_a_label():
    assert tuple(LABELS) == COMPANY_SETTINGS


@pytest.mark.parametrize("lang", LOCALES)
def test_with_nothing_set_the_page_shows_only_the_contact_address(make_app, lang):
    page = make_app(EMAIL_CONTACT="hello@iptor.test").test_client().get(f"/{lang}/company")
    assert page.status_code == 200
    assert len(terms(page.text)) == 1
    assert '<a href="mailto:hello@iptor.test">hello@iptor.test</a>' in page.text
    assert "HRB" not in page.text and "tel:" not in page.text


def test_every_detail_set_is_shown_in_the_page_language(make_app):
    page = make_app(**FULL).test_client().get("/de/company").text
    assert "<h1>Impressum</h1>" in page
    assert terms(page) == ["Name des Unternehmens", "Postanschrift", "Vertreten durch", "Telefon", "E-Mail",
                           "Register", "Registernummer", "Umsatzsteuer-Identifikationsnummer"]
    assert "Musterstraße 1<br>10115 Berlin<br>Deutschland" in page
    assert '<a href="tel:+49301234560">+49 30 123 456-0</a>' in page
    assert '<a href="mailto:impressum@iptor.test">impressum@iptor.test</a>' in page
    assert "HRB 123456 B" in page and "DE123456789" in page and "Amtsgericht Charlottenburg" in page
    # The footer names the company from the settings, not the policy's postal address.
    footer = page.split('<footer class="site-footer">', 1)[1]
    assert "Iptor Example GmbH, Musterstraße 1, 10115 Berlin, Deutschland" in footer
    assert "Box 160" not in footer


def test_unset_details_are_left_out(make_app):
    page = make_app(COMPANY_NAME="Iptor Sweden AB", COMPANY_VAT_ID="SE556677889901").test_client().get(
        "/en/company").text
    assert terms(page) == ["Company name", "E-mail", "VAT identification number"]


def test_settings_are_escaped(make_app):
    page = make_app(COMPANY_NAME="<b>Iptor</b> & Co").test_client().get("/en/company").text
    assert "&lt;b&gt;Iptor&lt;/b&gt; &amp; Co" in page and "<b>Iptor</b>" not in page


@pytest.mark.parametrize(("name", "value"), [
    ("COMPANY_PHONE", "call us"),
    ("COMPANY_VAT_ID", "123"),
    ("COMPANY_EMAIL", "impressum"),
    ("COMPANY_NAME", "Iptor\nSweden AB"),
    ("COMPANY_REGISTRATION", "x" * 301),
])
def test_a_bad_company_setting_stops_start_up(name, value):
    with pytest.raises(ConfigError) as refused:
        create_app({"SECRET_KEY": "x" * 40, name: value})
    assert str(refused.value).startswith(name)


def test_company_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("COMPANY_REGISTRATION", "556677-8899")
    monkeypatch.setenv("COMPANY_ADDRESS", "Box 160; SE-101 23 Stockholm")
    app = create_app({"SECRET_KEY": "x" * 40})
    assert app.config["COMPANY_REGISTRATION"] == "556677-8899"
    assert app.config["COMPANY_ADDRESS"] == "Box 160; SE-101 23 Stockholm"


def test_the_page_is_in_the_sitemap_with_its_alternates(make_app):
    client = make_app(SITE_URL="https://www.iptor.test").test_client()
    sitemap = client.get("/sitemap.xml").text
    for lang in LOCALES:
        assert f"<loc>https://www.iptor.test/{lang}/company</loc>" in sitemap
        assert f'hreflang="{lang}" href="https://www.iptor.test/{lang}/company"' in sitemap
    page = client.get("/nl/company").text
    assert '<link rel="canonical" href="https://www.iptor.test/nl/company">' in page
    assert '<link rel="alternate" hreflang="fr" href="https://www.iptor.test/fr/company">' in page


FOOTER_TEXTS = {
    "en": ["Contact", "Company details", "Privacy policy", "Privacy inquiry", "Cookie settings"],
    "nl": ["Contact", "Bedrijfsgegevens", "Privacybeleid", "Privacyverzoek", "Cookie-instellingen"],
    "fr": ["Contact", "Mentions légales", "Politique de confidentialité",
           "Demande relative à vos données personnelles", "Paramètres des cookies"],
    "de": ["Kontakt", "Impressum", "Datenschutzerklärung", "Datenschutzanfrage", "Cookie-Einstellungen"],
}


def footer_of(page: str) -> str:
    return page.split('<footer class="site-footer">', 1)[1].split("</footer>", 1)[0]


@pytest.mark.parametrize("lang", LOCALES)
def test_the_footer_links_contact_company_privacy_inquiry_and_cookie_settings(make_app, lang):
    client = make_app(EMAIL_CONTACT="hello@iptor.test", **TRACKING).test_client()
    for path in ("/", "/pricing", "/privacy", "/demo", "/privacy/inquiry", "/cookies", "/company"):
        footer = footer_of(client.get(f"/{lang}{path}").text)
        texts = re.findall(r">([^<>]+)</(?:a|span)>", footer)
        assert [t for t in texts if t in FOOTER_TEXTS[lang]] == FOOTER_TEXTS[lang], (lang, path)
        assert '<a href="mailto:hello@iptor.test">hello@iptor.test</a>' in footer
        for href in (f"/{lang}/company", f"/{lang}/privacy", f"/{lang}/privacy/inquiry", f"/{lang}/cookies#settings"):
            assert f'href="{href}"' in footer, (lang, path, href)


@pytest.mark.parametrize("lang", LOCALES)
def test_without_a_tag_the_footer_has_no_cookie_settings(make_app, lang):
    footer = footer_of(make_app(GA_MEASUREMENT_ID="", HUBSPOT_PORTAL_ID="").test_client().get(f"/{lang}/").text)
    assert FOOTER_TEXTS[lang][-1] not in footer and "/cookies" not in footer
    assert f'href="/{lang}/company"' in footer


@pytest.mark.parametrize("tag", [{"GA_MEASUREMENT_ID": "G-TEST1234"}, {"HUBSPOT_PORTAL_ID": "1234567"}])
def test_either_tag_brings_the_cookie_settings_link(make_app, tag):
    footer = footer_of(make_app(**tag).test_client().get("/en/").text)
    assert 'id="cookie-settings-link"' in footer
