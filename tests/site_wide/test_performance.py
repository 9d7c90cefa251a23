"""Fast pages: hashed assets, the page cache, ETags, compression and the weight budget."""

import gzip
import json
import logging
import re
from datetime import timedelta

import brotli
import pytest

from formhelpers import inquiry_data
from iptor_site.consent.cookie_consent import COOKIE
from iptor_site.core.assets import Assets
from iptor_site.core.locales import LOCALES
from iptor_site.core.requestlog import JsonFormatter
from iptor_site.pages import views

PUBLIC = ["/", "/pricing", "/privacy", "/demo", "/privacy/inquiry", "/cookies", "/company"]
TRACKING = {"GA_MEASUREMENT_ID": "G-TEST1234", "HUBSPOT_PORTAL_ID": "1234567"}


def test_assets_have_content_hashed_names_and_are_immutable(client):
    html = client.get("/en/pricing").text
    urls = re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)
    assert any(re.fullmatch(r"/assets/css/site\.[0-9a-f]{12}\.css", u) for u in urls)
    assert any(re.fullmatch(r"/assets/js/estimator\.[0-9a-f]{12}\.js", u) for u in urls)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/css/site.000000000000.css").status_code == 404


def test_a_changed_file_gets_a_new_name(tmp_path):
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "a.css").write_text("body{}")
    before = Assets(tmp_path).url("css/a.css")
    (tmp_path / "css" / "a.css").write_text("body{color:red}")
    after = Assets(tmp_path).url("css/a.css")
    assert before != after and before.startswith("/assets/css/a.") and after.endswith(".css")


