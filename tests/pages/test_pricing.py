"""The price and the seat estimator, formatted per locale."""

from decimal import Decimal

import pytest
from markupsafe import escape

FORMATS = {
    # Babel's locale data: the currency sign, its side and the separators differ.
    "en": "€35.00",
    "nl": "€\xa035,00",
    "fr": "35,00\xa0€",
    "de": "35,00\xa0€",
}


@pytest.mark.parametrize(("lang", "price"), FORMATS.items())
def test_price_is_formatted_by_babel_per_locale(client, lang, price):
    html = client.get(f"/{lang}/pricing").text
    assert f'<span class="price-amount">{price}</span>' in html


def test_changing_the_setting_changes_every_page(make_app):
    client = make_app(PRICE_PER_USER_MONTH=Decimal("42.5")).test_client()
    expected = {"en": "€42.50", "nl": "€\xa042,50", "fr": "42,50\xa0€", "de": "42,50\xa0€"}
    for lang, price in expected.items():
        assert f'<span class="price-amount">{price}</span>' in client.get(f"/{lang}/pricing").text
        assert price in client.get(f"/{lang}/").text


@pytest.mark.parametrize(
    ("lang", "per_month", "per_term"),
    [
        ("en", "€8,750.00", "€105,000.00"),
        ("nl", "€\xa08.750,00", "€\xa0105.000,00"),
        ("fr", "8\u202f750,00\xa0€", "105\u202f000,00\xa0€"),
        ("de", "8.750,00\xa0€", "105.000,00\xa0€"),
    ],
)
def test_estimator_without_javascript(client, lang, per_month, per_term):
    html = client.get(f"/{lang}/pricing?users=250").text
    assert per_month in html
    assert per_term in html
    assert f'href="/{lang}/demo?users=250"' in html
    assert 'value="250"' in html


@pytest.mark.parametrize("users", ["0", "-3", "2.5", "abc", "１２", "<script>"])
def test_estimator_rejects_bad_input_without_losing_it(client, users):
    response = client.get("/de/pricing", query_string={"users": users})
    assert response.status_code == 200
    html = response.text
    main = html.split("<main", 1)[1].split("</main>")[0]
    assert 'aria-invalid="true"' in main
    assert "Geben Sie" in main  # the German error message
    assert "<script>" not in main
    assert f'value="{escape(users)}"' in main
    assert 'id="estimate-result" aria-live="polite" hidden' in html


def test_estimate_endpoint_returns_the_same_figures(client):
    data = client.get("/fr/pricing/estimate?users=3").get_json()
    assert data["per_month"] == "105,00\xa0€ par mois"
    assert "1\u202f260,00\xa0€" in data["per_term"]
    assert data["demo_url"] == "/fr/demo?users=3"
    assert client.get("/fr/pricing/estimate?users=0").status_code == 400


def test_demo_cta_carries_the_number_of_users(client):
    response = client.get("/nl/demo?users=40")
    assert response.status_code == 200
    assert "40" in response.text
