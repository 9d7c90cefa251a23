"""English pages, mails and exports use a European reader's formats (ENGLISH_FORMAT_LOCALE)."""

import re
from datetime import UTC, date, datetime

import pytest

from formhelpers import demo_data, mail_text, written_mails
from iptor_site import create_app
from iptor_site.core.locales import format_day, format_locale
from iptor_site.core.settings import ConfigError

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def slot_labels(page: str) -> list[str]:
    return re.findall(r'<input type="radio" name="slot" id="[^"]+" value="[0-9T:Z-]+"[^>]*><label for="[^"]+">([^<]+)</label>', page)


@pytest.mark.slow
def test_english_demo_slots_use_the_24_hour_clock_and_the_day_before_the_month(make_app):
    client = make_app(CLOCK=lambda: NOW).test_client()
    page = client.get("/en/demo?tz=Europe/Berlin").text
    assert '<html lang="en">' in page
    assert '<legend>Tuesday, 1 December 2026</legend>' in page
    assert "December 1" not in page
    labels = slot_labels(page)
    assert labels[0] == "09:00"
    assert not [label for label in labels if re.search(r"AM|PM", label)]


def test_the_setting_chooses_the_english_formats_and_nothing_else(make_app):
    client = make_app(CLOCK=lambda: NOW, ENGLISH_FORMAT_LOCALE="en_US").test_client()
    page = client.get("/en/demo?tz=Europe/Berlin").text
    assert '<html lang="en">' in page
    assert '<legend>Tuesday, December 1, 2026</legend>' in page
    assert slot_labels(page)[0] == "9:00\u202fAM"


def test_other_languages_keep_their_own_formats(make_app):
    page = make_app(CLOCK=lambda: NOW).test_client().get("/de/demo?tz=Europe/Berlin").text
    assert '<legend>Dienstag, 1. Dezember 2026</legend>' in page
    assert slot_labels(page)[0] == "09:00"


def test_an_english_confirmation_mail_uses_the_european_formats(make_app, tmp_path):
    client = make_app(CLOCK=lambda: NOW).test_client()
    page = client.get("/en/demo?tz=Europe/Berlin").text
    assert client.post("/en/demo", data=demo_data(page)).status_code == 303
    [person] = [m for m in written_mails(tmp_path) if m["To"].addresses[0].username == "anna.schmidt"]
    assert person["Subject"] == "Your Iptor multiflex demo on Tuesday, 1 December 2026"
    text = mail_text(person)
    assert "09:00" in text and "AM" not in text


def test_format_locale_maps_only_plain_english(app):
    with app.app_context():
        assert format_locale("en") == "en_GB"
        assert format_locale("de") == "de"
        assert format_locale("en_US") == "en_US"
    assert format_day(date(2026, 12, 1), "long", locale="en") == "1 December 2026"


@pytest.mark.parametrize("value", ["de_DE", "xx", "", "en-GB-x-nonsense-too-long-for-babel"])
def test_a_bad_english_format_locale_stops_start_up(value):
    with pytest.raises(ConfigError) as refused:
        create_app({"SECRET_KEY": "x" * 40, "ENGLISH_FORMAT_LOCALE": value})
    assert str(refused.value).startswith("ENGLISH_FORMAT_LOCALE")


def test_the_english_format_locale_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ENGLISH_FORMAT_LOCALE", "fr_FR")
    with pytest.raises(ConfigError) as refused:
        create_app({"SECRET_KEY": "x" * 40})
    assert "ENGLISH_FORMAT_LOCALE" in str(refused.value) and "fr_FR" in str(refused.value)
