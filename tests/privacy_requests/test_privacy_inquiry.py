"""Privacy inquiries: every request type the policy promises, with its due date."""

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from formhelpers import inquiry_data
from iptor_site.core.extensions import db
from iptor_site.models import PrivacyInquiry
from iptor_site.privacy_requests.forms import REQUEST_TYPES

RECEIVED = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: RECEIVED)


DETAILS = {"rectification": "My surname is misspelt.", "objection": "I object to profiling.",
           "complaint": "Why did I get this e-mail?"}


@pytest.mark.parametrize("request_type", list(REQUEST_TYPES))
def test_each_request_type_is_stored_with_its_due_date(app, client, request_type):
    page = client.get(f"/en/privacy/inquiry?type={request_type}").text
    assert re.search(rf'<option selected value="{request_type}">|<option value="{request_type}" selected>', page)
    data = inquiry_data(page, request_type=request_type, details=DETAILS.get(request_type, ""),
                        california_resident="y" if request_type == "sb27" else None)
    response = client.post("/en/privacy/inquiry", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/en/privacy/inquiry/received"
    with app.app_context():
        inquiry = db.session.scalars(select(PrivacyInquiry)).one()
        assert inquiry.request_type == request_type
        assert inquiry.received_at == RECEIVED
        assert inquiry.due_on == date(2026, 12, 30)
        assert inquiry.california_resident is (request_type == "sb27")
        assert inquiry.lead.kind == "inquiry"
    page = client.get("/en/privacy/inquiry/received").text
    assert "30 December 2026" in page
    assert str(REQUEST_TYPES[request_type]) in page


@pytest.mark.parametrize(
    ("lang", "due"),
    [("nl", "30 december 2026"), ("fr", "30 décembre 2026"), ("de", "30. Dezember 2026")],
)
def test_confirmation_states_the_due_date_in_the_visitors_language(client, lang, due):
    page = client.get(f"/{lang}/privacy/inquiry").text
    assert client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page)).status_code == 303
    page = client.get(f"/{lang}/privacy/inquiry/received").text
    assert f"<dd>{due}</dd>" in page
    assert f'<html lang="{lang}">' in page


def test_sb27_needs_california_residency(app, client):
    page = client.get("/en/privacy/inquiry?type=sb27").text
    response = client.post("/en/privacy/inquiry", data=inquiry_data(page, request_type="sb27"))
    assert response.status_code == 422
    assert "California resident" in response.text
    assert 'value="Camille Martin"' in response.text
    with app.app_context():
        assert db.session.scalars(select(PrivacyInquiry)).all() == []


@pytest.mark.parametrize("request_type", sorted(DETAILS))
def test_details_are_required_where_we_cannot_act_without_them(client, request_type):
    page = client.get("/en/privacy/inquiry").text
    response = client.post("/en/privacy/inquiry", data=inquiry_data(page, request_type=request_type))
    assert response.status_code == 422
    assert "Please describe your request" in response.text


def test_unknown_request_type_is_refused(client):
    page = client.get("/en/privacy/inquiry?type=nonsense").text
    assert "selected" not in re.search(r'<select[^>]*name="request_type".*?</select>', page, re.S).group(0)
    response = client.post("/en/privacy/inquiry", data=inquiry_data(page, request_type="nonsense"))
    assert response.status_code == 422


def test_the_policys_inquiry_links_land_on_the_form_with_the_type_chosen(client):
    policy = client.get("/de/privacy").text
    for request_type in ("erasure", "marketing-opt-out", "sb27", "rectification", "complaint"):
        assert f'href="/de/privacy/inquiry?type={request_type}"' in policy
        page = client.get(f"/de/privacy/inquiry?type={request_type}").text
        assert re.search(rf'<option selected value="{request_type}">|<option value="{request_type}" selected>', page)


def test_received_page_needs_an_inquiry_of_ones_own(client):
    assert client.get("/en/privacy/inquiry/received").headers["Location"] == "/en/privacy/inquiry"
