"""Favicon, theme colour and the social card on every public page; no banner on the cookie page."""

import re
import struct

import pytest

from iptor_site.core.locales import LOCALES
from iptor_site.core.settings import PROJECT_ROOT
from pagestates import TRACKING

PUBLIC = ["/", "/pricing", "/privacy", "/demo", "/privacy/inquiry", "/cookies", "/company"]
OG_LOCALES = {"en": "en_GB", "nl": "nl_NL", "fr": "fr_FR", "de": "de_DE"}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def meta(page: str, key: str) -> str:
    found = re.findall(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', page)
    assert len(found) == 1, (key, found)
    return found[0]


@pytest.mark.parametrize("lang", LOCALES)
def test_every_public_page_has_its_social_card_on_site_url(make_app, lang):
    client = make_app(SITE_URL="https://www.iptor.test").test_client()
    for path in PUBLIC:
        page = client.get(f"/{lang}{path}").text
        canonical = re.search(r'<link rel="canonical" href="([^"]+)">', page).group(1)
        assert meta(page, "og:url") == canonical == f"https://www.iptor.test/{lang}{path}"
        title = re.search(r"<title>(.*?) \| Iptor</title>", page).group(1)
        assert meta(page, "og:title") == title
        assert meta(page, "og:description") == re.search(r'<meta name="description" content="([^"]*)">', page).group(1)
        assert meta(page, "og:locale") == OG_LOCALES[lang]
        assert meta(page, "twitter:card") == "summary_large_image"
        assert meta(page, "theme-color") == "rgb(14, 35, 64)"
        image = meta(page, "og:image")
        assert re.fullmatch(rf"https://www\.iptor\.test/assets/img/social-{lang}\.[0-9a-f]{{12}}\.png", image), image
        response = client.get(image.removeprefix("https://www.iptor.test"))
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert png_size(response.data) == (1200, 630)
        assert (meta(page, "og:image:width"), meta(page, "og:image:height")) == ("1200", "630")


def test_pages_without_a_canonical_url_have_no_social_card(client):
    page = client.get("/en/no-such-page").text
    assert 'property="og:' not in page and '<meta name="robots" content="noindex">' in page


def test_the_favicon_links_and_favicon_ico_answer(client):
    page = client.get("/en/").text
    svg = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page).group(1)
    png = re.search(r'<link rel="icon" href="([^"]+)" type="image/png" sizes="32x32">', page).group(1)
    assert client.get(svg).mimetype == "image/svg+xml"
    assert png_size(client.get(png).data) == (32, 32)
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.mimetype == "image/x-icon"
    assert ico.data[:4] == b"\x00\x00\x01\x00"  # an ICO file ...
    assert png_size(ico.data[22:]) == (32, 32)  # ... holding the 32 px PNG


def test_the_committed_images_are_the_sizes_the_pages_announce():
    img = PROJECT_ROOT / "static" / "img"
    for lang in LOCALES:
        assert png_size((img / f"social-{lang}.png").read_bytes()) == (1200, 630)
    assert png_size((img / "favicon-32.png").read_bytes()) == (32, 32)


def test_the_header_carries_the_logo_mark_and_the_product_name(client):
    page = client.get("/fr/pricing").text
    brand = re.search(r'<a class="brand" href="/fr/">(.*?)</a>', page, re.S).group(1)
    assert '<svg class="brand-mark"' in brand and 'aria-hidden="true"' in brand
    assert re.sub(r"<[^>]+>", "", brand).strip() == "Iptor multiflex"


@pytest.mark.parametrize("lang", LOCALES)
def test_no_cookie_banner_on_the_cookie_settings_page(make_app, lang):
    client = make_app(**TRACKING).test_client()
    assert 'id="consent-banner"' in client.get(f"/{lang}/pricing").text
    cookies = client.get(f"/{lang}/cookies").text
    assert 'id="consent-banner"' not in cookies
    assert 'class="consent-settings"' in cookies  # the same three choices are on the page itself
