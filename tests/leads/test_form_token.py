"""The forms' time trap: a token tied to the session it was shown to, with a lifetime."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from formhelpers import hidden_fields, inquiry_data
from iptor_site.core.extensions import db
from iptor_site.models import Lead, SpamSubmission

EXPIRED = "This form was open for a long time."
URL = "/en/privacy/inquiry"


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_form_sent_within_its_lifetime_is_taken(app, clock):
    client = app.test_client()
    data = inquiry_data(client.get(URL).text)
    clock.now += timedelta(hours=1, minutes=59)
    assert client.post(URL, data=data).status_code == 303
    assert count(app, Lead) == 1


def test_an_old_form_keeps_the_input_and_asks_to_send_it_again(app, clock):
    client = app.test_client()
    data = inquiry_data(client.get(URL).text, details="Bitte um Auskunft über meine Daten.")
    clock.now += timedelta(hours=2, minutes=1)
    response = client.post(URL, data=data)
    assert response.status_code == 422
    assert EXPIRED in response.text
    assert 'value="Camille Martin"' in response.text and "Bitte um Auskunft über meine Daten." in response.text
    assert count(app, Lead) == 0 and count(app, SpamSubmission) == 0
    # The form shown again carries a fresh token: sending it is accepted.
    again = {**data, **hidden_fields(response.text)}
    assert again["started"] != data["started"]
    assert client.post(URL, data=again).status_code == 303
    assert count(app, Lead) == 1


def test_the_lifetime_is_a_setting(make_app, clock):
    app = make_app(CLOCK=clock, FORM_MAX_AGE_HOURS=1)
    client = app.test_client()
    data = inquiry_data(client.get(URL).text)
    clock.now += timedelta(minutes=61)
    assert EXPIRED in client.post(URL, data=data).text
    assert count(app, Lead) == 0


def test_a_form_replayed_from_another_session_is_not_taken(app):
    shown = app.test_client()
    data = inquiry_data(shown.get(URL).text)
    other = app.test_client()
    other.get(URL)  # a session of its own, with its own CSRF token
    data["csrf_token"] = hidden_fields(other.get(URL).text)["csrf_token"]
    response = other.post(URL, data=data)
    assert response.status_code == 422
    assert EXPIRED in response.text
    assert 'value="Camille Martin"' in response.text
    assert count(app, Lead) == 0


@pytest.mark.parametrize("lang", ["nl", "fr", "de"])
def test_the_request_to_send_again_is_in_the_page_language(app, clock, lang):
    client = app.test_client()
    data = inquiry_data(client.get(f"/{lang}/privacy/inquiry").text)
    clock.now += timedelta(hours=3)
    page = client.post(f"/{lang}/privacy/inquiry", data=data).text
    assert EXPIRED not in page
    assert {"nl": "Dit formulier heeft lang opengestaan.", "fr": "Ce formulaire est resté ouvert longtemps.",
            "de": "Dieses Formular war lange geöffnet."}[lang] in page
