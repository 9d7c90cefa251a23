"""Every `next` a form carries leads to a path on this site, read as the browser will read it."""

import re
from datetime import UTC, datetime

import pytest

from iptor_site.backoffice import accounts
from iptor_site.core.extensions import db
from iptor_site.core.security import safe_next

ORIGIN = {"Origin": "http://localhost"}
NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"

# Each of these is another site once a browser has removed tabs and newlines and read
# backslashes as slashes (or it is no path at all).
OFF_SITE = [
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
]


@pytest.mark.parametrize("value", OFF_SITE)
def test_values_that_leave_the_site_fall_back(value):
    assert safe_next(value, "/fallback") == "/fallback"


@pytest.mark.parametrize(
    ("value", "within", "expected"),
    [
        ("/en/pricing", "/", "/en/pricing"),
        ("/en/pricing?lang=de#top", "/", "/en/pricing?lang=de#top"),
        ("/en/pri\tcing", "/", "/en/pricing"),  # what the browser would open
        ("/admin/requests?status=open", "/admin", "/admin/requests?status=open"),
        ("/admin", "/admin", "/admin"),
        ("/administrator", "/admin", "/fallback"),
        ("/en/pricing", "/admin", "/fallback"),
        (None, "/", "/fallback"),
    ],
)
def test_paths_on_the_site_are_kept_as_the_browser_reads_them(value, within, expected):
    assert safe_next(value, "/fallback", within=within) == expected


@pytest.fixture
def tracking_app(make_app):
    return make_app(GA_MEASUREMENT_ID="G-TEST1234")


@pytest.mark.parametrize("value", OFF_SITE)
def test_the_cookie_form_falls_back_to_the_page_it_came_from(tracking_app, value):
    client = tracking_app.test_client()
    response = client.post("/de/cookies/consent", data={"action": "reject", "next": value},
                           headers={**ORIGIN, "Referer": "http://localhost/de/pricing?users=25"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/de/pricing?users=25"


def test_without_a_referrer_the_cookie_form_falls_back_to_the_landing_page(tracking_app):
    response = tracking_app.test_client().post("/en/cookies/consent", data={"action": "reject", "next": "/\t/evil.example"},
                                               headers=ORIGIN)
    assert response.headers["Location"] == "/en/"


def test_the_cookie_form_follows_a_path_on_the_site(tracking_app):
    response = tracking_app.test_client().post("/fr/cookies/consent", data={"action": "reject", "next": "/fr/pricing"},
                                               headers=ORIGIN)
    assert response.headers["Location"] == "/fr/pricing"


@pytest.fixture
def admin_app(make_app):
    app = make_app(CLOCK=lambda: NOW)
    with app.app_context():
        accounts.create_staff(db.session, "sales@iptor.com", PASSWORD, "sales", NOW)
        db.session.commit()
    return app


def sign_in_with_next(app, value):
    client = app.test_client()
    page = client.get("/admin/login", query_string={"next": value}).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post("/admin/login", query_string={"next": value},
                       data={"csrf_token": token, "email": "sales@iptor.com", "password": PASSWORD})


@pytest.mark.parametrize("value", [*OFF_SITE, "/\t/admin", "/en/pricing"])
def test_sign_in_leads_only_within_the_back_office(admin_app, value):
    response = sign_in_with_next(admin_app, value)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"


def test_sign_in_follows_a_back_office_path(admin_app):
    assert sign_in_with_next(admin_app, "/admin/requests").headers["Location"] == "/admin/requests"
