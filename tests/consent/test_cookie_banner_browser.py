"""Cookie consent in a real browser: no tag before consent, and every way to choose."""

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from iptor_site.core.extensions import db
from iptor_site.models import CookieConsentEvent

pytestmark = pytest.mark.browser
TRACKING = {"GA_MEASUREMENT_ID": "G-TEST1234", "HUBSPOT_PORTAL_ID": "1234567"}
TAG_SCRIPTS = "script[src*='googletagmanager'], script[src*='hs-scripts']"


@pytest.fixture
def app(make_app):
    return make_app(**TRACKING)


class Outside:
    """Every request that would leave the machine: recorded and answered locally, never sent."""

    def __init__(self, context):
        self.requests = []
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), self.handle)

    def handle(self, route):
        self.requests.append(route.request.url)
        route.fulfill(status=200, content_type="application/javascript", body="/* stub */")

    def hosts(self):
        return {urlsplit(url).hostname for url in self.requests}


@pytest.fixture
def visit(browser, server):
    contexts = []

    def _visit(**options):
        context = browser.new_context(base_url=server, **options)
        contexts.append(context)
        outside = Outside(context)
        return context.new_page(), outside, context

    yield _visit
    for context in contexts:
        context.close()


def tag_sources(page):
    return page.eval_on_selector_all(TAG_SCRIPTS, "els => els.map(e => e.src)")


def wait_for_tags(page, count):
    page.wait_for_function("([selector, n]) => document.querySelectorAll(selector).length === n",
                           arg=[TAG_SCRIPTS, count])


def logged(app):
    with app.app_context():
        return [(e.action, e.categories, e.gpc) for e in db.session.scalars(select(CookieConsentEvent))]


def test_nothing_tracks_before_consent_and_accept_loads_both_tags(app, visit):
    page, outside, context = visit()
    page.goto("/en/pricing")
    page.wait_for_load_state("networkidle")
    assert page.locator("#consent-banner").is_visible()
    assert tag_sources(page) == []
    assert outside.requests == []
    assert page.evaluate("window.dataLayer[0][0] === 'consent' && window.dataLayer[0][1] === 'default'")
    assert page.evaluate("window.dataLayer[0][2].analytics_storage") == "denied"

    page.get_by_role("button", name="Accept all").click()
    wait_for_tags(page, 2)
    page.wait_for_load_state("networkidle")
    assert sorted(tag_sources(page)) == ["https://js.hs-scripts.com/1234567.js",
                                        "https://www.googletagmanager.com/gtag/js?id=G-TEST1234"]
    assert outside.hosts() == {"www.googletagmanager.com", "js.hs-scripts.com"}
    assert page.locator("#consent-banner").is_hidden()
    # Consent mode: denied first, then granted for analytics only.
    states = page.evaluate("window.dataLayer.filter(e => e[0] === 'consent').map(e => [e[1], e[2].analytics_storage, e[2].ad_storage || null])")
    assert states == [["default", "denied", "denied"], ["update", "granted", None]]
    assert logged(app) == [("accept", "analytics,marketing", False)]


def test_reject_all_loads_nothing_and_is_remembered(app, visit):
    page, outside, _ = visit()
    page.goto("/de/")
    page.get_by_role("button", name="Alle ablehnen").click()
    page.locator("#consent-banner").wait_for(state="hidden")
    page.goto("/de/pricing")
    page.wait_for_load_state("networkidle")
    assert page.locator("#consent-banner").is_hidden()
    assert tag_sources(page) == [] and outside.requests == []
    assert logged(app) == [("reject", "", False)]


def test_choose_analytics_only(app, visit):
    page, outside, _ = visit()
    page.goto("/fr/")
    page.get_by_role("link", name="Personnaliser").click()
    assert page.locator("#consent-choices").is_visible()
    page.get_by_label(re.compile("^Mesure d’audience")).check()
    page.get_by_role("button", name="Enregistrer mon choix").click()
    wait_for_tags(page, 1)
    assert tag_sources(page) == ["https://www.googletagmanager.com/gtag/js?id=G-TEST1234"]
    assert "js.hs-scripts.com" not in outside.hosts()
    assert logged(app) == [("choose", "analytics", False)]


