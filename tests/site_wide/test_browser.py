"""What a visitor does in a real browser (Debian's Chromium through Playwright)."""

import re
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from formhelpers import inquiry_data, send_outbox
from iptor_site.backoffice import accounts
from iptor_site.core.clock import now
from iptor_site.core.extensions import db
from iptor_site.models import DemoBooking, ErasureRecord, Lead, PrivacyInquiry

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser, server):
    context = browser.new_context(base_url=server, java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()


def wait_for_mails(tmp_path, predicate, app):
    """The mail the browser's last request queued, once the app's sender has sent it."""

    send_outbox(app)
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in sorted((tmp_path / "mail").glob("*.eml"))]
    assert predicate(mails), [m["Subject"] for m in mails]
    return mails


def expected_texts(client, lang, users):
    html = client.get(f"/{lang}/pricing?users={users}").text
    return dict(re.findall(r'data-field="([a-z_]+)">([^<]*)<', html))


def test_estimator_updates_live_with_javascript(page, client):
    page.goto("/de/pricing")
    result = page.locator("#estimate-result")
    # It starts with 10 users, worked out by the server.
    assert page.locator('[data-field="per_month"]').inner_text() == expected_texts(client, "de", 10)["per_month"]
    page.fill("#users", "12")
    expected = expected_texts(client, "de", 12)
    month = page.locator('[data-field="per_month"]')
    month.filter(has_text=expected["per_month"]).wait_for()
    assert result.is_visible()
    assert page.locator('[data-field="per_term"]').inner_text() == expected["per_term"]
    assert page.locator('[data-field="summary"]').inner_text() == expected["summary"]
    assert page.get_attribute("#demo-cta", "href") == "/de/demo?users=12"
    assert page.url.endswith("/de/pricing"), "the live update must not reload the page"

    page.fill("#users", "3000")
    month.filter(has_text=expected_texts(client, "de", 3000)["per_month"]).wait_for()
    assert page.get_attribute("#demo-cta", "href") == "/de/demo?users=3000"


def test_estimator_works_without_javascript(page_without_js, client):
    page = page_without_js
    page.goto("/fr/pricing")
    page.fill("#users", "12")
    page.get_by_role("button", name="Calculer").click()
    page.wait_for_url(re.compile(r"/fr/pricing\?users=12"))
    expected = expected_texts(client, "fr", 12)
    assert page.locator('[data-field="per_month"]').inner_text() == expected["per_month"]
    assert page.locator("#users").input_value() == "12"
    page.locator("#demo-cta").click()
    page.wait_for_url(re.compile(r"/fr/demo\?users=12$"))


def test_estimator_error_without_javascript_keeps_the_input(page_without_js):
    page = page_without_js
    page.goto("/nl/pricing")
    page.fill("#users", "2O")
    page.locator(".estimator-form button").click()
    page.wait_for_url(re.compile(r"users=2O"))
    assert page.locator("#users").get_attribute("aria-invalid") == "true"
    assert page.locator("#users").input_value() == "2O"
    assert page.locator("#users-error").inner_text() == "Vul het aantal gebruikers alleen in cijfers in, bijvoorbeeld 25."


def test_language_switcher_changes_page_and_remembers(page):
    page.goto("/en/pricing")
    page.locator(".lang-menu summary").click()  # the languages are a disclosure
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Français").click()
    page.wait_for_url(re.compile(r"/fr/pricing$"))
    assert page.locator("html").get_attribute("lang") == "fr"
    page.goto("/privacy")
    page.wait_for_url(re.compile(r"/fr/privacy$"))


def test_accept_language_picks_the_first_page(browser, server):
    context = browser.new_context(base_url=server, locale="de-AT")
    page = context.new_page()
    page.goto("/")
    assert re.search(r"/de/$", page.url)
    assert page.locator("h1").inner_text() == "Alle Ihre täglichen Geschäftsprozesse in einem Modul"
    context.close()


def test_policy_table_of_contents_jumps_to_the_section(page):
    page.goto("/nl/privacy")
    page.locator(".toc a").nth(3).click()
    assert re.search(r"#[a-z-]+$", page.url)
    anchor = page.url.rsplit("#", 1)[1]
    assert page.locator(f"#{anchor}").is_visible()


