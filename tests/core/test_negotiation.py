"""Which language a visitor lands on, and how the choice is remembered."""

import pytest

from iptor_site.core.locales import LANG_COOKIE

CASES = [
    # (url, Accept-Language, saved cookie, expected Location)
    ("/", None, None, "/en/"),
    ("/", "de-AT,de;q=0.9,en;q=0.5", None, "/de/"),
    ("/", "nl-BE", None, "/nl/"),
    ("/", "fr-CH, fr;q=0.9, en;q=0.8", None, "/fr/"),
    ("/", "es-ES,es;q=0.9", None, "/en/"),
    ("/", "es, de;q=0.3", None, "/de/"),
    ("/", "en;q=0.2, nl;q=0.8", None, "/nl/"),
    ("/", "*", None, "/en/"),
    ("/pricing", "de-DE", None, "/de/pricing"),
    ("/privacy", "fr-BE", None, "/fr/privacy"),
    ("/privacy/inquiry", "nl", None, "/nl/privacy/inquiry"),
    ("/pricing?users=12", "de", None, "/de/pricing?users=12"),
    # The saved choice beats the browser's languages.
    ("/", "de-AT", "fr", "/fr/"),
    ("/pricing", "nl", "en", "/en/pricing"),
    # A saved value that is not a locale is ignored.
    ("/", "nl", "xx", "/nl/"),
    # ?lang= on an unprefixed URL wins over both.
    ("/pricing?lang=nl", "de", "fr", "/nl/pricing"),
    ("/?lang=de&utm_source=x", None, None, "/de/?utm_source=x"),
    # Babel's rules: a better-rated regional variant wins over a lower-rated exact match.
    ("/", "fr-CH, en;q=0.5", None, "/fr/"),
    ("/", "de-CH, en;q=0.8", None, "/de/"),
    ("/", "nl-BE, fr;q=0.9", None, "/nl/"),
    ("/pricing", "fr-CA,en-US;q=0.7,en;q=0.3", None, "/fr/pricing"),
    ("/", "es-MX, de-AT;q=0.6, en;q=0.5", None, "/de/"),
    # q=0 means "not this language".
    ("/", "nl;q=0, fr;q=0.2", None, "/fr/"),
]


@pytest.mark.parametrize(("url", "accept", "cookie", "location"), CASES)
def test_unprefixed_urls_redirect_to_the_negotiated_language(client, url, accept, cookie, location):
    headers = {"Accept-Language": accept} if accept else {}
    if cookie:
        client.set_cookie(LANG_COOKIE, cookie)
    response = client.get(url, headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] == location
    assert "Accept-Language" in response.vary
    assert "Cookie" in response.vary


SWITCHES = [
    # (url, expected Location, saved cookie)
    ("/en/pricing?lang=de", "/de/pricing", "de"),
    ("/de/pricing?lang=fr&users=7", "/fr/pricing?users=7", "fr"),
    ("/fr/?lang=nl", "/nl/", "nl"),
    ("/nl/privacy?lang=en", "/en/privacy", "en"),
    ("/en/pricing?lang=en", "/en/pricing", "en"),
    # An unknown language is dropped, nothing is saved.
    ("/en/pricing?lang=xx", "/en/pricing", None),
    # Every localized page, whichever part of the site serves it.
    ("/en/demo?lang=de", "/de/demo", "de"),
    ("/en/demo?lang=fr&users=40&tz=Europe/Paris", "/fr/demo?users=40&tz=Europe%2FParis", "fr"),
    ("/en/privacy/inquiry?lang=nl", "/nl/privacy/inquiry", "nl"),
    ("/de/privacy/inquiry?lang=fr&type=sb27", "/fr/privacy/inquiry?type=sb27", "fr"),
    ("/en/cookies?lang=de", "/de/cookies", "de"),
    ("/en/demo?lang=xx", "/en/demo", None),
]


@pytest.mark.parametrize(("url", "location", "saved"), SWITCHES)
def test_lang_parameter_switches_and_remembers(client, url, location, saved):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == location
    cookie = client.get_cookie(LANG_COOKIE)
    if saved is None:
        assert cookie is None
    else:
        assert cookie.value == saved
        assert cookie.http_only
        assert cookie.same_site == "Lax"


def test_saved_choice_drives_the_next_unprefixed_visit(client):
    client.get("/en/pricing?lang=fr")
    response = client.get("/pricing", headers={"Accept-Language": "de"})
    assert response.headers["Location"] == "/fr/pricing"


@pytest.mark.parametrize("url", ["/xx/pricing", "/es/", "/EN/pricing", "/pricingx", "/de/nope"])
def test_unknown_locale_or_page_is_a_404(client, url):
    response = client.get(url, headers={"Accept-Language": "de"})
    assert response.status_code == 404
    assert '<html lang="de">' in response.text
    assert "Seite nicht gefunden" in response.text


def test_locale_without_trailing_slash_reaches_the_landing_page(client):
    response = client.get("/nl", follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == "/nl/"


def test_lang_switch_never_leaves_the_site(client):
    response = client.get("/en/pricing?lang=//evil.example")
    assert response.headers["Location"] == "/en/pricing"


def test_lang_parameter_works_on_every_page_of_the_site(app, client):
    """Every GET page under a locale prefix switches language, not only the content pages."""
    pages = [
        rule.rule.replace("<locale:lang>", "en")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/<locale:lang>") and "GET" in rule.methods and len(rule.arguments) == 1
    ]
    assert "/en/demo" in pages and "/en/privacy/inquiry" in pages
    for path in pages:
        response = client.get(path + "?lang=nl")
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/nl" + path[len("/en"):], path
