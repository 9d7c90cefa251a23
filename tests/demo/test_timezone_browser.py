"""The browser's own time zone on the demo form, when the list does not have it."""

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("locale", "lang", "zone", "label"), [
    ("de-DE", "de", "America/Argentina/Cordoba", "Argentinien (Córdoba) – UTC\u22123"),
    ("fr-FR", "fr", "Asia/Kathmandu", "Népal (heure locale) – UTC+5:45"),
])
def test_a_zone_outside_the_list_shows_its_localized_name(browser, server, locale, lang, zone, label):
    context = browser.new_context(base_url=server, locale=locale, timezone_id=zone)
    page = context.new_page()
    page.goto(f"/{lang}/demo")
    # Chromium may report an older name of the zone ("America/Cordoba"): the server labels it.
    page.wait_for_function("label => document.getElementById('tz').selectedOptions[0].textContent === label", arg=label)
    assert page.locator("#tz").input_value() == page.locator("#time_zone").input_value()
    assert "/" not in page.locator("#tz option:checked").inner_text()
    context.close()
