"""Data-subject requests end to end: verified, on time, exported, erased, opted out."""

import base64
import io
import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from formhelpers import demo_data, inquiry_data, mail_text, mailed_link, press_the_button, send_outbox, written_mails
from iptor_site.backoffice import accounts
from iptor_site.core.extensions import db
from iptor_site.leads import people
from iptor_site.mail import messages
from iptor_site.models import (
    ConsentRevocation,
    ErasureRecord,
    Lead,
    OutboxMessage,
    PrivacyInquiry,
    SpamSubmission,
    Suppression,
)
from iptor_site.privacy_requests import lifecycle

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
ADDRESS = "camille.martin@example.com"


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def file_request(client, lang="en", **overrides):
    page = client.get(f"/{lang}/privacy/inquiry").text
    response = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, **overrides))
    assert response.status_code == 303
    return response


def inquiry_state(app):
    with app.app_context():
        inquiry = db.session.scalars(select(PrivacyInquiry)).one()
        return inquiry.status, [(h.from_status, h.to_status, h.actor) for h in inquiry.history], inquiry.due_on


def test_verification_happens_only_by_post(app, client, tmp_path):
    file_request(client, request_type="access")
    [msg] = written_mails(tmp_path)
    assert msg["To"] == f"Camille Martin <{ADDRESS}>"
    path = mailed_link(msg, "verify")
    # Opening the link (as a mail scanner would) changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and "Confirm my request" in page.text
    assert client.get(path).status_code == 200
    assert inquiry_state(app)[0] == "awaiting_verification"
    response = press_the_button(client, path)
    assert response.status_code == 303 and response.headers["Location"] == "/en/privacy/requests/done"
    status, history, _ = inquiry_state(app)
    assert status == "verified"
    assert history == [(None, "awaiting_verification", "data subject"), ("awaiting_verification", "verified", "data subject")]
    # The link is single-use.
    reused = client.get(path)
    assert reused.status_code == 410 and "This link has been used" in reused.text
    assert client.post(path, data={}).status_code == 410
    assert client.get("/en/privacy/requests/verify/not-a-real-token").status_code == 404


def test_verification_needs_the_csrf_token(app, client, tmp_path):
    file_request(client)
    path = mailed_link(written_mails(tmp_path)[0], "verify")
    assert client.post(path, data={}).status_code == 400
    assert inquiry_state(app)[0] == "awaiting_verification"


@pytest.mark.slow
def test_expired_links_offer_a_new_one(app, client, tmp_path, clock):
    file_request(client, request_type="objection", details="Stop profiling me.")
    old = mailed_link(written_mails(tmp_path)[0], "verify")
    clock.now = NOW + timedelta(hours=72, minutes=1)
    page = client.get(old)
    assert page.status_code == 410 and "This link has expired" in page.text
    renew = re.search(r'action="([^"]+/renew)"', page.text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post(renew, data={"csrf_token": token}).status_code == 200
    mails = written_mails(tmp_path)  # the first request's mail, then one more with the new link
    assert [m["Subject"] for m in mails] == ["Please confirm your privacy request"] * 2
    new = mailed_link(written_mails(tmp_path)[-1], "verify")
    assert new != old
    assert press_the_button(client, new).status_code == 303
    assert inquiry_state(app)[0] == "verified"
    assert client.get(old).status_code == 410


def test_due_dates_and_a_community_erasure(app, client):
    file_request(client, request_type="erasure", community="y")
    assert inquiry_state(app)[2] == NOW.date() + timedelta(weeks=8)
    file_request(app.test_client(), request_type="complaint", details="x", email="other@example.com")
    with app.app_context():
        dues = db.session.scalars(select(PrivacyInquiry.due_on).order_by(PrivacyInquiry.id)).all()
    assert dues == [date(2027, 1, 25), date(2026, 12, 30)]


def test_extension_needs_a_reason_tells_the_person_and_shows_in_overdue(app, client, tmp_path, clock):
    file_request(client, request_type="complaint", details="Please explain.", lang="de")
    press_the_button(client, mailed_link(written_mails(tmp_path)[0], "verify"))
    with app.app_context():
        accounts.create_staff(db.session, "dpo@iptor.com", "correct horse battery staple", "privacy", NOW)
        db.session.commit()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["privacy", "extend", "1", "--months", "2", "--reason", " ", "--by", "dpo@iptor.com"])
    assert refused.exit_code != 0 and "needs a reason" in refused.output
    result = runner.invoke(args=["privacy", "extend", "1", "--months", "2", "--reason", "Complex case", "--by", "dpo@iptor.com"])
    assert result.exit_code == 0, result.output
    assert "now due 2027-02-28" in result.output  # 30 December + two months, at the end of February
    status, history, due = inquiry_state(app)
    assert status == "extended" and history[-1] == ("verified", "extended", "dpo@iptor.com")
    send_outbox(app)  # the notice leaves with the outbox worker
    notice = written_mails(tmp_path)[-1]
    assert notice["Content-Language"] == "de"
    assert "Complex case" in mail_text(notice) and "28. Februar 2027" in mail_text(notice)
    again = runner.invoke(args=["privacy", "extend", "1", "--months", "1", "--reason", "More", "--by", "dpo@iptor.com"])
    assert again.exit_code != 0 and "extended already" in again.output
    clock.now = datetime(2027, 2, 25, 9, 0, tzinfo=UTC)
    listing = runner.invoke(args=["privacy", "overdue", "--within", "7"]).output
    assert "#1\tcomplaint\textended\tdue 2027-02-28\tdue in 3 days" in listing
    clock.now = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
    assert "OVERDUE by 3 days" in runner.invoke(args=["privacy", "overdue"]).output


