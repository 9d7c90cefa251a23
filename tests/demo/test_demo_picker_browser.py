"""The demo time picker with JavaScript: a month grid over the free times, used with
the keyboard alone, and checked with axe."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from iptor_site.core.extensions import db
from iptor_site.core.settings import PROJECT_ROOT
from iptor_site.models import DemoBooking

pytestmark = pytest.mark.browser
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: MONDAY_NOON)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, locale="de-DE", timezone_id="Europe/Berlin",
                                  bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def focused(page, attribute):
    return page.evaluate(f"() => document.activeElement.getAttribute('{attribute}')")


def tab_to(page, test, limit=60):
    """Press Tab until ``test`` (a JS expression on document.activeElement ``el``) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!({test}); }}"):
            return
    raise AssertionError(f"Tab never reached {test}")


def axe_violations(page):
    page.add_script_tag(content=AXE.read_text("utf-8"))
    return page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))", WCAG21_AA)


def test_book_a_demo_with_the_keyboard_alone(app, page):
    page.goto("/de/demo")
    page.locator(".slot-calendar .slot-grid").wait_for()
    # The radio buttons and week buttons give way to the grid; one field carries the choice.
    assert page.locator(".slot-days").is_hidden()
    assert page.locator('input[type="radio"][name="slot"]:not([disabled])').count() == 0
    assert page.locator(".slot-calendar h3").inner_text() == "Dezember 2026"

    page.locator("#tz").focus()
    tab_to(page, "el.classList.contains('slot-day-button')")
    # The first free day has the focus; the grid is one tab stop.
    assert focused(page, "data-date") == "2026-12-01"
    assert page.evaluate("() => document.activeElement.querySelector('.visually-hidden').textContent") == (
        "Dienstag, 1. Dezember 2026")  # the button's name; its visible text is "1"
    page.keyboard.press("ArrowRight")
    assert focused(page, "data-date") == "2026-12-02"
    page.keyboard.press("ArrowDown")
    assert focused(page, "data-date") == "2026-12-09"
    page.keyboard.press("End")  # the end of the week: Sunday, no demos
    assert focused(page, "data-date") == "2026-12-13"
    assert focused(page, "aria-disabled") == "true"
    page.keyboard.press("Enter")  # a day without free times offers none
    assert page.locator(".slot-time-button").count() == 0
    page.keyboard.press("Home")
    assert focused(page, "data-date") == "2026-12-07"
    page.keyboard.press("ArrowLeft")  # across weeks
    assert focused(page, "data-date") == "2026-12-06"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert focused(page, "data-date") == "2026-12-09"
    page.keyboard.press("Enter")  # the day's times, as buttons, with the focus on the first
    assert page.locator(".slot-times-panel h4").inner_text() == "Freie Termine am Mittwoch, 9. Dezember 2026"
    assert focused(page, "data-slot") == "2026-12-09T08:00Z"
    assert page.locator(".slot-time-button").first.inner_text() == "09:00"  # 24-hour clock, Berlin
    page.keyboard.press("Tab")
    assert focused(page, "data-slot") == "2026-12-09T08:45Z"
    page.keyboard.press("Enter")
    assert focused(page, "aria-pressed") == "true"
    assert page.locator('input[type="hidden"][name="slot"]').input_value() == "2026-12-09T08:45Z"
    assert page.locator("#slot-chosen-live").inner_text() == "Ihr gewählter Termin: Mittwoch, 9. Dezember 2026, 09:45"
    # The chosen day is marked in the grid.
    assert page.locator('[data-date="2026-12-09"]').get_attribute("class") == "slot-day-button slot-day-chosen"

    for field, value in (("name", "Jonas Weber"), ("email", "jonas.weber@example.at"),
                         ("company", "Weber Handels GmbH")):
        tab_to(page, f"el.id === '{field}'")
        page.keyboard.type(value)
    tab_to(page, "el.id === 'country'")
    page.keyboard.type("Deutschland")  # the select's type-ahead
    tab_to(page, "el.id === 'users'")
    page.keyboard.type("40")
    tab_to(page, "el.id === 'privacy_notice'")
    page.keyboard.press("Space")
    tab_to(page, "el.type === 'submit' && el.closest('.form-actions')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/de/demo/booked$"))
    with app.app_context():
        booking = db.session.scalars(select(DemoBooking)).one()
        assert booking.slot_start == datetime(2026, 12, 9, 8, 45, tzinfo=UTC)
        assert (booking.country, booking.time_zone) == ("DE", "Europe/Berlin")


def test_page_keys_turn_the_month_within_the_free_times(app, browser, server):
    app.config["CLOCK"] = lambda: datetime(2026, 12, 14, 11, 0, tzinfo=UTC)  # read on every request
    context = browser.new_context(base_url=server, locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    page.goto("/fr/demo")
    page.locator(".slot-calendar .slot-grid").wait_for()
    page.locator('.slot-day-button[tabindex="0"]').focus()
    assert focused(page, "data-date") == "2026-12-15"
    page.keyboard.press("PageDown")
    assert page.locator(".slot-calendar h3").inner_text() == "janvier 2027"
    assert focused(page, "data-date") == "2027-01-15"
    # Holidays and the Swedish Christmas Eve are disabled days.
    assert page.locator('[data-date="2027-01-01"]').get_attribute("aria-disabled") == "true"
    page.keyboard.press("PageUp")
    assert focused(page, "data-date") == "2026-12-15"
    assert page.locator('[data-date="2026-12-24"]').get_attribute("aria-disabled") == "true"
    assert page.locator('[data-date="2026-12-23"]').get_attribute("aria-disabled") is None
    context.close()


def test_the_calendar_follows_a_change_of_time_zone(app, page):
    page.goto("/de/demo")
    page.locator(".slot-calendar .slot-grid").wait_for()
    page.locator('[data-date="2026-12-01"]').click()
    assert page.locator(".slot-time-button").first.inner_text() == "09:00"
    page.locator("#tz").select_option("America/New_York")
    page.wait_for_function("() => document.getElementById('time_zone').value === 'America/New_York'")
    page.locator('[data-date="2026-12-01"]').click()
    page.wait_for_function("() => document.querySelector('.slot-time-button').textContent === '03:00'")
    assert "Nordamerikanische Ostküstenzeit (UTC-05:00)" in page.locator("#slot-zone").inner_text()


def test_no_wcag_violations_in_the_calendar(app, page, server):
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto("/de/demo")
    page.locator(".slot-calendar .slot-grid").wait_for()
    page.locator('[data-date="2026-12-02"]').click()
    page.locator(".slot-time-button").nth(1).click()
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 1366, "height": 900})
    assert axe_violations(page) == []
