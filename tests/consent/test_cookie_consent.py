"""Cookie consent on the server: banner, choices, log, CSP, re-prompt, withdrawal."""

import re

import pytest
from sqlalchemy import select

from formhelpers import inquiry_data
from iptor_site.consent.cookie_consent import COOKIE, categories
from iptor_site.core.extensions import db
from iptor_site.models import ConsentStamp, CookieConsentEvent

ORIGIN = {"Origin": "http://localhost"}
TRACKING = {"GA_MEASUREMENT_ID": "G-TEST1234", "HUBSPOT_PORTAL_ID": "1234567"}


@pytest.fixture
def app(make_app):
    return make_app(**TRACKING)


def choose(client, action, lang="en", headers=ORIGIN, **fields):
    return client.post(f"/{lang}/cookies/consent", data={"action": action, "next": f"/{lang}/pricing", **fields},
                       headers=headers)


def events(app):
    with app.app_context():
        return [(e.action, e.categories, e.policy_version, e.locale, e.gpc, e.ip_address)
                for e in db.session.scalars(select(CookieConsentEvent).order_by(CookieConsentEvent.id))]


def test_without_tracking_configured_there_is_no_banner_and_no_script(make_app):
    client = make_app().test_client()
    html = client.get("/en/pricing").text
    assert 'id="consent-banner"' not in html
    assert "consent.js" not in html
    assert "data-ga-id" not in html
    page = client.get("/en/cookies").text
    assert "<code>session</code>" in page and "<code>_ga</code>" not in page


@pytest.mark.parametrize(
    ("lang", "title", "accept", "reject", "choose_label"),
    [("en", "Cookies on this site", "Accept all", "Reject all", "Choose"),
     ("nl", "Cookies op deze website", "Alles accepteren", "Alles weigeren", "Zelf kiezen"),
     ("fr", "Cookies sur ce site", "Tout accepter", "Tout refuser", "Personnaliser"),
     ("de", "Cookies auf dieser Website", "Alle akzeptieren", "Alle ablehnen", "Auswählen")],
)
def test_first_visit_shows_the_banner_in_the_pages_language(client, lang, title, accept, reject, choose_label):
    html = client.get(f"/{lang}/pricing").text
    banner = re.search(r'<section class="consent-banner".*?</section>', html, re.S).group(0)
    assert "hidden" not in banner.split(">", 1)[0]
    assert title in banner
    assert f'value="accept" class="button button-consent">{accept}</button>' in banner
    assert f'value="reject" class="button button-consent">{reject}</button>' in banner
    assert f">{choose_label}</a>" in banner
    assert f'href="/{lang}/privacy#cookies"' in banner
    assert "data-consent=" not in html
    csp = client.get(f"/{lang}/pricing").headers["Content-Security-Policy"]
    assert "googletagmanager" not in csp and "hs-scripts" not in csp


def test_accept_all_logs_the_choice_and_admits_exactly_the_tag_hosts(app, client):
    response = choose(client, "accept", lang="de")
    assert response.status_code == 303 and response.headers["Location"] == "/de/pricing"
    cookie = client.get_cookie(COOKIE)
    assert re.fullmatch(r"v1\.[0-9a-f]{32}\.analytics-marketing\.2023-01\.[0-9]{10}", cookie.value)
    assert cookie.http_only and cookie.same_site == "Lax"
    page = client.get("/de/pricing")
    assert 'data-consent="analytics marketing"' in page.text
    assert 'id="consent-banner" aria-labelledby="consent-banner-title" hidden' in page.text
    csp = page.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()
    assert script_src == ["'self'", "https://www.googletagmanager.com", "https://js.hs-scripts.com",
                          "https://js.hs-analytics.net", "https://js.hs-banner.com", "https://js.hscollectedforms.net"]
    assert "unsafe-inline" not in csp
    assert events(app) == [("accept", "analytics,marketing", "2023-01", "de", False, "127.0.0.0")]