def test_book_a_demo_in_german(browser, server, app):
    context = browser.new_context(base_url=server, locale="de-DE", timezone_id="Europe/Vienna")
    page = context.new_page()
    page.goto("/de/pricing")
    page.fill("#users", "40")
    page.locator('[data-field="per_month"]').filter(has_text="1.400,00").wait_for()
    page.locator("#demo-cta").click()
    page.wait_for_url(re.compile(r"/de/demo\?users=40$"))
    # The browser's time zone is detected and the times relabelled without a reload.
    page.wait_for_function("() => document.getElementById('time_zone').value === 'Europe/Vienna'")
    assert page.locator("#tz").input_value() == "Europe/Vienna"
    assert page.locator("#users").input_value() == "40"

    # The calendar (tests/demo/test_demo_picker_browser.py): a day, then one of its times.
    page.locator(".slot-day-button:not([aria-disabled])").first.click()
    page.locator(".slot-time-button").nth(2).click()
    chosen = page.locator('input[type="hidden"][name="slot"]').input_value()
    page.get_by_label("Vor- und Nachname").fill("Jonas Weber")
    page.get_by_label("Geschäftliche E-Mail-Adresse").fill("jonas.weber@example.at")
    page.get_by_label("Unternehmen").fill("Weber Handels GmbH")
    page.get_by_label("Land").select_option("AT")
    page.locator("#privacy_notice").check()
    page.get_by_role("button", name="Demo jetzt buchen").click()

    page.wait_for_url(re.compile(r"/de/demo/booked$"))
    assert page.locator("h1").inner_text() == "Vielen Dank. Bitte prüfen Sie Ihre E-Mails"
    with app.app_context():
        booking = db.session.scalars(select(DemoBooking)).one()
        assert (booking.slot_start.strftime("%Y-%m-%dT%H:%MZ"), booking.country, booking.time_zone) == (
            chosen, "AT", "Europe/Vienna")
    context.close()


def test_demo_form_errors_are_announced_and_keep_the_input(page):
    page.goto("/en/demo")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_role("button", name="Book my demo").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    # forms.js moves focus there once it has run (it is deferred).
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'error-summary'")
    assert page.get_by_label("Full name").input_value() == "Ada Lovelace"
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    summary.get_by_role("link").first.click()
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'slot'")


def test_file_an_inquiry_in_french(browser, server):
    context = browser.new_context(base_url=server, locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    page.goto("/fr/privacy")
    page.locator('a[href="/fr/privacy/inquiry?type=erasure"]').first.click()
    page.wait_for_url(re.compile(r"/fr/privacy/inquiry\?type=erasure$"))
    assert page.locator("#request_type").input_value() == "erasure"
    page.get_by_label("Prénom et nom").fill("Camille Martin")
    page.get_by_label("Adresse e-mail").fill("camille.martin@example.fr")
    page.get_by_label("Précisions").fill("Merci de supprimer mon profil de la communauté.")
    page.locator("#privacy_notice").check()
    page.get_by_role("button", name="Envoyer ma demande").click()
    page.wait_for_url(re.compile(r"/fr/privacy/inquiry/received$"))
    assert page.locator("h1").inner_text() == "Nous avons bien reçu votre demande"
    assert "Effacement de mes données à caractère personnel" in page.locator(".summary-list").inner_text()
    context.close()


def test_keyboard_alone_with_visible_focus(browser, server):
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.goto("/en/pricing")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement, style = getComputedStyle(el);
            return {id: el.id, visible: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
        }""")
        assert focused["visible"], focused
        if focused["id"] == "users":
            break
    page.keyboard.type("12")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"users=12"))
    assert page.locator('[data-field="per_month"]').inner_text() == "€420.00 per month"
    context.close()


def tab_to(page, selector, limit=15):
    """Press Tab until ``selector`` has focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_inquiry_by_keyboard_alone(browser, server):
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.goto("/en/privacy/inquiry")
    tab_to(page, "#name")
    page.keyboard.type("Kim Keyboard")
    tab_to(page, "#email", limit=1)
    page.keyboard.type("kim@example.com")
    tab_to(page, "#request_type", limit=1)
    page.keyboard.press("ArrowDown")  # the first request type: access
    tab_to(page, "#privacy_notice")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit]", limit=2)  # past the policy link in the label
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/en/privacy/inquiry/received$"))
    assert "Access to my personal data" in page.locator(".summary-list").inner_text()
    context.close()


