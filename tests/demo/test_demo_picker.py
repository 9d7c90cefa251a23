"""The time picker without JavaScript, and the days and times never offered."""

import re
from datetime import UTC, datetime

import pytest

from formhelpers import demo_data, hidden_fields, slot_values
from iptor_site.core.settings import ConfigError, check_settings

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Monday 12:00 in Stockholm


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: MONDAY_NOON)


def all_free(client, tz="Europe/Stockholm"):
    data = client.get(f"/en/demo/slots?tz={tz}").get_json()
    return [value for group in data["groups"] for value, _ in group["options"]]


def legends(page):
    picker = re.search(r'<fieldset class="slot-picker.*?</fieldset>\s*</div>\s*', page, re.S).group(0)
    return re.findall(r'<fieldset class="slot-day"[^>]*>\s*<legend>([^<]+)</legend>', picker)


def test_one_week_of_times_as_radio_buttons_grouped_per_day(client):
    page = client.get("/nl/demo?tz=Europe/Amsterdam").text
    assert "<select" not in re.search(r'<fieldset class="slot-picker.*?</fieldset>\s*</div>', page, re.S).group(0)
    assert legends(page) == ["dinsdag 1 december 2026", "woensdag 2 december 2026", "donderdag 3 december 2026",
                             "vrijdag 4 december 2026"]
    values = slot_values(page)
    assert len(values) == 4 * 10 and values[0] == "2026-12-01T08:00Z"
    assert '<label for="slot">09:00</label>' in page  # 24-hour clock
    assert "Midden-Europese tijd (UTC+01:00)" in page
    # Only a "next week" button: the first week has no earlier one.
    assert re.findall(r'<button type="submit" name="week" value="([^"]+)"', page) == ["2026-12-07"]


def test_a_week_link_shows_that_week(client):
    page = client.get("/de/demo?tz=Europe/Berlin&week=2026-12-09").text  # any day of the week
    assert legends(page)[0] == "Montag, 7. Dezember 2026"
    assert len(slot_values(page)) == 50
    assert re.findall(r'name="week" value="([^"]+)"', page).count("2026-11-30") == 1  # back to the first
    # A week outside the calendar, or nonsense, shows a week that has free times.
    assert legends(client.get("/de/demo?week=2031-01-01").text)[0] == "Montag, 21. Dezember 2026"
    assert legends(client.get("/de/demo?week=gestern").text)[0] == "Dienstag, 1. Dezember 2026"


def test_paging_with_the_form_buttons_keeps_everything_typed(app, client):
    page = client.get("/de/demo?tz=Europe/Stockholm").text
    typed = demo_data(page, slot="2026-12-02T09:30Z", message="Warehouse, please.", marketing="y", week="2026-12-07")
    response = client.post("/de/demo", data=typed)
    assert response.status_code == 200
    html = response.text
    assert legends(html)[0] == "Montag, 7. Dezember 2026"
    for value in ("Anna Schmidt", "anna.schmidt@example.com", "Schmidt Logistik GmbH", "+49 30 1234567", "25"):
        assert f'value="{value}"' in html
    assert "Warehouse, please.</textarea>" in html
    assert re.search(r'<input checked[^>]*name="marketing"', html)
    assert re.search(r'<option selected value="DE">|<option value="DE" selected>', html)
    # The time chosen on the other week is kept and named.
    assert '<input type="hidden" name="kept_slot" value="2026-12-02T09:30Z">' in html
    assert "Mittwoch, 2. Dezember 2026, 10:30" in html
    # Nothing was booked, and the form still books the kept time.
    data = hidden_fields(html) | {k: v for k, v in typed.items() if k not in ("week", "csrf_token", "started", "slot")}
    assert client.post("/de/demo", data=data).status_code == 303
    assert "2026-12-02T09:30Z" not in all_free(client)


def test_a_time_picked_on_the_shown_week_wins_over_the_kept_one(app, client):
    page = client.get("/en/demo").text
    html = client.post("/en/demo", data=demo_data(page, slot="2026-12-02T09:30Z", week="2026-12-07")).text
    body = demo_data(html, slot="2026-12-08T08:00Z")
    assert body["kept_slot"] == "2026-12-02T09:30Z"
    response = client.post("/en/demo", data=body)
    assert response.status_code == 303, response.text
    free = all_free(client)
    assert "2026-12-08T08:00Z" not in free and "2026-12-02T09:30Z" in free


