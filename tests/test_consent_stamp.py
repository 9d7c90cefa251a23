"""The consent stamp: proof of what each person was shown and agreed to."""

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from formhelpers import demo_data, inquiry_data
from iptor_site.extensions import db
from iptor_site.models import ConsentStamp, ConsentText, Lead

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
UA = "Mozilla/5.0 (X11; Linux x86_64) IptorTest/1.0"


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: NOW)


def post_demo(client, lang, remote="203.0.113.77", **overrides):
    page = client.get(f"/{lang}/demo").text
    return client.post(
        f"/{lang}/demo",
        data=demo_data(page, **overrides),
        headers={"User-Agent": UA},
        environ_base={"REMOTE_ADDR": remote},
    )


def stamps(app):
    with app.app_context():
        return [
            {
                "lead": stamp.lead.email,
                "created_at": stamp.created_at,
                "locale": stamp.locale,
                "policy_version": stamp.policy_version,
                "form": (stamp.form_name, stamp.form_version),
                "page_url": stamp.page_url,
                "ip": stamp.ip_address,
                "ua": stamp.user_agent,
                "items": [(i.text.key, i.text.locale, i.text.text, i.text.sha256, i.ticked) for i in stamp.items],
            }
            for stamp in db.session.scalars(select(ConsentStamp).order_by(ConsentStamp.id))
        ]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_demo_stamp_is_complete_field_by_field(app, client):
    assert post_demo(client, "de", marketing="y").status_code == 303
    [stamp] = stamps(app)
    notice = ("Ich habe die Datenschutzerklärung gelesen und verstehe, dass Iptor die hier angegebenen "
              "Daten zur Bearbeitung dieser Anfrage verwendet.")
    marketing = ("Ja, Iptor darf mir E-Mails zu seinen Produkten, Veranstaltungen und Angeboten senden. "
                 "Ich kann mich jederzeit wieder abmelden.")
    assert stamp == {
        "lead": "anna.schmidt@example.com",
        "created_at": NOW,
        "locale": "de",
        "policy_version": "2023-01",
        "form": ("demo", "1"),
        "page_url": "http://localhost/de/demo",
        "ip": "203.0.113.0",
        "ua": UA,
        "items": [
            ("privacy_notice", "de", notice, sha(notice), True),
            ("marketing", "de", marketing, sha(marketing), True),
        ],
    }


def test_unticked_marketing_is_recorded_as_refused(app, client):
    assert post_demo(client, "en").status_code == 303
    [stamp] = stamps(app)
    assert [(key, ticked) for key, _, _, _, ticked in stamp["items"]] == [("privacy_notice", True), ("marketing", False)]
    with app.app_context():
        assert db.session.scalars(select(Lead.marketing_opt_in)).one() is False


def test_each_wording_is_stored_once_and_per_language(app, client):
    for n, lang in enumerate(["en", "en", "fr", "en"]):
        assert post_demo(app.test_client(), lang, email=f"p{n}@example.com").status_code == 303
    with app.app_context():
        texts = db.session.scalars(select(ConsentText).order_by(ConsentText.id)).all()
        assert [(t.key, t.locale) for t in texts] == [
            ("privacy_notice", "en"), ("marketing", "en"), ("privacy_notice", "fr"), ("marketing", "fr")
        ]
        assert db.session.scalar(select(func.count()).select_from(ConsentStamp)) == 4


def test_inquiry_uses_the_same_component_with_the_policy_notice_only(app, client):
    page = client.get("/fr/privacy/inquiry").text
    assert 'name="marketing"' not in page
    response = client.post("/fr/privacy/inquiry", data=inquiry_data(page), headers={"User-Agent": UA},
                           environ_base={"REMOTE_ADDR": "2001:db8:1234:5678::1"})
    assert response.status_code == 303
    [stamp] = stamps(app)
    assert stamp["form"] == ("privacy-inquiry", "1")
    assert stamp["ip"] == "2001:db8:1234::"
    assert [(key, locale, ticked) for key, locale, _, _, ticked in stamp["items"]] == [("privacy_notice", "fr", True)]
    assert stamp["items"][0][2].startswith("J’ai lu la politique de confidentialité")


def test_full_ip_addresses_when_the_setting_says_so(make_app):
    app = make_app(CLOCK=lambda: NOW, IP_STORAGE="full")
    assert post_demo(app.test_client(), "en", remote="198.51.100.23").status_code == 303
    assert stamps(app)[0]["ip"] == "198.51.100.23"


def test_the_privacy_notice_is_required(app, client):
    response = post_demo(client, "nl", privacy_notice=None)
    assert response.status_code == 422
    assert "Bevestig" in response.text
    assert 'value="Anna Schmidt"' in response.text
    assert stamps(app) == []
