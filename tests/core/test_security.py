"""Headers, cookies, hosts, proxies, logs and health: what an auditor checks."""

import json
import logging

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from formhelpers import demo_data, inquiry_data
from iptor_site.core.extensions import db
from iptor_site.core.requestlog import JsonFormatter
from iptor_site.models import ConsentStamp

URLS = ["/en/", "/de/pricing", "/fr/privacy", "/nl/demo", "/en/privacy/inquiry", "/sitemap.xml",
        "/robots.txt", "/", "/en/nope", "/fr/pricing/estimate?users=3", "/static/css/site.css", "/healthz"]


@pytest.mark.parametrize("url", URLS)
def test_security_headers_on_every_response(client, url):
    response = client.get(url)
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in headers["Permissions-Policy"] and "geolocation=()" in headers["Permissions-Policy"]
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Server" not in headers and "X-Powered-By" not in headers
    assert "Strict-Transport-Security" not in headers  # off in development
    assert len(headers["X-Request-ID"]) == 32


def test_hsts_when_the_site_runs_behind_https(make_app):
    response = make_app(HSTS=True).test_client().get("/en/")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_session_cookie_is_http_only_lax_and_holds_nothing_personal(app, client):
    page = client.get("/en/demo").text
    response = client.post("/en/demo", data=demo_data(page))
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    data = serializer.loads(cookie.value)
    assert set(data) == {"csrf_token", "form_visitor", "demo_booking"}
    assert isinstance(data["demo_booking"], int)
    assert len(data["form_visitor"]) == 22  # 16 random bytes, base64url: names the session, says nothing
    assert "anna" not in cookie.value.lower()


def test_cookies_are_secure_in_production(make_app, monkeypatch):
    monkeypatch.setenv("IPTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    monkeypatch.setenv("SITE_URL", "https://localhost")
    monkeypatch.setenv("TRUSTED_HOSTS", "localhost")
    app = make_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    response = client.get("/en/pricing?lang=de", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_unknown_host_is_refused(make_app):
    client = make_app(TRUSTED_HOSTS=["www.iptor.test"]).test_client()
    assert client.get("/en/", headers={"Host": "www.iptor.test"}).status_code == 200
    assert client.get("/en/", headers={"Host": "evil.example"}).status_code == 400


def submit_inquiry(client, **headers):
    page = client.get("/en/privacy/inquiry").text
    return client.post("/en/privacy/inquiry", data=inquiry_data(page), headers=headers,
                       environ_base={"REMOTE_ADDR": "10.0.0.5"})


def test_forwarded_for_is_ignored_without_trusted_proxies(app, client):
    assert submit_inquiry(client, **{"X-Forwarded-For": "198.51.100.99"}).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(ConsentStamp.ip_address)).one() == "10.0.0.0"


def test_forwarded_for_is_honoured_from_one_trusted_proxy(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    client = app.test_client()
    assert submit_inquiry(client, **{"X-Forwarded-For": "203.0.113.1, 198.51.100.99"}).status_code == 303
    with app.app_context():
        # Only the address the one trusted proxy saw counts, not what the client claimed.
        assert db.session.scalars(select(ConsentStamp.ip_address)).one() == "198.51.100.0"


def test_healthz_follows_the_database(make_app, tmp_path):
    ok = make_app().test_client().get("/healthz")
    assert ok.status_code == 200 and ok.get_json() | {"instance": None} == {
        "status": "ok", "database": "up", "redis": "not used", "instance": None}
    down = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/no/such/dir/db.sqlite3").test_client().get("/healthz")
    assert down.status_code == 503


def test_one_json_log_line_per_request_with_nothing_personal(app, client, caplog):
    caplog.set_level(logging.INFO)
    page = client.get("/de/demo").text
    typed = demo_data(page, name="Zacharias Quell", email="zacharias.quell@example.org",
                      company="Quellwerk AG", phone="+49 89 5551234", message="Geheimer Nachrichtentext")
    assert client.post("/de/demo", data=typed, headers={"X-Request-ID": "test-request-0001"}).status_code == 303
    page = client.get("/fr/privacy/inquiry").text
    client.post("/fr/privacy/inquiry", data=inquiry_data(page, name="Yvette Secret", email="yvette@example.org",
                                                         request_type="complaint", details="Texte très confidentiel"))
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    requests = [json.loads(line) for line in lines if json.loads(line)["message"] == "request"]
    assert len(requests) >= 4
    post = next(r for r in requests if r["method"] == "POST" and r["route"] == "/<lang>/demo")
    assert post["request_id"] == "test-request-0001"
    assert post["status"] == 303
    for secret in ("Zacharias", "zacharias.quell", "Quellwerk", "5551234", "Geheimer", "Yvette", "yvette@",
                   "confidentiel"):
        assert not any(secret in line for line in lines), secret