def test_global_privacy_control_keeps_marketing_off(app, visit):
    page, outside, _ = visit(extra_http_headers={"Sec-GPC": "1"})
    page.goto("/nl/")
    assert "Global Privacy Control" in page.locator("#consent-banner").inner_text()
    page.get_by_role("button", name="Alles accepteren").click()
    wait_for_tags(page, 1)
    page.wait_for_load_state("networkidle")
    assert tag_sources(page) == ["https://www.googletagmanager.com/gtag/js?id=G-TEST1234"]
    assert logged(app) == [("accept", "analytics", True)]


def test_new_policy_version_prompts_again(visit, server):
    page, outside, context = visit()
    context.add_cookies([{"name": "iptor_consent", "value": "v1." + "a" * 32 + ".analytics-marketing.2022-06.1650000000",
                          "url": server}])
    page.goto("/en/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#consent-banner").is_visible()
    assert tag_sources(page) == [] and outside.requests == []


def test_withdrawal_stops_the_tags_and_deletes_their_cookies(app, visit, server):
    page, outside, context = visit()
    page.goto("/en/")
    page.get_by_role("button", name="Accept all").click()
    wait_for_tags(page, 2)
    # What the tags would have set, as first-party cookies readable by script.
    context.add_cookies([{"name": name, "value": "x", "url": server}
                         for name in ("_ga", "_ga_TEST1234", "hubspotutk", "__hstc")])
    page.get_by_role("link", name="Cookie settings").click()
    assert page.locator("#consent-banner").is_visible()
    page.get_by_label(re.compile("^Analytics")).uncheck()
    page.get_by_label(re.compile("^Marketing")).uncheck()
    page.get_by_role("button", name="Save my choice").click()
    wait_for_tags(page, 0)
    page.wait_for_load_state("networkidle")
    names = {c["name"] for c in context.cookies()}
    assert not names & {"_ga", "_ga_TEST1234", "hubspotutk", "__hstc"}
    assert "iptor_consent" in names
    assert [a for a, _, _ in logged(app)] == ["accept", "choose"]


def test_without_javascript_the_banner_posts_to_the_server(app, visit):
    page, outside, context = visit(java_script_enabled=False)
    page.goto("/de/pricing?users=5")
    with page.expect_navigation():
        page.get_by_role("button", name="Alle akzeptieren").click()
    assert re.search(r"/de/pricing\?users=5$", page.url)
    assert page.locator("#consent-banner").is_hidden()
    assert outside.requests == []  # no script runs at all
    assert logged(app) == [("accept", "analytics,marketing", False)]
    # "Choose" leads to the settings page, which works as a plain form too.
    page.get_by_role("link", name="Cookie-Einstellungen").click()
    page.wait_for_url(re.compile(r"/de/cookies#settings$"))
    page.locator("#settings-marketing").uncheck()
    page.get_by_role("button", name="Auswahl speichern").click()
    page.wait_for_url(re.compile(r"/de/cookies\?saved=1$"))
    assert "Ihre Auswahl wurde gespeichert." in page.content()
    assert logged(app)[-1] == ("choose", "analytics", False)


@pytest.mark.parametrize(("lang", "title"), [("en", "Cookies on this site"), ("nl", "Cookies op deze website"),
                                             ("fr", "Cookies sur ce site"), ("de", "Cookies auf dieser Website")])
def test_banner_in_every_language_with_the_policy_link_reachable(visit, lang, title):
    page, _, _ = visit()
    page.goto(f"/{lang}/")
    assert page.locator("#consent-banner h2").inner_text() == title
    link = page.locator(f'.site-footer a[href="/{lang}/privacy"]')
    link.scroll_into_view_if_needed()
    box = link.bounding_box()
    topmost = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('a')?.getAttribute('href')",
                            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert topmost == f"/{lang}/privacy"  # nothing covers it
