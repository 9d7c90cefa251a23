"""The pricing page's plan card and estimator: billing, tax note, default, messages and "talk to us"."""

import re

import pytest

from iptor_site import create_app
from iptor_site.core.locales import LOCALES
from iptor_site.core.settings import ConfigError


def main_of(html):
    return html.split('<main id="main" tabindex="-1">', 1)[1].split("</main>", 1)[0]


def texts(html):
    return dict(re.findall(r'data-field="([a-z_]+)">([^<]*)<', html))


PER_MONTH_45 = {"en": "€1,575.00 per month", "nl": "€\xa01.575,00 per maand",
                "fr": "1\u202f575,00\xa0€ par mois", "de": "1.575,00\xa0€ pro Monat"}
FROM = {"en": "from", "nl": "vanaf", "fr": "à partir de", "de": "ab"}


@pytest.mark.parametrize("lang", LOCALES)
def test_a_flat_per_user_estimate_is_a_total_not_a_from(client, lang):
    html = main_of(client.get(f"/{lang}/pricing?users=45").text)
    assert texts(html)["per_month"] == PER_MONTH_45[lang]
    estimate = " ".join(texts(html).values())
    assert not re.search(rf"\b{FROM[lang]}\b", estimate, re.I), estimate
    # The list price keeps the client's "from".
    assert f'<span class="price-from">{FROM[lang]}</span>' in html


def test_the_json_estimate_matches_the_page(client):
    data = client.get("/en/pricing/estimate?users=45").get_json()
    assert data == {"state": "ok", "summary": "Estimate for 45 users", "per_month": "€1,575.00 per month",
                    "per_term": "€18,900.00 for a 12-month subscription", "demo_url": "/en/demo?users=45"}


@pytest.mark.parametrize("lang", LOCALES)
def test_without_a_number_in_the_link_the_estimator_starts_at_10_users(client, lang):
    html = main_of(client.get(f"/{lang}/pricing").text)
    assert 'value="10"' in html
    assert 'id="estimate-result" aria-live="polite">' in html
    assert texts(html)["per_month"] == client.get(f"/{lang}/pricing/estimate?users=10").get_json()["per_month"]
    # The default is ours, not the visitor's: the demo link does not carry it.
    assert f'id="demo-cta" href="/{lang}/demo"' in html


def test_a_number_in_the_link_is_the_starting_value(client):
    html = main_of(client.get("/de/pricing?users=25").text)
    assert 'value="25"' in html
    assert texts(html)["summary"] == "Schätzung für 25 Nutzer"
    assert 'id="demo-cta" href="/de/demo?users=25"' in html


MESSAGES = {
    "letters": ("abc", {"en": "Enter the number of users in digits only, for example 25.",
                        "de": "Geben Sie die Anzahl der Nutzer nur in Ziffern ein, zum Beispiel 25."}),
    "decimal": ("2.5", {"en": "Enter the number of users in digits only, for example 25.",
                        "de": "Geben Sie die Anzahl der Nutzer nur in Ziffern ein, zum Beispiel 25."}),
    "negative": ("-3", {"en": "Enter the number of users in digits only, for example 25.",
                        "de": "Geben Sie die Anzahl der Nutzer nur in Ziffern ein, zum Beispiel 25."}),
    "zero": ("0", {"en": "Enter at least 1 user.", "de": "Geben Sie mindestens 1 Nutzer ein."}),
    "zeros": ("000", {"en": "Enter at least 1 user.", "de": "Geben Sie mindestens 1 Nutzer ein."}),
    "empty": ("", {"en": "Enter the number of users.", "de": "Geben Sie die Anzahl der Nutzer ein."}),
}


@pytest.mark.parametrize("case", MESSAGES)
@pytest.mark.parametrize("lang", ["en", "de"])
def test_each_problem_has_its_own_message_on_the_page_and_in_the_live_check(client, case, lang):
    raw, message = MESSAGES[case]
    response = client.get(f"/{lang}/pricing", query_string={"users": raw})
    assert response.status_code == 200
    html = main_of(response.text)
    assert f'<div id="users-status" class="field-status" aria-live="polite"><p class="error" id="users-error">{message[lang]}</p></div>' in html
    assert 'aria-invalid="true"' in html and f'value="{raw}"' in html
    assert 'id="estimate-result" aria-live="polite" hidden' in html
    live = client.get(f"/{lang}/pricing/estimate", query_string={"users": raw})
    assert live.status_code == 400
    assert live.get_json()["state"] == "invalid"
    assert live.get_json()["message"] == message[lang]


