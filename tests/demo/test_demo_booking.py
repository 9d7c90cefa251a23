"""Booking a demo: the calendar, the booking, the confirmation and its calendar file."""

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from formhelpers import at_once, demo_data, mail_text, slot_values, written_mails
from iptor_site.core.extensions import db
from iptor_site.models import DemoBooking, Lead, OutboxMessage

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Monday 12:00 in Stockholm


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: MONDAY_NOON)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def all_free(client, tz="Europe/Stockholm"):
    """Every free time, of every week (the page shows one week at a time)."""
    data = client.get(f"/en/demo/slots?tz={tz}").get_json()
    return [value for group in data["groups"] for value, _ in group["options"]]


def test_calendar_offers_the_next_15_working_days_in_45_minute_slots(client):
    values = all_free(client)
    # 09:00 to 17:00 fits ten 45-minute demos; 15 working days from tomorrow.
    assert len(values) == 15 * 10
    assert values[0] == "2026-12-01T08:00Z"  # Tuesday 09:00 in Stockholm
    assert values[9] == "2026-12-01T14:45Z"  # 15:45 to 16:30; a 16:30 start would end after 17:00
    days = sorted({v[:10] for v in values})
    assert len(days) == 15
    for day in days:
        assert datetime.fromisoformat(day).isoweekday() <= 5
    assert "2026-12-05" not in days and "2026-12-06" not in days  # the weekend


def test_times_are_labelled_in_the_chosen_zone(client):
    page = client.get("/de/demo?tz=America/New_York").text
    assert '<option value="America/New_York" selected>' in page
    assert "<legend>Dienstag, 1. Dezember 2026</legend>" in page
    assert re.search(r'<input type="radio" name="slot" id="slot" value="2026-12-01T08:00Z"><label for="slot">03:00</label>',
                     page)


@pytest.mark.parametrize(("lang", "zone"), [("en", "Europe/London"), ("nl", "Europe/Amsterdam"), ("fr", "Europe/Paris"), ("de", "Europe/Berlin")])
def test_default_time_zone_per_locale(client, lang, zone):
    page = client.get(f"/{lang}/demo").text
    assert f'<option value="{zone}" selected>' in page
    assert f'name="time_zone" type="hidden" value="{zone}"' in page


def test_unknown_time_zone_falls_back_to_the_locale_default(client):
    page = client.get("/fr/demo?tz=Mars/Olympus").text
    assert '<option value="Europe/Paris" selected>' in page


def test_countries_are_named_in_the_visitors_language(client):
    assert '<option value="DE">Deutschland</option>' in client.get("/de/demo").text
    assert '<option value="DE">Allemagne</option>' in client.get("/fr/demo").text
    assert '<option value="NL">Nederland</option>' in client.get("/nl/demo").text


def test_users_are_prefilled_from_the_estimator(client):
    page = client.get("/en/demo?users=250").text
    assert re.search(r'<input[^>]*id="users"[^>]*value="250"', page)