def test_access_export_contains_what_was_stored_and_is_single_use(app, client, tmp_path, clock):
    page = client.get("/fr/demo").text
    assert client.post("/fr/demo", data=demo_data(page, email=ADDRESS, name="Camille Martin", marketing="y")).status_code == 303
    file_request(client, lang="fr", request_type="portability")
    press_the_button(client, mailed_link(written_mails(tmp_path)[-1], "verify"))
    download_mail = written_mails(tmp_path)[-1]
    assert download_mail["Subject"] and "download" in mailed_link(download_mail, "download")
    path = mailed_link(download_mail, "download")
    assert client.get(path).status_code == 200
    response = press_the_button(client, path)
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["apercu.html", "mes-donnees.json"]  # named in French
    data = json.loads(archive.read("mes-donnees.json"))
    with app.app_context():
        leads = db.session.scalars(select(Lead).order_by(Lead.id)).all()
        assert [lead["id"] for lead in data["leads"]] == [lead.id for lead in leads]
        demo = data["leads"][0]
        booking = leads[0].booking
        assert demo["demo_booking"]["company"] == booking.company
        assert demo["demo_booking"]["slot_start"] == booking.slot_start.isoformat()
        assert demo["marketing_opt_in"] is True
        statements = demo["consent"]["statements"]
        assert [(s["text"], s["sha256"], s["ticked"]) for s in statements] == [
            (item.text.text, item.text.sha256, item.ticked) for item in leads[0].consent.items]
        assert statements[0]["language"] == "fr"
        request = data["leads"][1]["privacy_request"]
        assert request["type"] == "portability" and request["status"] == "verified"
        subjects = [m["subject"] for m in data["mails"]]
        assert len(subjects) == db.session.scalar(select(func.count()).select_from(OutboxMessage))
    html = archive.read("apercu.html").decode()
    assert ADDRESS in html and "Schmidt Logistik GmbH" in html
    assert inquiry_state_of(app, "portability") == "completed"
    assert confirm_again(client, path) == 410


def inquiry_state_of(app, request_type):
    with app.app_context():
        return db.session.scalar(select(PrivacyInquiry.status).where(PrivacyInquiry.request_type == request_type))


def confirm_again(client, path):
    return client.get(path).status_code