@pytest.mark.parametrize("raw", ["10001", "20000", "9" * 40])
@pytest.mark.parametrize("lang", LOCALES)
def test_above_10000_the_visitor_is_offered_to_talk_to_us_instead_of_an_error(client, lang, raw):
    html = main_of(client.get(f"/{lang}/pricing", query_string={"users": raw}).text)
    assert 'aria-invalid' not in html and 'id="users-error"' not in html
    assert 'id="estimate-result" aria-live="polite" hidden' in html
    talk = html.split('<div class="talk" id="talk-to-us" aria-live="polite">', 1)[1].split("</div>", 1)[0]
    assert {"en": "10,000", "nl": "10.000", "fr": "10\u202f000", "de": "10.000"}[lang] in talk
    assert f'<a class="button button-primary" href="/{lang}/demo">' in talk
    data = client.get(f"/{lang}/pricing/estimate", query_string={"users": raw}).get_json()
    assert data["state"] == "talk" and data["demo_url"] == f"/{lang}/demo"
    assert data["message"] == texts(html)["talk"]


def test_up_to_10000_there_is_an_estimate(client):
    html = main_of(client.get("/en/pricing?users=10000").text)
    assert texts(html)["per_month"] == "€350,000.00 per month"
    assert 'id="talk-to-us" aria-live="polite" hidden' in html


@pytest.mark.parametrize(("months", "lang", "text"), [
    (12, "en", "Billed for a 12-month subscription."),
    (24, "en", "Billed for a 24-month subscription."),
    (12, "de", "Abgerechnet für ein Abonnement über 12 Monate."),
    (12, "fr", "Facturé pour un abonnement de 12\xa0mois."),
    (12, "nl", "Gefactureerd voor een abonnement van 12 maanden."),
])
def test_the_plan_card_says_how_the_price_is_billed(make_app, months, lang, text):
    html = make_app(SUBSCRIPTION_MONTHS=months).test_client().get(f"/{lang}/pricing").text
    assert f'<p class="price-terms">{text}</p>' in html
    assert {"en": "per user per month", "nl": "per gebruiker per maand", "fr": "par utilisateur et par mois",
            "de": "pro Nutzer und Monat"}[lang] in html


@pytest.mark.parametrize(("basis", "lang", "note"), [
    ("excl_vat", "en", "Prices exclude VAT."),
    ("incl_vat", "en", "Prices include VAT."),
    ("excl_vat", "de", "Preise zuzüglich MwSt."),
    ("incl_vat", "fr", "Prix TVA comprise."),
    ("excl_vat", "nl", "Prijzen zijn exclusief btw."),
])
def test_the_tax_note_follows_price_tax_basis(make_app, basis, lang, note):
    html = make_app(PRICE_TAX_BASIS=basis).test_client().get(f"/{lang}/pricing").text
    assert re.search(rf'<p class="price-terms">[^<]+ {re.escape(note)}</p>', html)


def test_without_price_tax_basis_there_is_no_tax_note(client):
    for lang in LOCALES:
        terms = client.get(f"/{lang}/pricing").text.split('<p class="price-terms">', 1)[1].split("</p>", 1)[0]
        assert not re.search(r"VAT|btw|TVA|MwSt", terms)


def test_a_bad_price_tax_basis_stops_start_up(monkeypatch):
    monkeypatch.setenv("PRICE_TAX_BASIS", "vat")
    with pytest.raises(ConfigError) as refused:
        create_app({"SECRET_KEY": "x" * 40})
    assert str(refused.value).startswith("PRICE_TAX_BASIS") and "'vat'" in str(refused.value)


def test_the_tax_basis_is_part_of_the_content_version(make_app):
    assert (make_app(PRICE_TAX_BASIS="excl_vat").extensions["content_version"]
            != make_app().extensions["content_version"])


@pytest.mark.parametrize("lang", LOCALES)
def test_pricing_faq_answers_the_three_questions(client, lang):
    html = main_of(client.get(f"/{lang}/pricing").text)
    faq = html.split('aria-labelledby="faq-title"', 1)[1].split("</section>", 1)[0]
    answers = re.findall(r"<details>\s*<summary>[^<]+</summary>\s*<p>([^<]+)</p>", faq)
    assert len(answers) == 3
    assert "10" in answers[0] and "12" in answers[1] and "45" in answers[2]