def test_consent_boxes_are_never_pre_ticked(client):
    page = client.get("/en/demo").text
    for name in ("privacy_notice", "marketing"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert "checked" not in tag
    assert 'href="/en/privacy"' in re.search(r'<fieldset class="consent">.*?</fieldset>', page, re.S).group(0)


def test_booking_redirects_to_a_confirmation_with_a_calendar_file(app, client, tmp_path):
    page = client.get("/de/demo?tz=Asia/Tokyo").text
    data = demo_data(page, slot="2026-12-02T09:30Z", marketing="y")
    response = client.post("/de/demo", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/de/demo/booked"

    confirmation = client.get("/de/demo/booked").text
    assert "Bitte prüfen Sie Ihre E-Mails" in confirmation  # the details go by mail (tests/demo/test_demo_manage.py)

    # The confirmation mail: the time in Tokyo (UTC+9), with the calendar invitation.
    sent = {msg["Subject"]: msg for msg in written_mails(tmp_path)}
    mail = sent["Ihre Demo von Iptor multiflex am Mittwoch, 2. Dezember 2026"]
    text = mail_text(mail)
    assert "18:30" in text and "19:15" in text and "Japanische Zeit (UTC+09:00)" in text
    invite = next(part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar")
    body = invite.get_payload(decode=True).decode()
    assert "DTSTART:20261202T093000Z\r\n" in body and "DTEND:20261202T101500Z\r\n" in body
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")

    with app.app_context():
        booking = db.session.scalars(select(DemoBooking)).one()
        assert booking.slot_start == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
        assert (booking.seat, booking.time_zone, booking.company, booking.country) == (1, "Asia/Tokyo", "Schmidt Logistik GmbH", "DE")
        assert (booking.users, booking.phone) == (25, "+49 30 1234567")
        assert booking.lead.marketing_opt_in is True
        assert booking.lead.locale == "de"
    # The slot is no longer offered.
    assert "2026-12-02T09:30Z" not in slot_values(client.get("/de/demo").text)
    # Both mails were written (no SMTP server configured in this test); the reminders wait.
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2


def test_confirmation_needs_a_booking_of_ones_own(client):
    assert client.get("/en/demo/booked").headers["Location"] == "/en/demo"


def test_a_slot_booked_meanwhile_is_refused_with_the_input_kept(app, client):
    page = client.get("/en/demo").text
    first = demo_data(page)
    assert client.post("/en/demo", data=first).status_code == 303

    other = app.test_client()
    page = other.get("/en/demo").text
    stale = demo_data(page, slot=first["slot"], name="Bob Builder", email="bob@example.com")
    response = other.post("/en/demo", data=stale)
    assert response.status_code == 409
    html = response.text
    assert "Someone else has just booked this time" in html
    assert 'value="Bob Builder"' in html and 'value="bob@example.com"' in html
    assert first["slot"] not in slot_values(html)
    assert len(all_free(other)) == 149
    assert count(app, DemoBooking) == 1


def test_slots_not_on_offer_are_refused(app, client):
    page = client.get("/en/demo").text
    for bad in ("2026-12-05T09:00Z", "2026-12-01T08:10Z", "2020-01-01T08:00Z", "tomorrow"):
        response = client.post("/en/demo", data=demo_data(page, slot=bad))
        assert response.status_code == 422
        assert "Choose one of the times offered." in response.text
    assert count(app, DemoBooking) == 0


def test_more_seats_per_slot_when_the_setting_gives_them(make_app):
    app = make_app(CLOCK=lambda: MONDAY_NOON, DEMO_SEATS=2)
    slot = None
    for n in range(3):
        client = app.test_client()
        page = client.get("/en/demo").text
        slot = slot or slot_values(page)[0]
        response = client.post("/en/demo", data=demo_data(page, slot=slot, email=f"p{n}@example.com"))
        assert response.status_code == (303 if n < 2 else 409)
    with app.app_context():
        assert sorted(db.session.scalars(select(DemoBooking.seat))) == [1, 2]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.slow
def test_concurrent_bookings_of_one_slot_let_exactly_one_win(app, server):
    contenders = 8
    barrier = threading.Barrier(contenders)
    results = [None] * contenders
    slot = {}

    def book(n):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        page = opener.open(f"{server}/en/demo").read().decode()
        slot.setdefault("value", slot_values(page)[3])
        data = demo_data(page, slot=slot["value"], name=f"Contender {n}", email=f"c{n}@example.com")
        body = urllib.parse.urlencode(data).encode()
        barrier.wait()
        try:
            response = opener.open(f"{server}/en/demo", data=body)
            results[n] = (response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            results[n] = (exc.code, exc.read().decode())

    at_once(book, contenders)

    statuses = sorted(status for status, _ in results)
    assert statuses == [303] + [409] * (contenders - 1)
    for n, (status, html) in enumerate(results):
        if status == 409:
            assert "Someone else has just booked this time" in html
            assert f'value="Contender {n}"' in html
            assert slot["value"] not in slot_values(html)
            assert len(slot_values(html)) == 39  # the first week's 40 times, less the one taken
    assert count(app, DemoBooking) == 1
    assert count(app, Lead) == 1
    # The confirmation, the team's notice and the reminder an hour before (the 24-hour one
    # would be due before the booking was made).
    assert count(app, OutboxMessage) == 3


@pytest.mark.slow
def test_simultaneous_first_bookings_from_one_address_book_one_demo(app, server, tmp_path):
    """Each asks for another time, so only the one-demo-per-address rule can stop them."""
    contenders = 6
    barrier = threading.Barrier(contenders)
    results = [None] * contenders

    def book(n):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                             NoRedirect)
        page = opener.open(f"{server}/en/demo").read().decode()
        address = "Anna.Schmidt@Example.com" if n % 2 else "anna.schmidt@example.com"
        body = urllib.parse.urlencode(demo_data(page, slot=slot_values(page)[n], email=address)).encode()
        barrier.wait()
        try:
            results[n] = opener.open(f"{server}/en/demo", data=body).status
        except urllib.error.HTTPError as exc:  # a redirect, not followed
            results[n] = exc.code

    at_once(book, contenders)

    assert results == [303] * contenders  # every one gets the same answer
    assert count(app, DemoBooking) == 1
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
    # The one booked is confirmed; each of the others is mailed the existing booking.
    assert kinds.count("demo-confirmation") == 1
    assert kinds.count("demo-existing") == contenders - 1


def test_slots_endpoint_labels_times_for_the_script(client):
    data = client.get("/fr/demo/slots?tz=Europe/Paris").get_json()
    assert data["zone"] == "Europe/Paris"
    assert data["groups"][0]["label"] == "mardi 1er décembre 2026"
    assert data["groups"][0]["options"][0] == ["2026-12-01T08:00Z", "09:00"]
    assert sum(len(g["options"]) for g in data["groups"]) == 150