def test_an_error_shows_the_week_of_the_chosen_time_and_is_tied_to_the_picker(app, client):
    page = client.get("/de/demo").text
    response = client.post("/de/demo", data=demo_data(page, slot="2026-12-09T08:00Z", name=""))
    assert response.status_code == 422
    assert legends(response.text)[0] == "Montag, 7. Dezember 2026"
    assert re.search(r'value="2026-12-09T08:00Z" checked', response.text)
    missing = client.post("/en/demo", data=demo_data(client.get("/en/demo").text, slot=""))
    assert missing.status_code == 422
    assert '<p class="error" id="slot-error">Choose a date and time for the demo.</p>' in missing.text
    assert 'href="#slot"' in missing.text and 'id="slot"' in missing.text


@pytest.mark.parametrize(("lang", "expected"), [("en", "Central European Time (UTC+01:00)"),
                                                ("fr", "heure d’Europe centrale (UTC+01:00)"),
                                                ("de", "Mitteleuropäische Zeit (UTC+01:00)")])
def test_zone_is_named_with_its_utc_offset(client, lang, expected):
    assert expected in client.get(f"/{lang}/demo?tz=Europe/Paris").text


def test_nothing_is_bookable_within_the_minimum_notice(make_app):
    app = make_app(CLOCK=lambda: MONDAY_NOON, DEMO_MIN_NOTICE_HOURS=24)
    client = app.test_client()
    free = all_free(client)
    assert free[0] == "2026-12-01T11:00Z"  # Tuesday 12:00 in Stockholm: 24 hours from now
    assert "2026-12-01T10:15Z" not in free
    page = client.get("/en/demo").text
    response = client.post("/en/demo", data=demo_data(page, slot="2026-12-01T10:15Z"))
    assert response.status_code == 422
    assert "Choose one of the times offered." in response.text


def test_no_demo_on_swedish_christmas_eve_or_public_holidays(make_app):
    app = make_app(CLOCK=lambda: datetime(2026, 12, 14, 11, 0, tzinfo=UTC), DEMO_MIN_NOTICE_HOURS=24)
    client = app.test_client()
    days = {value[:10] for value in all_free(client)}
    assert "2026-12-23" in days
    for closed in ("2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01", "2027-01-06"):
        assert closed not in days
    page = client.get("/en/demo").text
    response = client.post("/en/demo", data=demo_data(page, slot="2026-12-24T09:00Z"))
    assert response.status_code == 422


def test_holidays_follow_the_country_setting_and_closed_dates_are_added(make_app):
    app = make_app(CLOCK=lambda: datetime(2026, 12, 14, 11, 0, tzinfo=UTC), DEMO_HOLIDAY_COUNTRY="NL",
                   DEMO_CLOSED_DATES="2026-12-28, 2026-12-29")
    days = {value[:10] for value in all_free(app.test_client())}
    assert "2026-12-24" in days  # a working day in the Netherlands
    assert "2026-12-25" not in days and "2026-12-28" not in days and "2026-12-29" not in days
    assert "2026-12-30" in days


@pytest.mark.parametrize(("key", "value", "message"), [
    ("DEMO_HOLIDAY_COUNTRY", "XX", "DEMO_HOLIDAY_COUNTRY must be"),
    ("DEMO_CLOSED_DATES", "2026-12-32", "DEMO_CLOSED_DATES must be"),
    ("DEMO_CLOSED_DATES", "24.12.2026", "DEMO_CLOSED_DATES must be"),
    ("DEMO_MIN_NOTICE_HOURS", -1, "DEMO_MIN_NOTICE_HOURS must be"),
])
def test_bad_closure_settings_stop_start_up(app, key, value, message):
    config = dict(app.config)
    config[key] = value
    with pytest.raises(ConfigError, match=message):
        check_settings(config)


def test_a_kept_time_taken_meanwhile_is_not_kept_again(app, client):
    page = client.get("/de/demo").text
    html = client.post("/de/demo", data=demo_data(page, slot="2026-12-09T08:00Z", week="2026-11-30")).text
    assert '<input type="hidden" name="kept_slot" value="2026-12-09T08:00Z">' in html
    other = app.test_client()
    page = other.get("/de/demo").text
    assert other.post("/de/demo", data=demo_data(page, slot="2026-12-09T08:00Z", email="bob@example.com")).status_code == 303
    response = client.post("/de/demo", data=demo_data(html, slot=None))
    assert response.status_code == 409
    assert "kept_slot" not in response.text and "Ihr gewählter Termin" not in response.text
    assert legends(response.text)[0] == "Montag, 7. Dezember 2026"  # the week it was on, without it
    assert "2026-12-09T08:00Z" not in slot_values(response.text)
