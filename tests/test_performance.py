"""Fast pages: hashed assets, the page cache, ETags, compression and the weight budget."""

import gzip
import json
import logging
import re

import brotli
import pytest

from iptor_site.cookieconsent import COOKIE
from iptor_site.i18n import LOCALES
from iptor_site.performance import SHARED, Assets, FastPages
from iptor_site.requestlog import JsonFormatter

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
    from datetime import timedelta

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
    from iptor_site.views import pages

    calls = []
    original = pages.render_template
    monkeypatch.setattr(pages, "render_template", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
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


def test_personal_pages_are_never_stored(client):
    from formhelpers import inquiry_data

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


class CountingApp:
    """A stand-in for the Flask app behind ``FastPages``: counts calls, answers as told."""

    def __init__(self, status="200 OK", headers=(), shared=True):
        self.calls, self.status, self.headers, self.shared = 0, status, list(headers), shared

    def __call__(self, environ, start_response):
        self.calls += 1
        if self.shared:
            environ[SHARED] = "pages.pricing"
        start_response(self.status, [("Content-Type", "text/html"), *self.headers])
        return [b"page"]


def fetch(middleware, method="GET", path="/en/pricing", query="", **headers):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "wsgi.url_scheme": "http",
               "HTTP_HOST": "localhost", "REMOTE_ADDR": "192.0.2.7",
               **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}}
    answer = {}
    body = b"".join(middleware(environ, lambda status, headers, exc_info=None: answer.update(
        status=status, headers=dict(headers))))
    return answer["status"], answer["headers"], body


def test_fast_path_replays_a_shared_page_without_asking_the_app():
    inner = CountingApp(headers=[("X-Request-ID", "first-request-id")])
    fast = FastPages(inner, 8, "truncated")
    first = fetch(fast)
    second = fetch(fast, x_request_id="caller-supplied-01")
    third = fetch(fast)
    assert inner.calls == 1
    assert first[2] == second[2] == third[2] == b"page"
    assert second[1]["X-Request-ID"] == "caller-supplied-01"
    assert len({first[1]["X-Request-ID"], third[1]["X-Request-ID"], "first-request-id"}) == 2
    assert {k: v for k, v in second[1].items() if k != "X-Request-ID"} == \
        {k: v for k, v in first[1].items() if k != "X-Request-ID"}


@pytest.mark.parametrize("variant", [
    {"cookie": "session=abc"},  # a visitor with a session may see their own data
    {"cookie": "iptor_consent=x; other=y"},
    {"method": "POST"},
    {"method": "HEAD"},
    {"query": "users=3"},
    {"range": "bytes=0-10"},
])
def test_fast_path_never_keeps_what_may_be_personal(variant):
    inner = CountingApp()
    fast = FastPages(inner, 8, "truncated")
    for _ in range(3):
        fetch(fast, **variant)
    assert inner.calls == 3


@pytest.mark.parametrize("inner", [
    CountingApp(headers=[("Set-Cookie", "lang=de; Path=/")]),
    CountingApp(shared=False),
    CountingApp(status="500 INTERNAL SERVER ERROR"),
    CountingApp(status="302 FOUND"),
], ids=["sets-cookie", "not-shared", "error", "redirect"])
def test_fast_path_keeps_only_shared_answers_without_cookies(inner):
    fast = FastPages(inner, 8, "truncated")
    for _ in range(3):
        fetch(fast)
    assert inner.calls == 3


def test_fast_path_keys_on_everything_the_page_depends_on():
    inner = CountingApp()
    fast = FastPages(inner, 64, "truncated")
    variants = [{}, {"cookie": "iptor_consent=v1"}, {"cookie": "iptor_consent=v2"}, {"sec_gpc": "1"},
                {"accept_encoding": "br"}, {"if_none_match": 'W/"x"'}, {"host": "other.test"}, {"path": "/de/pricing"}]
    for variant in variants * 2:
        fetch(fast, **variant)
    assert inner.calls == len(variants)


def test_replays_match_the_app_and_are_logged(app, client, caplog):
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
