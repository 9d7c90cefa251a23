"""What erasure, the access export and retention cover: every row, file and log of the
person, on SQLite and PostgreSQL alike, in the person's language."""

import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DatabaseError

from checkers import VNU
from formhelpers import demo_data, inquiry_data, mailed_link, press_the_button, written_mails
from iptor_site.core import scrubbing
from iptor_site.core.extensions import db
from iptor_site.leads import people
from iptor_site.models import (
    AuditEntry,
    CookieConsentEvent,
    DemoBooking,
    Lead,
    OutboxMessage,
    PrivacyInquiry,
    SpamSubmission,
)
from iptor_site.privacy_requests import data_export, retention
from iptor_site.privacy_requests.export_page import Formatter

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
ADDRESS = "vic.case@example.com"
SHOUTED = "Vic.Case@Example.com"


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def book_demo(app, lang="en", **fields):
    client = app.test_client()
    page = client.get(f"/{lang}/demo").text
    response = client.post(f"/{lang}/demo", data=demo_data(page, **fields))
    assert response.status_code == 303


def file_request(app, lang="en", **fields):
    client = app.test_client()
    page = client.get(f"/{lang}/privacy/inquiry").text
    response = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, **fields))
    assert response.status_code == 303
    return client


def catch_spam(app, lang="en", **fields):
    client = app.test_client()
    page = client.get(f"/{lang}/privacy/inquiry").text
    client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, website="bot", **fields))


def mails_to(tmp_path, address):
    return [m for m in written_mails(tmp_path) if m["To"].addresses[0].addr_spec.casefold() == address.casefold()]


