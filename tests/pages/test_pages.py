"""Every page in every locale: language, canonical, alternates, switcher, sitemap, errors."""

import re
from xml.etree import ElementTree

import pytest

from iptor_site.core.locales import LOCALES

PAGES = ["/", "/pricing", "/privacy"]
ALL = [(lang, page) for lang in LOCALES for page in PAGES]


def links(html, rel):
    return dict(re.findall(rf'<link rel="{rel}" hreflang="([^"]+)" href="([^"]+)">', html))


@pytest.mark.parametrize(("lang", "page"), ALL)
def test_page_declares_its_language_canonical_and_alternates(client, lang, page):
    response = client.get(f"/{lang}{page}")
    assert response.status_code == 200
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert f'<link rel="canonical" href="http://localhost/{lang}{page}">' in html
    alternates = links(html, "alternate")
    expected = {loc: f"http://localhost/{loc}{page}" for loc in LOCALES}
    expected["x-default"] = f"http://localhost{page}"
    assert alternates == expected


@pytest.mark.parametrize(("lang", "page"), ALL)
def test_language_switcher_links_to_the_same_page(client, lang, page):
    html = client.get(f"/{lang}{page}").text
    nav = re.search(r'<nav class="lang-switcher"[^>]*>(.*?)</nav>', html, re.S).group(1)
    found = re.findall(r'<a href="([^"]+)" lang="([a-z]+)" hreflang="[a-z]+"( aria-current="true")?>([^<]+)</a>', nav)
    assert [(href, code, name) for href, code, _, name in found] == [
        (f"/{code}{page}?lang={code}", code, name) for code, name in LOCALES.items()
    ]
    current = [code for _, code, marker, _ in found if marker]
    assert current == [lang]


def test_switcher_keeps_the_estimator_input(client):
    html = client.get("/en/pricing?users=25").text
    assert 'href="/de/pricing?users=25&amp;lang=de"' in html


def test_canonical_uses_site_url_when_set(make_app):
    client = make_app(SITE_URL="https://www.example.test").test_client()
    html = client.get("/fr/pricing?users=3").text
    assert '<link rel="canonical" href="https://www.example.test/fr/pricing">' in html
    assert links(html, "alternate")["x-default"] == "https://www.example.test/pricing"


def test_sitemap_lists_every_page_in_every_locale_with_alternates(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ElementTree.fromstring(response.data)
    urls = {u.find("s:loc", ns).text: u for u in root.findall("s:url", ns)}
    assert set(urls) == {f"http://localhost/{lang}{page}" for lang, page in ALL + [(lang, "/company") for lang in LOCALES]}
    for loc, url in urls.items():
        page = "/" + loc.split("/", 4)[4]
        alternates = {a.get("hreflang"): a.get("href") for a in url.findall("x:link", ns)}
        assert alternates["x-default"] == f"http://localhost{page}"
        assert {k: v for k, v in alternates.items() if k != "x-default"} == {
            lang: f"http://localhost/{lang}{page}" for lang in LOCALES
        }


def test_robots_points_to_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.mimetype == "text/plain"
    assert "Sitemap: http://localhost/sitemap.xml" in response.text.splitlines()


@pytest.mark.parametrize(
    ("lang", "title"),
    [("en", "Page not found"), ("nl", "Pagina niet gevonden"), ("fr", "Page introuvable"), ("de", "Seite nicht gefunden")],
)
def test_404_is_localized_and_keeps_the_layout(client, lang, title):
    response = client.get(f"/{lang}/no-such-page")
    assert response.status_code == 404
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{title}</h1>" in html
    assert 'class="site-header"' in html and 'class="site-footer"' in html
    assert '<meta name="robots" content="noindex">' in html
    assert 'rel="canonical"' not in html


@pytest.mark.parametrize(
    ("lang", "title"),
    [("en", "Something went wrong"), ("nl", "Er is iets misgegaan"), ("fr", "Une erreur est survenue"), ("de", "Etwas ist schiefgelaufen")],
)
def test_500_is_localized_and_keeps_the_layout(make_app, lang, title):
    app = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/<locale:lang>/boom")
    def boom():
        raise RuntimeError("deliberate failure")

    response = app.test_client().get(f"/{lang}/boom")
    assert response.status_code == 500
    assert f'<html lang="{lang}">' in response.text
    assert f"<h1>{title}</h1>" in response.text
    assert "deliberate failure" not in response.text
    assert "Traceback" not in response.text


def test_landing_page_leads_to_pricing_demo_and_policy(client):
    html = client.get("/de/").text
    for href in ("/de/pricing", "/de/demo", "/de/privacy"):
        assert f'href="{href}"' in html


def test_no_inline_script_style_or_handlers(client):
    for lang, page in ALL:
        html = client.get(f"/{lang}{page}").text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), (lang, page)
        assert "<style" not in html
        assert not re.search(r'\sstyle="', html)
        assert not re.search(r"\son[a-z]+=", html)