@pytest.mark.parametrize("path", ["/en/", "/de/pricing", "/fr/privacy", "/en/cookies", "/sitemap.xml"])
def test_etag_and_304(client, path):
    first = client.get(path)
    etag = first.headers["ETag"]
    assert etag
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_a_form_page_shown_later_is_sent_again_with_a_new_form_token(make_app, clock):
    """The demo form carries a token stamped with the time it was shown: shown later, the page
    differs, so the earlier ETag does not match and the new page (and token) is sent."""

    client = make_app(CLOCK=clock).test_client()
    first = client.get("/nl/demo")
    etag = first.headers["ETag"]
    assert etag
    clock.now += timedelta(minutes=1)
    again = client.get("/nl/demo", headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["ETag"] != etag
    token = re.compile(r'name="started"[^>]*value="([^"]+)"')
    assert token.search(again.text).group(1) != token.search(first.text).group(1)


@pytest.mark.parametrize(("accept", "encoding"), [("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)])
def test_text_is_compressed_as_negotiated(client, accept, encoding):
    plain = client.get("/fr/privacy").data
    response = client.get("/fr/privacy", headers={"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response.vary
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}[encoding](response.data)
    assert decoded == plain
    css = client.get(re.search(r'href="(/assets/css/[^"]+)"', plain.decode()).group(1),
                     headers={"Accept-Encoding": accept})
    assert css.headers.get("Content-Encoding") == encoding


def test_public_pages_are_cached_and_shareable_forms_are_not(client, app, monkeypatch):
    calls = []
    original = views.render_template
    monkeypatch.setattr(views, "render_template", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    first = client.get("/de/pricing")
    second = app.test_client().get("/de/pricing")
    assert first.data == second.data and calls == ["pages/pricing.html"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    assert {"Cookie", "Sec-GPC", "Accept-Encoding"} <= set(first.vary)
    # The estimator's answers depend on the query: rendered each time, not cached.
    client.get("/de/pricing?users=3")
    client.get("/de/pricing?users=3")
    assert calls.count("pages/pricing.html") == 3
    form = client.get("/de/demo")
    assert form.headers["Cache-Control"] == "private, no-cache"


def test_the_cache_never_mixes_visitors(make_app):
    app = make_app(**TRACKING)
    newcomer, decided = app.test_client(), app.test_client()
    decided.post("/en/cookies/consent", data={"action": "accept"}, headers={"Origin": "http://localhost"})
    for _ in range(2):
        fresh = newcomer.get("/en/pricing")
        agreed = decided.get("/en/pricing")
        assert 'id="consent-banner" aria-labelledby="consent-banner-title">' in fresh.text
        assert 'data-consent="' not in fresh.text
        assert 'data-consent="analytics marketing"' in agreed.text
        assert "googletagmanager" in agreed.headers["Content-Security-Policy"]
        assert "googletagmanager" not in fresh.headers["Content-Security-Policy"]
    tokens = {re.search(r'name="csrf_token"[^>]*value="([^"]+)"', c.get("/en/demo").text).group(1)
              for c in (newcomer, decided)}
    assert len(tokens) == 2  # every visitor gets their own CSRF token
    assert decided.get_cookie(COOKIE)


def test_visitors_who_made_the_same_choice_share_one_cached_page(make_app, monkeypatch):
    """The cache keys on the categories agreed to, never on the consent cookie's anonymous
    ID: two visitors who both accepted get the page rendered once; one who rejected, another."""

    app = make_app(**TRACKING)
    calls = []
    original = views.render_template
    monkeypatch.setattr(views, "render_template", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    visitors = [app.test_client() for _ in range(3)]
    for visitor, action in zip(visitors, ("accept", "accept", "reject"), strict=True):
        visitor.post("/en/cookies/consent", data={"action": action}, headers={"Origin": "http://localhost"})
    ids = {visitor.get_cookie(COOKIE).value.split(".")[1] for visitor in visitors}
    assert len(ids) == 3  # three anonymous consent IDs
    pages = [visitor.get("/en/pricing").data for visitor in visitors]
    assert pages[0] == pages[1] != pages[2]
    assert calls == ["pages/pricing.html", "pages/pricing.html"]


def test_personal_pages_are_never_stored(client):
    page = client.get("/en/privacy/inquiry").text
    client.post("/en/privacy/inquiry", data=inquiry_data(page))
    assert client.get("/en/privacy/inquiry/received").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("lang", LOCALES)
def test_every_public_page_weighs_at_most_40_kb_compressed(make_app, lang):
    client = make_app(**TRACKING).test_client()
    for path in PUBLIC:
        page = client.get(f"/{lang}{path}", headers={"Accept-Encoding": "br"})
        assert page.status_code == 200
        total = len(page.data)
        html = brotli.decompress(page.data).decode()
        assets = re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)
        # No fonts, styles or scripts from other hosts.
        assert not re.search(r'<(?:script|link rel="(?:stylesheet|preload)")[^>]*(?:src|href)="(?:https?:)?//', html)
        for url in assets:
            total += len(client.get(url, headers={"Accept-Encoding": "br"}).data)
        assert total <= 40 * 1024, (lang, path, total)


def test_cached_pages_match_the_app_and_are_logged(app, client, caplog):
    caplog.set_level(logging.INFO)
    headers = {"Accept-Encoding": "br", "Cookie": "lang=fr"}
    first = client.get("/fr/privacy", headers=headers)
    replay = client.get("/fr/privacy", headers=headers)
    assert replay.data == first.data and replay.headers["Content-Encoding"] == "br"
    assert {k: v for k, v in replay.headers.items() if k != "X-Request-ID"} == \
        {k: v for k, v in first.headers.items() if k != "X-Request-ID"}
    not_modified = client.get("/fr/privacy", headers={**headers, "If-None-Match": first.headers["ETag"]})
    again = client.get("/fr/privacy", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == again.status_code == 304 and again.data == b""
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.getMessage() == "request"]
    assert [(r["route"], r["status"], r["endpoint"], r["client"]) for r in lines] == \
        [("/<lang>/privacy", 200, "pages.privacy", "127.0.0.0")] * 2 + [("/<lang>/privacy", 304, "pages.privacy", "127.0.0.0")] * 2
    assert len({r["request_id"] for r in lines}) == 4
    assert lines[1]["bytes"] == lines[0]["bytes"] == len(first.data) > 5_000
    assert lines[2]["bytes"] == lines[3]["bytes"] == 0


def test_a_cached_page_never_carries_another_hosts_links(make_app):
    """Without SITE_URL, canonical and hreflang links name the request's host: the cache keys on it."""
    client = make_app(SITE_URL="", TRUSTED_HOSTS=[]).test_client()
    poisoned = client.get("/en/pricing", headers={"Host": "evil.example"})
    assert 'href="http://evil.example/en/pricing"' in poisoned.text
    for _ in range(2):
        page = client.get("/en/pricing", headers={"Host": "www.iptor.test"}).text
        assert "evil.example" not in page and 'rel="canonical" href="http://www.iptor.test/en/pricing"' in page