def test_reject_all_and_per_category_choices(app, client):
    choose(client, "reject")
    assert ".." in client.get_cookie(COOKIE).value  # no categories
    page = client.get("/en/pricing")
    assert "data-consent=" not in page.text
    assert "googletagmanager" not in page.headers["Content-Security-Policy"]
    choose(client, "choose", analytics="on")
    page = client.get("/en/pricing")
    assert 'data-consent="analytics"' in page.text
    assert "googletagmanager" in page.headers["Content-Security-Policy"]
    assert "hs-scripts" not in page.headers["Content-Security-Policy"]
    consent_ids = re.findall(r"v1\.([0-9a-f]{32})", client.get_cookie(COOKIE).value)
    with app.app_context():
        logged = db.session.scalars(select(CookieConsentEvent.consent_id)).all()
    assert logged == consent_ids * 2  # one anonymous ID, two logged choices
    assert [e[:2] for e in events(app)] == [("reject", ""), ("choose", "analytics")]


def test_global_privacy_control_keeps_marketing_off(app, client):
    html = client.get("/en/pricing", headers={"Sec-GPC": "1"}).text
    assert "Global Privacy Control" in html
    choose(client, "accept", headers={**ORIGIN, "Sec-GPC": "1"})
    assert 'data-consent="analytics"' in client.get("/en/pricing").text
    assert events(app)[0][:2] == ("accept", "analytics") and events(app)[0][4] is True
    # Switching marketing on explicitly still works.
    choose(client, "choose", headers={**ORIGIN, "Sec-GPC": "1"}, analytics="on", marketing="on")
    assert 'data-consent="analytics marketing"' in client.get("/en/pricing").text


def test_a_new_policy_version_asks_again(client):
    client.set_cookie(COOKIE, "v1." + "a" * 32 + ".analytics-marketing.2022-06.1650000000")
    page = client.get("/en/pricing")
    assert 'id="consent-banner" aria-labelledby="consent-banner-title">' in page.text
    assert "data-consent=" not in page.text
    assert "googletagmanager" not in page.headers["Content-Security-Policy"]


def test_garbage_in_the_cookie_counts_as_no_choice(client):
    client.set_cookie(COOKIE, "v1.<script>.analytics.2023-01.1")
    assert 'id="consent-banner" aria-labelledby="consent-banner-title">' in client.get("/en/").text


def expired_cookies(response) -> set[tuple[str, str | None]]:
    """(name, domain) of every cookie the response expires."""
    result = set()
    for header in response.headers.getlist("Set-Cookie"):
        if "Max-Age=0" in header or "expires=Thu, 01 Jan 1970" in header:
            domain = re.search(r"Domain=([^;]+)", header)
            result.add((header.split("=", 1)[0], domain.group(1) if domain else None))
    return result


# Cookies the two tags set, under their listed names and their documented prefixes.
TAG_COOKIES = {"_ga", "_ga_TEST1234", "_ga_OTHER999", "hubspotutk", "__hstc", "__hssc", "__hs_opt_out",
               "__hs_cookie_cat_pref", "messagesUtk", "hs-messages-is-open"}


@pytest.mark.parametrize(("site_url", "cookie_domain", "domain"), [
    ("https://www.iptor.com", "", "iptor.com"),  # the registrable domain of SITE_URL
    ("https://www.iptor.co.uk", "", "iptor.co.uk"),  # a public suffix of two labels
    ("https://www.iptor.com", "www.iptor.com", "www.iptor.com"),  # the setting wins
    ("http://127.0.0.1:5000", "", None),  # an address has no parent domain
])
def test_withdrawal_deletes_the_tag_cookies_on_the_host_and_the_cookie_domain(make_app, site_url, cookie_domain,
                                                                            domain):
    app = make_app(**TRACKING, SITE_URL=site_url, COOKIE_DOMAIN=cookie_domain)
    client = app.test_client()
    choose(client, "accept")
    for name in TAG_COOKIES | {"lang", "unrelated"}:
        client.set_cookie(name, "x")
    expired = expired_cookies(choose(client, "reject"))
    assert expired == {(name, None) for name in TAG_COOKIES} | ({(name, domain) for name in TAG_COOKIES}
                                                                if domain else set())