def database_files(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return None
        path = Path(db.engine.url.database)
    return list(path.parent.glob(path.name + "*"))


def test_erasure_deletes_everything_and_leaves_no_readable_trace(app, client, tmp_path):
    page = client.get("/nl/demo").text
    assert client.post("/nl/demo", data=demo_data(page, email=ADDRESS, name="Camille Martin",
                                                  message="Persoonlijk bericht")).status_code == 303
    page = client.get("/nl/privacy/inquiry").text
    client.post("/nl/privacy/inquiry", data=inquiry_data(page, website="spam?"))  # caught by the honeypot
    file_request(client, lang="nl", request_type="erasure")
    # Someone else's data stays.
    file_request(app.test_client(), request_type="access", email="someone.else@example.com", name="Someone Else")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SpamSubmission)) == 1
    verification = [m for m in written_mails(tmp_path) if m["To"].addresses[0].addr_spec == ADDRESS][-1]
    response = press_the_button(client, mailed_link(verification, "verify"))
    assert response.status_code == 303
    done = client.get(response.headers["Location"]).text
    assert "Contactregistraties" in done

    certificate = written_mails(tmp_path)[-1]
    assert certificate["To"].addresses[0].addr_spec == ADDRESS
    assert certificate["Subject"] == "Uw persoonsgegevens zijn gewist"
    text_body = mail_text(certificate)
    assert "Contactregistraties: 2" in text_body and "Demo" in text_body

    with app.app_context():
        assert db.session.scalars(select(Lead.email)).all() == ["someone.else@example.com"]
        assert db.session.scalar(select(func.count()).select_from(SpamSubmission)) == 0
        assert db.session.scalars(select(OutboxMessage.recipient)).all() == ["someone.else@example.com"]
        record = db.session.scalars(select(ErasureRecord)).one()
        assert record.request_type == "erasure" and record.completed_at == NOW
        # Mails: the demo's confirmation, team notice and pending reminder, and the verification.
        assert json.loads(record.deleted) == {"leads": 2, "demo_bookings": 1, "privacy_requests": 1,
                                              "consent_records": 2, "mails": 4, "caught_as_spam": 1}
        dump = " ".join(str(row) for table in ("leads", "outbox", "spam_submissions", "erasure_records",
                                               "request_status_changes", "consent_stamps")
                        for row in db.session.execute(text(f"SELECT * FROM {table}")))
        assert "camille" not in dump.lower()
    files = database_files(app)
    if files is not None:  # SQLite: search the raw bytes of the database and its log
        assert files
        for path in files:
            raw = path.read_bytes()
            assert b"camille.martin" not in raw, path.name
            assert b"Persoonlijk bericht" not in raw, path.name


def _no_upcoming_demo(app):
    """Cancel the address's demo: an address with an upcoming demo books no second one
    (tests/demo/test_demo_manage.py), and these tests need a new lead per submission."""
    with app.app_context():
        db.session.execute(text("UPDATE demo_bookings SET status = 'cancelled', seat = NULL"))
        db.session.commit()


def test_marketing_opt_out_is_honoured_until_the_box_is_ticked_again(app, client, tmp_path):
    for _ in range(2):
        _no_upcoming_demo(app)
        c = app.test_client()
        page = c.get("/en/demo").text
        assert c.post("/en/demo", data=demo_data(page, email=ADDRESS, marketing="y")).status_code == 303
    file_request(client, request_type="marketing-opt-out")
    press_the_button(client, mailed_link(written_mails(tmp_path)[-1], "verify"))
    with app.app_context():
        assert set(db.session.scalars(select(Lead.marketing_opt_in))) == {False}
        revoked = db.session.scalars(select(ConsentRevocation)).all()
        assert revoked and {r.consent_key for r in revoked} == {"marketing"}
        [suppression] = db.session.scalars(select(Suppression)).all()
        assert suppression.email_hash == people.email_hash(ADDRESS) and ADDRESS not in suppression.email_hash
    # A later submission without the box ticked does not re-enable marketing...
    _no_upcoming_demo(app)
    c = app.test_client()
    page = c.get("/en/demo").text
    assert c.post("/en/demo", data=demo_data(page, email=ADDRESS)).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Lead.marketing_opt_in).order_by(Lead.id.desc())).first() is False
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 1
    # ...ticking it again is a new consent.
    _no_upcoming_demo(app)
    c = app.test_client()
    page = c.get("/en/demo").text
    assert c.post("/en/demo", data=demo_data(page, email=ADDRESS, marketing="y")).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Lead.marketing_opt_in).order_by(Lead.id.desc())).first() is True
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


