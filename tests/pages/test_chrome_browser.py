"""The site's chrome in a real browser: the header on a phone, the language and menu
disclosures without JavaScript, the cookie banner's size, the dark theme and the console."""

import re
from urllib.parse import urlsplit

import pytest

from checkers import axe_failures
from iptor_site.core.locales import LOCALES
from pagestates import TRACKING, all_states

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
PUBLIC = ["/", "/pricing", "/privacy", "/demo", "/privacy/inquiry", "/cookies", "/company"]


@pytest.fixture
def app(make_app):
    return make_app(**TRACKING)


@pytest.fixture
def phone(browser, server):
    context = browser.new_context(base_url=server, viewport=PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_without_js(browser, server):
    context = browser.new_context(base_url=server, viewport=PHONE, java_script_enabled=False)
    yield context.new_page()
    context.close()


def header_rows(page) -> dict:
    """The header's height and the vertical extent of each of its visible parts."""
    return page.evaluate("""() => {
        const header = document.querySelector('.site-header').getBoundingClientRect();
        const parts = [...document.querySelectorAll('.header-inner > *')]
            .filter(el => getComputedStyle(el).display !== 'none')
            .map(el => { const r = el.getBoundingClientRect(); return [el.className, r.top, r.bottom, r.right]; });
        return {height: header.height, parts, scrollWidth: document.documentElement.scrollWidth};
    }""")


@pytest.mark.parametrize("lang", LOCALES)
def test_on_a_phone_the_header_is_one_compact_row(phone, lang):
    for path in PUBLIC:
        phone.goto(f"/{lang}{path}")
        found = header_rows(phone)
        names = [name for name, *_ in found["parts"]]
        assert names == ["brand", "disclosure site-menu", "disclosure lang-menu"], (lang, path, names)
        tops = [top for _, top, _, _ in found["parts"]]
        bottoms = [bottom for _, _, bottom, _ in found["parts"]]
        assert max(tops) < min(bottoms), (lang, path, found)  # side by side: one row
        assert found["height"] <= 72, (lang, path, found)
        assert max(right for *_, right in found["parts"]) <= PHONE["width"], (lang, path, found)
        assert found["scrollWidth"] <= PHONE["width"], (lang, path, found)


@pytest.mark.parametrize("lang", LOCALES)
def test_on_a_desktop_the_navigation_shows_and_the_menu_does_not(browser, server, lang):
    context = browser.new_context(base_url=server, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"/{lang}/pricing")
    found = header_rows(page)
    context.close()
    assert [name for name, *_ in found["parts"]] == ["brand", "main-nav", "disclosure lang-menu"]
    assert max(top for _, top, _, _ in found["parts"]) < min(bottom for _, _, bottom, _ in found["parts"])


def test_the_language_disclosure_works_without_javascript(phone_without_js):
    page = phone_without_js
    page.goto("/de/pricing")
    french = page.get_by_role("link", name="Français")
    assert not french.is_visible()
    page.locator(".lang-menu summary").click()
    assert french.is_visible()
    french.click()
    page.wait_for_url(re.compile(r"/fr/pricing$"))
    assert page.locator("html").get_attribute("lang") == "fr"


def test_the_menu_disclosure_holds_the_navigation_without_javascript(phone_without_js):
    page = phone_without_js
    page.goto("/nl/")
    menu = page.locator(".site-menu")
    assert not menu.get_by_role("link", name="Prijzen").is_visible()
    menu.locator("summary").click()
    menu.get_by_role("link", name="Prijzen").click()
    page.wait_for_url(re.compile(r"/nl/pricing$"))


def banner_box(page) -> dict:
    return page.evaluate("""() => {
        const banner = document.getElementById('consent-banner').getBoundingClientRect();
        const h1 = document.querySelector('h1').getBoundingClientRect();
        const buttons = [...document.querySelectorAll('.consent-actions > .button-consent')]
            .map(b => { const r = b.getBoundingClientRect(); return [r.width, b.scrollWidth - b.clientWidth, r.top]; });
        return {top: banner.top, bottom: banner.bottom, height: banner.height, h1Bottom: h1.bottom,
                viewport: window.innerHeight, buttons};
    }""")


@pytest.mark.parametrize("lang", LOCALES)
def test_on_a_phone_the_cookie_banner_is_a_bottom_sheet_of_at_most_30_percent(browser, server, lang):
    for js in (True, False):
        context = browser.new_context(base_url=server, viewport=PHONE, java_script_enabled=js)
        page = context.new_page()
        page.goto(f"/{lang}/")
        box = banner_box(page)
        context.close()
        assert box["bottom"] == box["viewport"] == PHONE["height"], (lang, js, box)
        assert box["height"] / box["viewport"] <= 0.30, (lang, js, box)
        assert box["h1Bottom"] <= box["top"], (lang, js, box)  # the headline stays visible
        widths = {round(width) for width, _, _ in box["buttons"]}
        assert [overflow for _, overflow, _ in box["buttons"]] == [0, 0, 0], (lang, js, box)  # the labels fit
        tops = {round(top) for _, _, top in box["buttons"]}
        assert len(box["buttons"]) == 3 and len(widths) == 1 and len(tops) == 1, (lang, js, box)


@pytest.mark.parametrize("width", [390, 1366])
def test_no_wcag_violations_in_the_dark_theme(browser, server, client, axe_source, width):
    states = all_states(client)
    context = browser.new_context(base_url=server, bypass_csp=True, color_scheme="dark",
                                  viewport={"width": width, "height": 900})
    page = context.new_page()
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    failures = axe_failures(page, server, states, axe_source, route="__dark_state")
    context.close()
    assert failures == []


def test_the_dark_theme_changes_the_page_colours(browser, server):
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(base_url=server, color_scheme=scheme)
        page = context.new_page()
        page.goto("/en/company")
        colours[scheme] = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        context.close()
    assert colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(15, 23, 34)"}


@pytest.mark.parametrize("lang", LOCALES)
def test_public_pages_log_no_console_error_and_load_nothing_from_another_host(browser, server, lang):
    context = browser.new_context(base_url=server, viewport=PHONE)
    page = context.new_page()
    errors, hosts, failed = [], set(), []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: hosts.add(urlsplit(req.url).hostname))
    page.on("response", lambda res: res.status >= 400 and failed.append(res.url))
    for path in PUBLIC:
        page.goto(f"/{lang}{path}")
        page.wait_for_load_state("load")
    # Chromium asks for the icon on its own: it must be there.
    assert page.evaluate("fetch('/favicon.ico').then(r => r.status)") == 200
    context.close()
    assert errors == [] and failed == []
    assert hosts == {"127.0.0.1"}
