"""The estimator in Chromium: checked as the visitor types, no Calculate button, "talk to us" above 10,000."""

import re

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server)
    page = context.new_page()
    yield page
    context.close()


def test_the_estimator_checks_as_the_visitor_types(page):
    page.goto("/en/pricing")
    users, error, result, talk = (page.locator(s) for s in ("#users", "#users-error", "#estimate-result", "#talk-to-us"))
    assert users.input_value() == "10"
    assert page.locator(".estimator-submit").is_hidden()
    assert page.locator("#users-status").get_attribute("aria-live") == "polite"

    users.fill("12a")
    error.filter(has_text="Enter the number of users in digits only, for example 25.").wait_for()
    assert users.get_attribute("aria-invalid") == "true"
    assert users.get_attribute("aria-describedby") == "users-hint users-error"
    assert result.is_hidden() and talk.is_hidden()

    users.fill("0")
    error.filter(has_text="Enter at least 1 user.").wait_for()

    users.fill("20000")
    talk.wait_for(state="visible")
    assert error.count() == 0 and users.get_attribute("aria-invalid") is None
    assert talk.get_by_role("link", name="Talk to us").get_attribute("href") == "/en/demo"
    assert "10,000" in talk.inner_text()
    assert result.is_hidden()

    users.fill("45")
    page.locator('[data-field="per_month"]').filter(has_text="€1,575.00 per month").wait_for()
    assert talk.is_hidden() and error.count() == 0
    assert page.get_attribute("#demo-cta", "href") == "/en/demo?users=45"
    assert page.url.endswith("/en/pricing"), "checking must not reload the page"


def test_the_live_messages_are_in_the_pages_language(page):
    page.goto("/fr/pricing?users=3")
    page.fill("#users", "trois")
    page.locator("#users-error").filter(
        has_text="Indiquez le nombre d’utilisateurs en chiffres uniquement, par exemple 25.").wait_for()
    page.fill("#users", "12000")
    page.locator("#talk-to-us").filter(has_text="10\u202f000").wait_for()
    assert page.get_by_role("link", name="Parlons-en").is_visible()


def test_without_javascript_the_form_offers_talk_to_us_above_10000(browser, server):
    context = browser.new_context(base_url=server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/de/pricing")
    assert page.locator("#users").input_value() == "10"
    page.fill("#users", "15000")
    page.get_by_role("button", name="Berechnen").click()
    page.wait_for_url(re.compile(r"/de/pricing\?users=15000"))
    assert page.locator("#users").input_value() == "15000"
    assert page.locator("#users").get_attribute("aria-invalid") is None
    page.get_by_role("link", name="Sprechen Sie mit uns").click()
    page.wait_for_url(re.compile(r"/de/demo$"))
    context.close()