@pytest.mark.parametrize(("request_type", "flag"), [("restriction", "restricted"), ("objection", "objected")])
def test_restriction_and_objection_mark_the_persons_leads(app, client, tmp_path, request_type, flag):
    page = client.get("/en/demo").text
    client.post("/en/demo", data=demo_data(page, email=ADDRESS))
    file_request(client, request_type=request_type, details="Please stop.")
    with app.app_context():
        assert not any(db.session.scalars(select(getattr(Lead, flag))))
    press_the_button(client, mailed_link(written_mails(tmp_path)[-1], "verify"))
    with app.app_context():
        assert set(db.session.scalars(select(getattr(Lead, flag)))) == {True}
    team = [m for m in written_mails(tmp_path) if m["To"].addresses[0].addr_spec == "privacy@iptor.com"]
    assert len(team) == 1 and "Verified privacy request #1" in team[0]["Subject"]


def unsubscribe_path(app, address=ADDRESS, lang="en"):
    with app.test_request_context("/"):
        return lifecycle.unsubscribe_url(address, lang).removeprefix("http://127.0.0.1:5000")


def test_unsubscribe_by_page_and_one_click(app, client):
    page = client.get("/en/demo").text
    client.post("/en/demo", data=demo_data(page, email=ADDRESS, marketing="y"))
    path = unsubscribe_path(app)
    token = path.rsplit("/", 1)[1]
    padded = token.split(".")[0] + "=" * (-len(token.split(".")[0]) % 4)
    assert b"camille" not in base64.urlsafe_b64decode(padded)  # the token reveals no address
    assert "Unsubscribe" in client.get(path).text
    with app.app_context():
        assert db.session.scalars(select(Lead.marketing_opt_in)).one() is True  # GET changed nothing
    done = press_the_button(client, path)
    assert done.status_code == 200 and "You have been unsubscribed" in done.text
    with app.app_context():
        assert db.session.scalars(select(Lead.marketing_opt_in)).one() is False
    # RFC 8058 one-click, as a mail provider sends it: no page, no cookie, no token but the URL's.
    other = app.test_client()
    one_click = other.post(unsubscribe_path(app, "someone@example.com"), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 200 and one_click.data == b""
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 2
    assert client.get("/en/unsubscribe/forged.token").status_code == 404


def test_marketing_mail_carries_list_unsubscribe_headers(app):
    with app.test_request_context("/en/"):
        url = lifecycle.unsubscribe_url(ADDRESS, "en")
        msg = messages.build_message(to_name="C", to_address=ADDRESS, subject="News", body="x", locale="en",
                                 unsubscribe_url=url)
    msg = message_from_bytes(msg.raw, policy=policy.default)
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_retention_purge_deletes_by_kind_and_reports(app, client, tmp_path, clock):
    clock.now = NOW - timedelta(days=800)
    page = client.get("/en/demo").text
    client.post("/en/demo", data=demo_data(page, email="old.lead@example.com"))
    file_request(app.test_client(), email="unverified@example.com")
    clock.now = NOW - timedelta(days=40)
    page = client.get("/en/privacy/inquiry").text
    client.post("/en/privacy/inquiry", data=inquiry_data(page, website="bot"))
    clock.now = NOW
    recent = app.test_client()
    page = recent.get("/en/demo").text
    assert recent.post("/en/demo", data=demo_data(page, email="recent@example.com")).status_code == 303
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["requests marked expired: 1", "demo leads: 1",
                                          "completed privacy requests: 0", "unverified privacy requests: 1",
                                          "spam: 1", "cookie choices: 0", "audit log entries: 0"]
    with app.app_context():
        assert db.session.scalars(select(Lead.email)).all() == ["recent@example.com"]
    files = database_files(app)
    if files is not None:
        for path in files:
            assert b"old.lead@example.com" not in path.read_bytes()