def test_verified_erasure_in_dutch(browser, server, app, tmp_path):
    context = browser.new_context(base_url=server, locale="nl-NL")
    page = context.new_page()
    page.goto("/nl/privacy")
    page.locator('a[href="/nl/privacy/inquiry?type=erasure"]').first.click()
    page.get_by_label("Volledige naam").fill("Sanne de Vries")
    page.get_by_label("E-mailadres").fill("sanne.devries@example.nl")
    page.locator("#community").check()
    page.locator("#privacy_notice").check()
    page.get_by_role("button", name="Verzoek versturen").click()
    page.wait_for_url(re.compile(r"/nl/privacy/inquiry/received$"))

    def verification_link(mails):
        for msg in mails:
            found = re.search(r"https?://[^/\s]+(/nl/privacy/requests/verify/\S+)", msg.get_body(("plain",)).get_content())
            if found:
                return found.group(1)
        return None

    link = verification_link(wait_for_mails(tmp_path, verification_link, app))
    page.goto(link)
    assert "wissen wij direct" in page.locator(".notice").inner_text()
    page.get_by_role("button", name="Mijn verzoek bevestigen").click()
    page.wait_for_url(re.compile(r"/nl/privacy/requests/done$"))
    assert page.locator("h1").inner_text() == "Uw verzoek is bevestigd"
    assert "E-mails" in page.locator(".summary-list").inner_text()
    # The community profile is left to the privacy team: the request stays open until then.
    assert "Uw profiel in onze onlinecommunity" in page.locator("main").inner_text()
    with app.app_context():
        assert db.session.scalars(select(Lead.email)).all() == ["sanne.devries@example.nl"]
        assert db.session.scalars(select(PrivacyInquiry.status)).all() == ["verified"]
        assert db.session.scalar(select(func.count()).select_from(ErasureRecord)) == 1
    context.close()


def test_privacy_officer_extends_and_completes_a_request(browser, server, app, tmp_path):
    with app.app_context():
        accounts.create_staff(db.session, "dpo@iptor.com", "correct horse battery staple", "privacy", now())
        db.session.commit()
    # A verified request, filed and confirmed as the person would.
    client = app.test_client()
    page = client.get("/de/privacy/inquiry").text
    client.post("/de/privacy/inquiry", data=inquiry_data(page, request_type="complaint", details="Warum?"))
    mail_text = message_from_bytes(sorted((tmp_path / "mail").glob("*.eml"))[-1].read_bytes(),
                                   policy=policy.default).get_body(("plain",)).get_content()
    link = re.search(r"https?://[^/\s]+(/de/privacy/requests/verify/\S+)", mail_text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(link).text).group(1)
    assert client.post(link, data={"csrf_token": token}).status_code == 303

    context = browser.new_context(base_url=server)
    officer = context.new_page()
    officer.goto("/admin/requests")
    officer.get_by_label("E-mail").fill("dpo@iptor.com")
    officer.get_by_label("Password").fill("correct horse battery staple")
    officer.get_by_role("button", name="Sign in").click()
    officer.wait_for_url(re.compile(r"/admin/requests$"))
    officer.get_by_role("link", name="#1").click()
    officer.get_by_label(re.compile("^Reason or note")).fill("Mehrere Systeme müssen geprüft werden.")
    officer.get_by_label("Extend by").select_option("2")
    officer.get_by_role("button", name="Extend").click()
    assert "extend done" in officer.locator(".notice").inner_text()
    assert "extended" in officer.locator(".summary-list").first.inner_text()
    officer.get_by_label(re.compile("^Reason or note")).fill("Antwort per E-Mail gesendet.")
    officer.get_by_role("button", name="Complete").click()
    assert "complete done" in officer.locator(".notice").inner_text()
    history = officer.locator(".history").inner_text()
    assert "verified → extended by dpo@iptor.com" in history and "extended → completed by dpo@iptor.com" in history
    context.close()
    wanted = {"Wir benötigen mehr Zeit für Ihre Datenschutzanfrage", "Ihre Datenschutzanfrage wurde abgeschlossen"}
    mails = wait_for_mails(tmp_path, lambda ms: wanted <= {m["Subject"] for m in ms}, app)
    subjects = [m["Subject"] for m in mails]
    assert "Wir benötigen mehr Zeit für Ihre Datenschutzanfrage" in subjects
    assert "Ihre Datenschutzanfrage wurde abgeschlossen" in subjects
