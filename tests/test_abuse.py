"""Bots, floods and bad input: caught, answered clearly, never a 500, nothing typed lost."""

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from formhelpers import demo_data, inquiry_data
from iptor_site import leads, ratelimits
from iptor_site.extensions import db
from iptor_site.models import Lead, OutboxMessage, SpamSubmission

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: NOW)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def demo_page(client, lang="en"):
    return client.get(f"/{lang}/demo").text


def test_post_without_csrf_token_is_refused_and_keeps_the_input(app, client):
    data = demo_data(demo_page(client))
    del data["csrf_token"]
    response = client.post("/en/demo", data=data)
    assert response.status_code == 422
    assert "This form was open for too long" in response.text
    assert 'value="Anna Schmidt"' in response.text
    assert count(app, Lead) == 0


def test_forged_csrf_token_is_refused(app, client):
    data = demo_data(demo_page(client), csrf_token="forged")
    assert client.post("/en/demo", data=data).status_code == 422
    assert count(app, Lead) == 0


def test_honeypot_catches_bots_and_keeps_them_for_review(app, client):
    data = demo_data(demo_page(client), website="http://spam.example")
    response = client.post("/en/demo", data=data)
    assert response.status_code == 200
    assert "Thank you" in response.text
    assert count(app, Lead) == 0
    assert count(app, OutboxMessage) == 0
    with app.app_context():
        spam = db.session.scalars(select(SpamSubmission)).one()
        assert (spam.form_name, spam.reason) == ("demo", "honeypot")
        payload = json.loads(spam.payload)
        assert payload["email"] == "anna.schmidt@example.com"
        assert payload["website"] == "http://spam.example"
        assert "csrf_token" not in payload


def test_forged_start_token_is_spam(app, client):
    page = client.get("/en/privacy/inquiry").text
    response = client.post("/en/privacy/inquiry", data=inquiry_data(page, started="forged"))
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalars(select(SpamSubmission.reason)).one() == "bad-token"
    assert count(app, Lead) == 0


def test_too_fast_submissions_are_kept_and_the_person_asked_to_resend(make_app):
    app = make_app(CLOCK=lambda: NOW, FORM_MIN_FILL_SECONDS=30)
    client = app.test_client()
    response = client.post("/en/demo", data=demo_data(demo_page(client)))
    assert response.status_code == 422
    assert "Please check your details and send the form again." in response.text
    assert 'value="Anna Schmidt"' in response.text
    with app.app_context():
        assert db.session.scalars(select(SpamSubmission.reason)).one() == "too-fast"
    assert count(app, Lead) == 0


def test_rate_limit_per_ip_answers_429_localized(make_app):
    app = make_app(CLOCK=lambda: NOW, RATELIMIT_FORM_PER_IP="2 per hour")
    client = app.test_client()
    statuses = []
    for n in range(3):
        page = client.get("/de/privacy/inquiry").text
        response = client.post("/de/privacy/inquiry", data=inquiry_data(page, email=f"p{n}@example.com"))
        statuses.append(response.status_code)
    assert statuses == [303, 303, 429]
    assert '<html lang="de">' in response.text
    assert "Zu viele Anfragen" in response.text
    assert response.headers["Retry-After"]
    # Another address is not affected.
    other = app.test_client()
    page = other.get("/de/privacy/inquiry").text
    assert other.post("/de/privacy/inquiry", data=inquiry_data(page), environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 303


def test_rate_limit_per_email_across_addresses(make_app):
    app = make_app(CLOCK=lambda: NOW, RATELIMIT_FORM_PER_EMAIL="2 per hour")
    statuses = []
    for n in range(3):
        client = app.test_client()
        page = client.get("/en/privacy/inquiry").text
        response = client.post("/en/privacy/inquiry", data=inquiry_data(page, email="Same@Example.com"),
                               environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
        statuses.append(response.status_code)
    assert statuses == [303, 303, 429]


class TestProcessMemoryStorage:
    """The default rate-limit storage: fixed windows that close on time and are then dropped."""

    @pytest.fixture
    def clock(self, monkeypatch):
        now = [1_000_000.0]
        monkeypatch.setattr(ratelimits.time, "time", lambda: now[0])
        return now

    def test_counts_within_a_window_and_starts_again_after_it(self, clock):
        storage = ratelimits.ProcessMemoryStorage()
        assert [storage.incr("a", 60) for _ in range(3)] == [1, 2, 3]
        assert storage.get("a") == 3 and storage.get_expiry("a") == clock[0] + 60
        clock[0] += 59.9
        assert storage.incr("a", 60) == 4
        clock[0] += 0.1
        assert storage.get("a") == 0
        assert storage.incr("a", 60) == 1
        assert storage.get_expiry("a") == clock[0] + 60

    def test_closed_windows_are_dropped_not_kept(self, clock):
        storage = ratelimits.ProcessMemoryStorage()
        for n in range(1000):
            storage.incr(f"email:{n}", 3600)
        clock[0] += 3600
        storage.incr("email:new", 3600)
        assert list(storage.counters) == ["email:new"] and len(storage.closing) == 1

    def test_clear_and_reset(self, clock):
        storage = ratelimits.ProcessMemoryStorage()
        storage.incr("a", 60)
        storage.incr("b", 60)
        storage.clear("a")
        assert storage.get("a") == 0 and storage.incr("a", 60) == 1
        clock[0] += 30
        storage.clear("a")
        storage.incr("a", 60)  # a newer window: the first one's expiry must not drop it
        clock[0] += 30
        assert storage.incr("a", 60) == 2
        assert list(storage.counters) == ["a"]  # b's window has closed
        assert storage.reset() == 1 and storage.get("a") == 0

    def test_is_what_the_site_uses_by_default(self, app):
        from iptor_site.extensions import limiter

        with app.app_context():
            assert isinstance(limiter.storage, ratelimits.ProcessMemoryStorage)


def test_request_body_over_the_limit_is_413_localized(client):
    response = client.post("/fr/demo", data={"message": "x" * 70_000})
    assert response.status_code == 413
    assert '<html lang="fr">' in response.text
    assert "Texte trop long" in response.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Anna\x00Schmidt", "invisible control characters"),
        ("company", "ACME\u202e", "invisible control characters"),
        ("name", "<script>alert(1)</script>", "HTML tags"),
        ("message", "Hello <b>team</b>", "HTML tags"),
        ("company", "<img src=x onerror=alert(1)>", "HTML tags"),
        ("name", "A" * 121, "at most 120 characters"),
        ("message", "x" * 2001, "at most 2000 characters"),
        ("email", "not-an-address", "valid e-mail address"),
        ("email", "anna@", "valid e-mail address"),
        ("phone", "call me maybe", "phone number"),
        ("users", "0", "whole number of users"),
        ("users", "ten", "whole number of users"),
        ("country", "XX", "Choose one of the options offered"),
        ("name", "", "Enter your name."),
    ],
)
def test_bad_input_gets_a_clear_error_next_to_the_field_and_keeps_everything(app, client, field, value, message):
    data = demo_data(demo_page(client), **{field: value})
    response = client.post("/en/demo", data=data)
    assert response.status_code == 422
    html = response.text
    error = html.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert f'aria-describedby="{field}-error"' in html or f' {field}-error"' in html
    assert 'id="error-summary"' in html
    assert "<script>alert" not in html and "<b>team</b>" not in html
    for other in ("name", "email", "company", "phone", "users"):
        if other != field:
            assert f'value="{escape(data[other])}"' in html
    if field != "message":
        assert escape(data["message"]) in html
    assert count(app, Lead) == 0