def download(app, tmp_path, lang, address=ADDRESS, request_type="access"):
    """File a request, confirm it and download the ZIP; returns the archive."""
    client = file_request(app, lang=lang, email=address, name="Vic Case", request_type=request_type)
    press_the_button(client, mailed_link(mails_to(tmp_path, address)[-1], "verify"))
    response = press_the_button(client, mailed_link(mails_to(tmp_path, address)[-1], "download"))
    assert response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def database_bytes(app) -> list[tuple[str, bytes]]:
    """The raw bytes of every file of the test's database: SQLite's files and log, or
    every file of the PostgreSQL database's directory after a checkpoint (read by
    the server, so it works wherever the server runs)."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":

            path = Path(engine.url.database)
            return [(p.name, p.read_bytes()) for p in path.parent.glob(path.name + "*")]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")  # what is only in shared buffers gets to the files
            oid = conn.exec_driver_sql("SELECT oid FROM pg_database WHERE datname = current_database()").scalar()
            folder = f"base/{oid}"
            names = conn.exec_driver_sql(f"SELECT pg_ls_dir('{folder}')").scalars().all()
            files = []
            for name in names:
                path = f"{folder}/{name}"
                size = conn.exec_driver_sql(f"SELECT (pg_stat_file('{path}', true)).size").scalar()
                if size:  # a table dropped or rewritten meanwhile is gone or empty
                    raw = conn.exec_driver_sql(f"SELECT pg_read_binary_file('{path}', 0, {size}, true)").scalar()
                    files.append((name, bytes(raw or b"")))
            return files


def assert_unreadable(app, *needles: bytes):
    files = database_bytes(app)
    assert files
    for name, raw in files:
        for needle in needles:
            assert needle not in raw, (name, needle)


# --- the access export -------------------------------------------------------------------

def test_export_holds_every_row_erasure_would_delete(app, tmp_path, clock):
    book_demo(app, email=ADDRESS, name="Vic Case", message="Please show the warehouse module.")
    catch_spam(app, email=SHOUTED, details="Caught with the address in capitals.")
    archive = download(app, tmp_path, "en")
    data = json.loads(archive.read("my-data.json"))
    assert data["format"] == data_export.EXPORT_FORMAT and data["email"] == ADDRESS
    demo, request = data["leads"]
    assert demo["demo_booking"]["message"] == "Please show the warehouse module."
    # The history of the links: the verification link, and the download link being used now.
    links = request["privacy_request"]["links"]
    assert [(link["purpose"], link["state"]) for link in links] == [("verify", "used"), ("download", "used")]
    assert links[0]["created_at"] == NOW.isoformat() and links[0]["used_at"] == NOW.isoformat()
    assert links[0]["expires_at"] == (NOW + timedelta(hours=72)).isoformat()
    # The mail sent to the person: subject, date and text.
    with app.app_context():
        outbox = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m["to"] for m in data["mails"]] == [row.recipient for row in outbox]
    confirmation = next(m for m in data["mails"] if m["subject"] == "Please confirm your privacy request")
    assert confirmation["written_at"] and confirmation["sent_at"]
    assert "/en/privacy/requests/verify/" in confirmation["body"]
    # The spam row caught with the address in another case.
    [spam] = data["caught_as_spam"]
    assert spam["fields"]["email"] == SHOUTED and spam["fields"]["details"] == "Caught with the address in capitals."
    assert spam["reason"] == "honeypot" and spam["received_at"] == NOW.isoformat()


def test_export_page_is_written_in_the_persons_language(app, tmp_path):
    book_demo(app, lang="de", email=ADDRESS, name="Vic Case", country="AT", marketing="y")
    catch_spam(app, lang="de", email=ADDRESS)
    archive = download(app, tmp_path, "de")
    assert sorted(archive.namelist()) == ["meine-daten.json", "uebersicht.html"]
    page = archive.read("uebersicht.html").decode()
    assert '<html lang="de">' in page
    for label in ("Ihre personenbezogenen Daten bei Iptor", "Demo-Buchung", "Datenschutzanfrage",
                  "Unternehmen", "Land", "Österreich", "Status", "Gebucht", "Bestätigt", "Bestätigungslink", "Ja", "Nein",
                  "Als mutmaßlicher Spam zurückgehaltene Übermittlungen", "45 Minuten", "30. November 2026"):
        assert label in page, label
    for python in ("None", "False", "True", "['", "[{", "{'"):
        assert python not in page, python
    assert "[" not in re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)  # no list outside the mails' own text
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", page)  # no ISO timestamp
    assert not re.search(r"<dt>[a-z_]+</dt>", page)  # no machine keys as labels


@pytest.mark.parametrize(("lang", "names"), [
    ("en", ["my-data.json", "overview.html"]),
    ("nl", ["gegevens.json", "overzicht.html"]),
    ("fr", ["apercu.html", "mes-donnees.json"]),
    ("de", ["meine-daten.json", "uebersicht.html"]),
])
def test_the_archives_files_are_named_in_the_persons_language(app, tmp_path, lang, names):
    archive = download(app, tmp_path, lang, request_type="portability")
    assert sorted(archive.namelist()) == names
    html_name = next(name for name in names if name.endswith(".html"))
    json_name = next(name for name in names if name.endswith(".json"))
    assert json_name in archive.read(html_name).decode()  # the page names the data file beside it


# --- erasure: every case, every file -------------------------------------------------------

def test_erasure_matches_the_address_in_any_case_and_removes_its_mail_files(app, tmp_path):
    catch_spam(app, email=SHOUTED)
    book_demo(app, email=SHOUTED, name="Vic Case")
    book_demo(app, email="other.person@example.com", name="Other Person")
    with app.app_context():  # a mail to the address that belongs to no lead (as typed elsewhere)
        db.session.execute(insert(OutboxMessage).values(
            created_at=NOW, lead_id=None, kind="note", recipient=SHOUTED, message=b"Subject: x\r\n\r\nHello",
            attempts=1, next_attempt_at=NOW, sent_at=NOW))
        db.session.commit()
    assert mails_to(tmp_path, ADDRESS)  # the demo confirmation, as a file in MAIL_DIR
    client = file_request(app, email=ADDRESS, request_type="erasure")
    response = press_the_button(client, mailed_link(mails_to(tmp_path, ADDRESS)[-1], "verify"))
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SpamSubmission)) == 0
        assert db.session.scalars(select(OutboxMessage.recipient).distinct()).all() != []
        assert all(r.casefold() != ADDRESS for r in db.session.scalars(select(OutboxMessage.recipient)))
        assert db.session.scalars(select(Lead.email)).all() == ["other.person@example.com"]
    # Among the mail files, only those written after the erasure name the address: the
    # deletion certificate and the privacy team's notice of copies outside the site.
    named = [message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in sorted((tmp_path / "mail").glob("*.eml")) if b"vic.case" in p.read_bytes().lower()]
    [certificate] = mails_to(tmp_path, ADDRESS)
    assert certificate["Subject"] == "Your personal data has been erased"
    assert sorted(m["To"].addresses[0].addr_spec for m in named) == ["privacy@iptor.com", ADDRESS]
    assert any("other.person@example.com" in str(m["To"]) for m in written_mails(tmp_path))
    with app.app_context():
        scrubbing.scrubber().wait_idle()
    assert_unreadable(app, b"vic.case", b"Vic.Case")


def test_erasure_leaves_nothing_readable_in_the_table_files(app, tmp_path):
    book_demo(app, email=ADDRESS, name="Vic Case", message="Geheimnisvolle Nachricht 4711")
    client = file_request(app, email=ADDRESS, request_type="erasure")
    book_demo(app, email="other.person@example.com", name="Other Person")
    press_the_button(client, mailed_link(mails_to(tmp_path, ADDRESS)[-1], "verify"))
    with app.app_context():
        assert scrubbing.scrubber().wait_idle()
    assert_unreadable(app, b"vic.case@example.com", b"Geheimnisvolle Nachricht 4711")
    assert any(b"other.person@example.com" in raw for _, raw in database_bytes(app))


# --- the vacuum command -----------------------------------------------------------------------

def test_vacuum_command_runs_on_this_database(app):
    book_demo(app, email=ADDRESS, name="Vic Case", message="Vacuumed away 0815")
    with app.app_context():
        db.session.execute(text("DELETE FROM outbox"))
        db.session.execute(text("DELETE FROM leads"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "vacuum"])
    assert result.exit_code == 0, result.output
    assert result.output == "vacuumed\n"
    assert_unreadable(app, b"Vacuumed away 0815", b"vic.case@example.com")


# --- retention ---------------------------------------------------------------------------------

def _periods(app):
    config = app.config
    return {
        "spam": timedelta(days=config["RETENTION_SPAM_DAYS"]),
        "cookies": timedelta(days=30.44 * config["RETENTION_COOKIE_CONSENT_MONTHS"]),
        "audit": timedelta(days=365.25 * config["RETENTION_AUDIT_YEARS"]),
    }


def test_purge_deletes_exactly_what_is_past_each_period(app):
    periods = _periods(app)
    minute = timedelta(minutes=1)
    with app.app_context():
        for label, age in (("old", periods["spam"] + minute), ("young", periods["spam"] - minute)):
            db.session.add(SpamSubmission(created_at=NOW - age, form_name="demo", reason="honeypot",
                                          payload=json.dumps({"name": f"spam-{label}"})))
        for label, age in (("old", periods["cookies"] + minute), ("young", periods["cookies"] - minute)):
            db.session.add(CookieConsentEvent(consent_id=f"cookie-{label}", created_at=NOW - age, action="accept",
                                              categories="analytics", policy_version="1", locale="en", gpc=False))
        for label, age in (("old", periods["audit"] + minute), ("young", periods["audit"] - minute)):
            db.session.execute(insert(AuditEntry).values(at=NOW - age, actor="dpo@iptor.test", action="view",
                                                         target=f"audit-{label}"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert {"spam: 1", "cookie choices: 1", "audit log entries: 1"} <= set(lines)
    with app.app_context():
        assert [json.loads(p)["name"] for p in db.session.scalars(select(SpamSubmission.payload))] == ["spam-young"]
        assert db.session.scalars(select(CookieConsentEvent.consent_id)).all() == ["cookie-young"]
        assert db.session.scalars(select(AuditEntry.target)).all() == ["audit-young"]


def test_the_audit_log_refuses_any_other_deletion_or_change(app):
    with app.app_context():
        # The trigger's floor is counted on the database's clock, so the entries are dated on it.
        db_now = db.session.scalar(select(func.current_timestamp()))
        db_now = db_now if db_now.tzinfo else db_now.replace(tzinfo=UTC)
        db.session.execute(insert(AuditEntry).values(at=db_now, actor="a@iptor.test", action="view"))
        db.session.execute(insert(AuditEntry).values(at=db_now - timedelta(days=800), actor="b@iptor.test",
                                                     action="view"))
        db.session.commit()
        for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET actor = 'x'",
                          "DELETE FROM audit_log WHERE actor = 'a@iptor.test'"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        db.session.execute(text("DELETE FROM audit_log WHERE actor = 'b@iptor.test'"))  # past the floor
        db.session.commit()
        assert db.session.scalars(select(AuditEntry.actor)).all() == ["a@iptor.test"]


def test_purge_removes_the_mail_files_of_what_it_deletes(app, tmp_path, clock):
    clock.now = NOW - timedelta(days=800)
    book_demo(app, email="old.lead@example.com", name="Old Lead", message="Retired message 9911")
    clock.now = NOW
    book_demo(app, email="old.lead@example.com", name="Old Lead")  # the same person, recently: kept
    old_files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(old_files) == 4
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert "demo leads: 1" in result.output.splitlines()
    remaining = sorted((tmp_path / "mail").glob("*.eml"))
    assert remaining == old_files[2:]
    assert_unreadable(app, b"Retired message 9911")  # nor in the table files, on either database


@pytest.mark.parametrize(("lang", "heading", "demo", "audit"), [
    ("en", "How long we keep your data", "24 months", "3 years"),
    ("nl", "Hoe lang wij uw gegevens bewaren", "24 maanden", "3 jaar"),
    ("fr", "Combien de temps nous conservons vos données", "24\u00a0mois", "3 ans"),  # as CLDR writes them
    ("de", "Wie lange wir Ihre Daten aufbewahren", "24 Monate", "3 Jahre"),
])
def test_the_privacy_page_shows_the_periods_the_purge_enforces(make_app, lang, heading, demo, audit):
    page = make_app().test_client().get(f"/{lang}/privacy").text
    assert heading in page and demo in page and audit in page
    table = page[page.index('id="retention-title"'):page.index("</table>")]
    assert table.count("<tr>") == 1 + len(retention.PERIODS)
    changed = make_app(RETENTION_DEMO_MONTHS=18, RETENTION_AUDIT_YEARS=5).test_client().get(f"/{lang}/privacy").text
    assert demo not in changed and demo.replace("24", "18") in changed and audit.replace("3", "5") in changed


@pytest.mark.java
def test_the_export_page_is_valid_html(app, tmp_path):
    java = shutil.which("java")
    if not (java and VNU.exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("the Nu Html Checker needs Java and `npm ci`")
        pytest.skip("the Nu Html Checker needs Java and `npm ci`")
    book_demo(app, lang="nl", email=ADDRESS, name="Vic Case", marketing="y")
    catch_spam(app, lang="nl", email=ADDRESS)
    archive = download(app, tmp_path, "nl")
    page = tmp_path / "overzicht.html"
    page.write_bytes(archive.read("overzicht.html"))
    result = subprocess.run([java, "-Xss4m", "-jar", str(VNU), "--errors-only", "--format", "json", str(page)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert json.loads(result.stderr or "{}").get("messages", []) == []
    assert result.returncode == 0


def test_purge_deletes_leads_exactly_past_their_periods(app):
    minute = timedelta(minutes=1)
    demo = timedelta(days=30.44 * app.config["RETENTION_DEMO_MONTHS"])
    closed = timedelta(days=365.25 * app.config["RETENTION_REQUEST_YEARS"])
    unverified = timedelta(days=app.config["RETENTION_UNVERIFIED_DAYS"])

    def lead(name, created):
        return Lead(kind="demo", created_at=created, locale="en", name=name, email=f"{name}@example.com",
                    email_hash=people.email_hash(f"{name}@example.com"))

    with app.app_context():
        for name, age in (("demo-old", demo + minute), ("demo-young", demo - minute)):
            row = lead(name, NOW - age)
            row.booking = DemoBooking(slot_start=NOW - age, seat=None, duration_minutes=45, time_zone="UTC",
                                      company="C", country="SE", users=1, status="held")
            db.session.add(row)
        for name, status, age, field in (
            ("closed-old", "completed", closed + minute, "completed_at"),
            ("closed-young", "rejected", closed - minute, "completed_at"),
            ("unverified-old", "expired", unverified + minute, "received_at"),
            ("unverified-young", "expired", unverified - minute, "received_at"),
        ):
            row = lead(name, NOW - age)
            row.kind = "inquiry"
            row.inquiry = PrivacyInquiry(request_type="access", received_at=NOW - age, due_on=date(2020, 1, 1),
                                         status=status, **({"completed_at": NOW - age} if field == "completed_at"
                                                           else {}))
            db.session.add(row)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert {"demo leads: 1", "completed privacy requests: 1", "unverified privacy requests: 1"} <= set(
        result.output.splitlines())
    with app.app_context():
        assert sorted(db.session.scalars(select(Lead.name))) == ["closed-young", "demo-young", "unverified-young"]


@pytest.mark.parametrize(("lang", "expected"), [("fr", "1er décembre 2026"), ("de", "1. Dezember 2026"),
                                                ("nl", "1 december 2026"), ("en", "1 December 2026")])
def test_the_export_writes_the_first_of_the_month_as_each_language_does(app, lang, expected):
    first = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    with app.test_request_context(f"/{lang}/"):
        formatter = Formatter(lang)
        assert formatter.when(first, "Europe/Paris").startswith(expected)
        assert formatter.day(first.date()) == expected