def test_withdrawing_one_category_deletes_only_its_tags_cookies(make_app):
    app = make_app(**TRACKING, SITE_URL="https://www.iptor.com")
    client = app.test_client()
    choose(client, "accept")
    for name in TAG_COOKIES:
        client.set_cookie(name, "x")
    expired = expired_cookies(choose(client, "choose", analytics="on"))
    hubspot = TAG_COOKIES - {"_ga", "_ga_TEST1234", "_ga_OTHER999"}
    assert expired == {(name, None) for name in hubspot} | {(name, "iptor.com") for name in hubspot}


def test_the_page_tells_the_script_which_cookies_to_delete_where(make_app):
    page = make_app(**TRACKING, SITE_URL="https://www.iptor.com").test_client().get("/en/").text
    body = re.search(r"<body[^>]*>", page).group(0)
    assert 'data-cookie-domain="iptor.com"' in body
    assert re.search(r'data-cookies-analytics="_ga _ga_TEST1234 _ga_\*"', body)
    marketing = re.search(r'data-cookies-marketing="([^"]+)"', body).group(1).split()
    assert {"hubspotutk", "messagesUtk", "__hs*", "hs-messages-*"} <= set(marketing)


def test_withdrawal_deletes_the_tracking_cookies(client):
    choose(client, "accept")
    for name in ("_ga", "_ga_TEST1234", "hubspotutk", "__hstc"):
        client.set_cookie(name, "tracked")
    response = choose(client, "reject")
    deleted = {c.split("=")[0] for c in response.headers.getlist("Set-Cookie") if "Max-Age=0" in c or "expires=Thu, 01 Jan 1970" in c}
    assert deleted == {"_ga", "_ga_TEST1234", "hubspotutk", "__hstc"}


@pytest.mark.parametrize("headers", [{}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}])
def test_choices_from_other_sites_are_refused(app, client, headers):
    assert choose(client, "accept", headers=headers).status_code == 403
    assert client.get_cookie(COOKIE) is None
    assert events(app) == []


def test_next_only_ever_leads_back_to_this_site(client):
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post("/en/cookies/consent", data={"action": "reject", "next": bad}, headers=ORIGIN)
        assert response.headers["Location"] == "/en/"


def test_json_answer_for_the_script(client):
    response = client.post("/en/cookies/consent", data={"action": "choose", "analytics": "on"},
                           headers={**ORIGIN, "Accept": "application/json"})
    assert response.get_json() == {"granted": ["analytics"], "reload": True}


def test_form_submissions_are_linked_to_the_browsers_consent_id(app, client):
    choose(client, "reject")
    consent_id = client.get_cookie(COOKIE).value.split(".")[1]
    page = client.get("/en/privacy/inquiry").text
    assert client.post("/en/privacy/inquiry", data=inquiry_data(page)).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(ConsentStamp.cookie_consent_id)).one() == consent_id


@pytest.mark.parametrize("lang", ["en", "nl", "fr", "de"])
def test_cookie_list_comes_from_the_banners_configuration(client, lang):
    page = client.get(f"/{lang}/cookies").text
    listed = re.findall(r"<th scope=\"row\"><code>([^<]+)</code></th>", page)
    with client.application.test_request_context(f"/{lang}/cookies"):
        configured = [c.name for cat in categories() for c in cat.cookies]
    assert listed == configured
    assert {"_ga", "_ga_TEST1234", "hubspotutk", "__hstc", "__hssc", "__hssrc", "messagesUtk",
            "hs-messages-is-open", "hs-messages-hide-welcome-message", "__hs_opt_out", "__hs_do_not_track",
            "__hs_initial_opt_in", "__hs_cookie_cat_pref"} <= set(listed)
