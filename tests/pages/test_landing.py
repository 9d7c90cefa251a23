"""The landing page: the buyer's problem, the price, the way to a demo, and what the site does with data."""

import re

import pytest

from iptor_site.core.locales import LOCALES

HEADLINE = {
    "en": "All your day-to-day business processes in one module",
    "nl": "Al uw dagelijkse bedrijfsprocessen in één module",
    "fr": "L’ensemble de vos processus commerciaux quotidiens dans un seul module",
    "de": "Alle Ihre täglichen Geschäftsprozesse in einem Modul",
}
PRICE = {"en": "€35.00", "nl": "€\xa035,00", "fr": "35,00\xa0€", "de": "35,00\xa0€"}


def main_of(html):
    return html.split('<main id="main" tabindex="-1">', 1)[1].split("</main>", 1)[0]


def section(html, title_id):
    return html.split(f'aria-labelledby="{title_id}"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize("lang", LOCALES)
def test_hero_states_the_problem_the_price_and_two_actions(client, lang):
    html = main_of(client.get(f"/{lang}/").text)
    hero = section(html, "hero-title")
    assert f'<h1 id="hero-title">{HEADLINE[lang]}</h1>' in hero
    assert PRICE[lang] in hero
    actions = re.findall(r'<a class="button (button-[a-z]+)" href="([^"]+)"', hero)
    assert actions == [("button-primary", f"/{lang}/demo"), ("button-secondary", f"/{lang}/pricing")]
    assert "{" not in html and "}" not in html  # every placeholder filled


@pytest.mark.parametrize("lang", LOCALES)
def test_three_inclusions_each_with_an_icon_and_three_steps(client, lang):
    html = main_of(client.get(f"/{lang}/").text)
    included = section(html, "included-title")
    features = re.findall(r'<li class="card feature">(.*?)</li>', included, re.S)
    assert len(features) == 3
    for feature in features:
        assert re.search(r'<svg class="icon"[^>]*aria-hidden="true"', feature)
        assert "<h3>" in feature
    assert "10" in features[1]
    steps = re.findall(r'<li class="step">', section(html, "steps-title"))
    assert len(steps) == 3


def test_steps_follow_the_clients_copy_in_english(client):
    steps = section(main_of(client.get("/en/").text), "steps-title")
    titles = re.findall(r"<h3>([^<]+)</h3>", steps)
    assert titles == ["Book a free demo", "10 days of guided onboarding", "Monthly self-service updates"]


@pytest.mark.parametrize("lang", LOCALES)
def test_your_data_block_links_to_policy_inquiry_and_cookie_settings(client, lang):
    block = section(main_of(client.get(f"/{lang}/").text), "privacy-title")
    assert len(re.findall(r'<li class="feature feature-plain">', block)) == 3
    for href in (f"/{lang}/privacy", f"/{lang}/privacy/inquiry", f"/{lang}/cookies"):
        assert f'href="{href}"' in block
        assert client.get(href).status_code == 200


def test_the_claims_of_the_data_block_hold_on_this_site(make_app):
    """No third-party script, style or font on the page; tags only once consented."""
    client = make_app(GA_MEASUREMENT_ID="G-TEST1234").test_client()
    response = client.get("/en/")
    html = response.text
    assert "No third-party scripts or fonts" in html
    assert "No tracking before you consent" in html
    assert not re.search(r'<(?:script|link rel="(?:stylesheet|preload|icon)")[^>]*(?:src|href)="(?:https?:)?//', html)
    # Before a choice, the browser is allowed to load scripts, styles and fonts from this site only.
    policy = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == policy["style-src"] == policy["font-src"] == "'self'"
    assert "We answer within one month" in html
    # The cookie page says the same as the block: only necessary cookies until you agree to more.
    assert "until then the site uses only the cookies it needs to work" in html
    assert "Only necessary cookies are used until you agree to more." in client.get("/en/cookies").text


@pytest.mark.parametrize("lang", LOCALES)
def test_faq_is_a_list_of_disclosures_and_a_closing_call_to_action(client, lang):
    html = main_of(client.get(f"/{lang}/").text)
    faq = section(html, "faq-title")
    assert len(re.findall(r"<details>\s*<summary>[^<]+</summary>\s*<p>[^<]+</p>\s*</details>", faq)) == 4
    closing = section(html, "cta-title")
    assert f'<a class="button button-primary" href="/{lang}/demo">' in closing


def test_the_page_title_and_description_come_from_the_content_file(client):
    html = client.get("/de/").text
    assert "<title>Iptor multiflex Basismodul: alle Ihre täglichen Geschäftsprozesse in einem Modul | Iptor</title>" in html
    assert 'content="Das Iptor multiflex Basismodul deckt alle Ihre täglichen Geschäftsprozesse ab. Ab 35,00\xa0€' in html