@pytest.mark.parametrize(("lang", "message"), [
    ("de", "Wählen Sie eine der angebotenen Optionen."), ("fr", "Choisissez l’une des options proposées."),
    ("nl", "Kies een van de aangeboden opties."), ("en", "Choose one of the options offered.")])
def test_wtforms_own_messages_follow_the_page_language(client, lang, message):
    # A tampered select gets the site's own message, with the language's typography
    # (’ in French), not WTForms' catalogue ("N'est pas un choix valide.").
    for _ in range(2):  # the catalogue is read once per language, then reused
        data = demo_data(demo_page(client, lang), country="XX")
        response = client.post(f"/{lang}/demo", data=data)
        assert response.status_code == 422
        assert str(escape(message)) in response.text.split('id="country-error">', 1)[1].split("</p>", 1)[0]
    page = client.get(f"/{lang}/privacy/inquiry").text
    response = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, request_type="everything"))
    assert response.status_code == 422
    assert str(escape(message)) in response.text.split('id="request_type-error">', 1)[1].split("</p>", 1)[0]


def test_invalid_utf8_is_an_error_not_a_crash(app, client):
    data = demo_data(demo_page(client))
    data.pop("name")
    body = urlencode(data).encode() + b"&name=Anna%FF%FESchmidt"
    response = client.post("/en/demo", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "characters we cannot read" in response.text
    assert count(app, Lead) == 0


def test_database_outage_keeps_the_input_and_says_so(app, client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(leads, "file_inquiry", broken)
    page = client.get("/nl/privacy/inquiry").text
    response = client.post("/nl/privacy/inquiry", data=inquiry_data(page, details="Mijn vraag"))
    assert response.status_code == 503
    html = response.text
    assert "Traceback" not in html and "database is locked" not in html
    assert "Wij konden uw verzoek" in html
    assert 'value="Camille Martin"' in html and "Mijn vraag" in html
    assert "could not save a privacy-inquiry submission" in caplog.text


def test_database_down_for_real(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3", CLOCK=lambda: NOW)
    client = app.test_client()
    page = client.get("/en/privacy/inquiry").text
    response = client.post("/en/privacy/inquiry", data=inquiry_data(page))
    assert response.status_code == 503
    assert 'value="Camille Martin"' in response.text


@pytest.mark.parametrize("form_class", ["DemoForm", "InquiryForm"])
def test_every_visible_field_has_a_place_in_the_error_summary(app, form_class):
    from iptor_site import webforms

    with app.test_request_context("/en/demo"):
        form = getattr(webforms, form_class)()
        visible = set(form._fields) - {"csrf_token", "started", "website", "time_zone"}
        assert set(form.display_order) == visible
