"""Withdrawal in a real browser removes the tags' cookies from the parent domain too.

Google Analytics and HubSpot set their cookies on the registrable domain (``.iptor.com``),
not on the host. Chromium maps ``*.iptor.test`` to loopback, so the site runs as
``www.iptor.test`` and the cookies can be planted on ``.iptor.test``.
"""

import re
import threading

import pytest
from werkzeug.serving import make_server

from conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
HOST = "www.iptor.test"
# Nine cookies the two tags set, by listed name and by documented prefix.
TAG_COOKIES = ["_ga", "_ga_TEST1234", "_ga_OTHER999", "hubspotutk", "__hstc", "__hssc", "messagesUtk",
               "__hs_opt_out", "hs-messages-is-open"]


@pytest.fixture
def site(make_app):
    """The site on a loopback port, answering as www.iptor.test, SITE_URL set to match."""
    app = make_app(GA_MEASUREMENT_ID="G-TEST1234", HUBSPOT_PORTAL_ID="1234567")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SITE_URL"] = f"http://{HOST}:{httpd.server_port}"  # COOKIE_DOMAIN follows: iptor.test
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app.config["SITE_URL"]
    httpd.shutdown()
    thread.join()


@pytest.fixture
def mapped_browser(browser):
    """A second Chromium whose resolver sends *.iptor.test to loopback."""
    mapped = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP *.iptor.test 127.0.0.1"])
    yield mapped
    mapped.close()


@pytest.fixture
def visit(mapped_browser, site):
    contexts = []

    def _visit(**options):
        context = mapped_browser.new_context(base_url=site, **options)
        contexts.append(context)
        # The tags' own scripts are answered locally: nothing leaves the machine.
        context.route(re.compile(r"^https?://(?!www\.iptor\.test[:/])"),
                      lambda route: route.fulfill(status=200, content_type="application/javascript", body=""))
        return context, context.new_page()

    yield _visit
    for context in contexts:
        context.close()


def plant(context, site):
    """What the tags would have left: each cookie on the parent domain, and on the host."""
    context.add_cookies([{"name": name, "value": "tracked", "domain": ".iptor.test", "path": "/"}
                         for name in TAG_COOKIES])
    context.add_cookies([{"name": name, "value": "tracked", "url": site} for name in TAG_COOKIES[:3]])
    planted = [c for c in context.cookies() if c["name"] in TAG_COOKIES]
    assert {c["domain"] for c in planted} == {".iptor.test", HOST}
    assert len(planted) == len(TAG_COOKIES) + 3


def surviving(context):
    return sorted((c["name"], c["domain"]) for c in context.cookies() if c["name"] in TAG_COOKIES)


def accept_without_script(page):
    page.goto("/en/")
    with page.expect_navigation():
        page.get_by_role("button", name="Accept all").click()


def withdraw_on_the_settings_page(page):
    page.goto("/en/cookies")
    page.locator("#settings-analytics").uncheck()
    page.locator("#settings-marketing").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Save my choice").click()
    assert "/en/cookies?saved=1" in page.url


def test_the_banners_script_deletes_them_everywhere(visit, site):
    context, page = visit()
    page.goto("/en/")
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_function("() => document.body.getAttribute('data-consent') === 'analytics marketing'")
    plant(context, site)
    page.get_by_role("link", name="Cookie settings").click()
    page.get_by_label(re.compile("^Analytics")).uncheck()
    page.get_by_label(re.compile("^Marketing")).uncheck()
    page.get_by_role("button", name="Save my choice").click()
    page.wait_for_function("() => document.body.getAttribute('data-consent') === null")
    assert surviving(context) == []


def test_the_settings_page_deletes_them_everywhere(visit, site):
    context, page = visit()
    accept_without_script(page)
    plant(context, site)
    withdraw_on_the_settings_page(page)
    assert surviving(context) == []


def test_without_javascript_they_are_deleted_everywhere(visit, site):
    context, page = visit(java_script_enabled=False)
    accept_without_script(page)
    plant(context, site)
    withdraw_on_the_settings_page(page)
    assert surviving(context) == []
