"""Mail: written to the outbox with the lead, sent over real SMTP, retried when it fails."""

import gc
import re
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, message_from_string, policy
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from formhelpers import demo_data, inquiry_data
from iptor_site.core.extensions import db
from iptor_site.mail import cli as mail_cli
from iptor_site.mail import messages, outbox
from iptor_site.models import Lead, OutboxMessage

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
#: A booking also queues its reminders, due before the demo (tests/demo/test_demo_manage.py); these tests
#: are about the mail sent at once.
NOT_REMINDER = OutboxMessage.kind.not_like("demo-reminder%")


@pytest.fixture
def smtp_app(make_app, smtp_server):
    return make_app(
        CLOCK=lambda: NOW,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_server.port,
        SMTP_TIMEOUT=5,
        MAIL_SALES_TEAM="sales@iptor.test",
        MAIL_PRIVACY_TEAM="privacy@iptor.test",
        MAIL_FROM="Iptor <no-reply@iptor.test>",
    )


def book(client, lang="de", **overrides):
    page = client.get(f"/{lang}/demo?tz=Europe/Berlin").text
    return client.post(f"/{lang}/demo", data=demo_data(page, **overrides))


def by_recipient(smtp_server):
    return {rcpts[0]: msg for _, rcpts, msg in smtp_server.inbox.messages}


def test_demo_mails_arrive_in_the_persons_language(smtp_app, smtp_server):
    assert book(smtp_app.test_client(), "de").status_code == 303
    mails = by_recipient(smtp_server)
    assert set(mails) == {"anna.schmidt@example.com", "sales@iptor.test"}

    person = mails["anna.schmidt@example.com"]
    assert person["Subject"] == "Ihre Demo von Iptor multiflex am Dienstag, 1. Dezember 2026"
    assert person["To"] == "Anna Schmidt <anna.schmidt@example.com>"
    assert person["From"] == "Iptor <no-reply@iptor.test>"
    assert person["Reply-To"] == "sales@iptor.test"
    assert person["Content-Language"] == "de"
    body = person.get_body(("plain",)).get_content()
    assert "Guten Tag Anna Schmidt," in body
    assert "09:00 bis 09:45" in body
    [calendar] = [part for part in person.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert "DTSTART:20261201T080000Z" in calendar.get_content()
    assert "09:00–09:45" in calendar.get_content().replace("\r\n ", "")  # UTF-8, read as such

    team = mails["sales@iptor.test"]
    assert team["Subject"].startswith("New demo booking #1: Tuesday, 1 December 2026 09:00")
    assert "Schmidt Logistik GmbH" in team.get_body(("plain",)).get_content()

    with smtp_app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)).all()
        assert [(r.kind, r.attempts, r.sent_at is not None) for r in rows] == [
            ("demo-confirmation", 1, True), ("demo-team", 1, True)
        ]


@pytest.mark.parametrize(
    ("lang", "subject"),
    [("en", "Please confirm your privacy request"), ("fr", "Veuillez confirmer votre demande relative à vos données personnelles"),
     ("nl", "Bevestig uw privacyverzoek"), ("de", "Bitte bestätigen Sie Ihre Datenschutzanfrage")],
)
def test_inquiry_mail_asks_for_confirmation_in_the_persons_language(smtp_app, smtp_server, lang, subject):
    client = smtp_app.test_client()
    page = client.get(f"/{lang}/privacy/inquiry").text
    assert client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, request_type="erasure")).status_code == 303
    mails = by_recipient(smtp_server)
    # The team hears of a request once the person has confirmed it.
    assert set(mails) == {"camille.martin@example.com"}
    person = mails["camille.martin@example.com"]
    assert person["Subject"] == subject
    assert person["Content-Language"] == lang
    assert re.search(rf"http://127\.0\.0\.1:5000/{lang}/privacy/requests/verify/[A-Za-z0-9_-]{{43}}",
                     person.get_body(("plain",)).get_content())


def test_a_batch_of_mail_goes_over_one_smtp_connection(smtp_app, smtp_server):
    assert book(smtp_app.test_client(), "de").status_code == 303
    assert len(smtp_server.inbox.messages) == 2
    assert len(set(smtp_server.inbox.peers)) == 1


def test_lead_is_stored_when_the_smtp_server_is_down(make_app, smtp_server, restart_smtp):
    port = smtp_server.port
    smtp_server.stop()
    app = make_app(CLOCK=lambda: NOW, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=2)
    client = app.test_client()
    assert book(client, "en").status_code == 303
    assert client.get("/en/demo/booked").status_code == 200

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 1
        rows = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)).all()
        assert len(rows) == 2
        # One attempt failed; the other message was not tried against a dead server.
        assert [(row.attempts, bool(row.last_error)) for row in rows] == [(1, True), (0, False)]
        for row in rows:
            assert row.sent_at is None
            assert row.next_attempt_at > NOW

    # The server comes back; the outbox sender delivers once the back-off has passed.
    revived = restart_smtp(port)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "send"])
    assert "sent 0, failed 0" in result.output  # still backing off
    with app.app_context():
        later = NOW + timedelta(minutes=2)
        assert outbox.deliver(db.session, now=later) == {"sent": 2, "failed": 0}
        assert all(r.sent_at for r in db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)))
    assert len(revived.inbox.messages) == 2


def test_failed_sends_back_off_further_each_time(make_app):
    app = make_app(CLOCK=lambda: NOW, SMTP_HOST="127.0.0.1", SMTP_PORT=1, SMTP_TIMEOUT=1)  # nothing listens on port 1
    with app.test_request_context("/en/"):
        msg = messages.build_message(to_name="A", to_address="a@example.com", subject="S", body="B", locale="en")
        row = db.session.get(OutboxMessage, outbox.enqueue(db.session, msg, kind="test", lead_id=None))
        db.session.commit()
        moment = NOW
        waits = []
        for _ in range(4):
            assert outbox.deliver(db.session, now=moment) == {"sent": 0, "failed": 1}
            db.session.refresh(row)
            waits.append(row.next_attempt_at - moment)
            moment = row.next_attempt_at
        assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
        assert row.attempts == 4


def test_without_smtp_mail_is_written_as_eml_files(make_app, tmp_path):
    app = make_app(CLOCK=lambda: NOW)
    assert book(app.test_client(), "fr").status_code == 303
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    assert any(b"Subject: " in f.read_bytes() and b"anna.schmidt@example.com" in f.read_bytes() for f in files)


@pytest.mark.parametrize("name", ["Eve\r\nBcc: victim@example.com", "Eve\nSubject: spoofed", "Eve\rX: y"])
def test_no_header_injection_through_names(smtp_app, smtp_server, name):
    # The form refuses control characters outright...
    client = smtp_app.test_client()
    response = book(client, "en", name=name)
    assert response.status_code == 422
    assert smtp_server.inbox.messages == []
    # ...and the mail layer never lets a line break reach the headers either.
    with smtp_app.test_request_context("/en/"):
        with pytest.raises(ValueError):
            messages.build_message(to_name=name, to_address="eve@example.com", subject="Hi", body="x", locale="en")
        with pytest.raises(ValueError):
            messages.build_message(to_name="Eve", to_address="eve@example.com", subject=name, body="x", locale="en")


def plain_client(app):
    """A test client that only makes requests: no outbox worker runs after them."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def test_a_request_never_sends_mail(make_app, tmp_path):
    """A submission writes its mail to the outbox and answers; only the worker (or
    `flask outbox send`) sends it."""
    app = make_app(CLOCK=lambda: NOW)
    assert book(plain_client(app), "en").status_code == 303
    assert not (tmp_path / "mail").exists() or not list((tmp_path / "mail").glob("*.eml"))
    with app.app_context():
        assert [row.sent_at for row in db.session.scalars(select(OutboxMessage).where(NOT_REMINDER))] == [None, None]
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "sent 2, failed 0" in result.output
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2


def test_the_worker_sends_mail_as_it_arrives_until_stopped(make_app, tmp_path):
    app = make_app()
    stop = threading.Event()
    worker = threading.Thread(target=mail_cli.work, args=(app, stop, 0.05))
    worker.start()
    try:
        with app.app_context():
            msg = messages.build_message(to_name=None, to_address="a@example.com", subject="S", body="B", locale="en")
            outbox.enqueue(db.session, msg, kind="test", lead_id=None)
            db.session.commit()
            sent = None
            for _ in range(200):  # the worker looks every 0.05 s; allow it up to 10 s on a busy machine
                db.session.rollback()
                sent = db.session.scalar(select(OutboxMessage.sent_at))
                if sent is not None:
                    break
                stop.wait(0.05)
            assert sent is not None
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_two_workers_running_at_once_send_each_message_once(make_app, tmp_path):
    """Claims are decided by the database: two workers sending at the same moment never
    send one message twice."""
    app = make_app()
    with app.app_context():
        for n in range(3 * outbox.BATCH):
            msg = messages.build_message(to_name=None, to_address=f"p{n}@example.com", subject="S", body="B",
                                         locale="en")
            outbox.enqueue(db.session, msg, kind="test", lead_id=None)
        db.session.commit()
    barrier, results = threading.Barrier(2), []

    def run():
        with app.app_context():
            barrier.wait()
            results.append(outbox.deliver(db.session))

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(result["sent"] for result in results) == 3 * outbox.BATCH
    files = list((tmp_path / "mail").glob("*.eml"))
    recipients = [message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
                  for f in files]
    assert sorted(recipients) == sorted(f"p{n}@example.com" for n in range(3 * outbox.BATCH))


def test_the_worker_builds_queued_mail_and_keeps_what_it_sent(make_app, monkeypatch):
    """A submission queues a recipe, not a rendered message: rendering happens outside its
    transaction, when the worker sends it."""
    app = make_app(CLOCK=lambda: NOW)
    assert book(plain_client(app), "fr").status_code == 303
    with app.app_context():
        queued = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER).order_by(OutboxMessage.id)).all()
        assert [(r.kind, r.message, bool(r.recipe)) for r in queued] == [
            ("demo-confirmation", None, True), ("demo-team", None, True)]
        assert outbox.deliver(db.session) == {"sent": 2, "failed": 0}
        db.session.expire_all()
        sent = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER).order_by(OutboxMessage.id)).all()
        person = message_from_bytes(sent[0].message, policy=policy.default)
        assert person["Content-Language"] == "fr" and person["To"].addresses[0].addr_spec == sent[0].recipient
        assert str(person["Subject"]).startswith("Votre démo Iptor multiflex")


def test_a_message_that_cannot_be_built_fails_alone_and_backs_off(make_app, monkeypatch):
    app = make_app(CLOCK=lambda: NOW)
    assert book(plain_client(app), "en").status_code == 303
    broken = outbox.RECIPES["demo-confirmation"]

    def fails(booking, params):
        raise KeyError("a template variable")

    monkeypatch.setitem(outbox.RECIPES, "demo-confirmation", outbox.Recipe(broken.load, fails))
    with app.app_context():
        assert outbox.deliver(db.session) == {"sent": 1, "failed": 1}
        db.session.expire_all()
        person, team = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER).order_by(OutboxMessage.id)).all()
        assert (person.sent_at, person.attempts, person.message) == (None, 1, None)
        assert person.last_error == "BuildError: KeyError" and person.next_attempt_at > NOW
        assert team.sent_at is not None


@pytest.mark.slow
def test_the_worker_holds_no_transaction_while_sending(make_app, monkeypatch):
    """Mail is built from a transaction that only read and has ended, and sent with no
    transaction open; a batch is claimed in one write and its outcomes written in one more."""
    app = make_app(CLOCK=lambda: NOW)
    client = plain_client(app)
    for name in ("Anna Schmidt", "Bert Jansen"):
        page = client.get("/en/demo?tz=Europe/Berlin").text
        email = name.split()[0].lower() + "@example.com"
        assert client.post("/en/demo", data=demo_data(page, name=name, email=email)).status_code == 303
        page = client.get("/en/privacy/inquiry").text
        assert client.post("/en/privacy/inquiry", data=inquiry_data(page, email=email)).status_code == 303
    open_while_sending = []
    real_send = outbox.Transport.send

    def send(transport, raw, recipient, row_id):
        open_while_sending.append(db.session.in_transaction())
        real_send(transport, raw, recipient, row_id)

    monkeypatch.setattr(outbox.Transport, "send", send)
    with app.app_context():
        transactions = []

        @event.listens_for(db.engine, "begin")
        def began(connection):
            transactions.append(set())

        @event.listens_for(db.engine, "before_cursor_execute")
        def executed(connection, cursor, statement, *args):
            if transactions:  # (SQLite's own BEGIN comes before this test's "begin" listener)
                transactions[-1].add(statement.split(None, 1)[0].upper())

        gc.collect()  # what the read loaded is held by the batch, not by chance
        assert outbox.deliver(db.session) == {"sent": 6, "failed": 0}
        assert open_while_sending == [False] * 6
        writes = [t for t in transactions if t - {"BEGIN", "SELECT"}]
        assert len(writes) == 2  # the claim, then every outcome
        assert all(row.sent_at for row in db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)))


WORDS = st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")),
                         min_size=1, max_size=30), min_size=1, max_size=8).map(" ".join).filter(
                             lambda text: len(text) <= 120)  # the forms' longest name


@pytest.mark.slow
@given(subject=WORDS, name=WORDS)
@settings(max_examples=300, deadline=None)
def test_headers_are_encoded_for_smtp_and_read_back_as_written(subject, name):
    """Any name and subject, in any script, travel as 7-bit RFC 5322 headers (RFC 2047
    encoded words where needed) with CRLF line ends, and read back as written."""

    app = Flask("headers")
    app.config["MAIL_FROM"] = "Iptor <no-reply@iptor.com>"
    with app.app_context():
        out = messages.build_message(to_name=name, to_address="a@example.com", subject=subject, body="B",
                                     locale="en")
    head = out.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"\n" not in head.replace(b"\r\n", b"")
    msg = message_from_bytes(out.raw, policy=policy.default)
    assert str(msg["Subject"]) == subject
    # Decoded as RFC 2047 says (the space between two encoded words is not part of the
    # text); the stdlib's address parser keeps it, so the display name is read here.
    to = re.sub(r"\r\n[ \t]", " ", message_from_bytes(out.raw, policy=policy.compat32)["To"])
    shown, address = parseaddr(to)
    assert address == "a@example.com" and str(make_header(decode_header(shown))) == name
    assert msg["Content-Language"] == "en"


def test_a_long_unsubscribe_link_stays_one_unencoded_header(app):
    url = "https://www.iptor.com/en/privacy/unsubscribe/" + "x" * 150
    with app.app_context():
        out = messages.build_message(to_name=None, to_address="a@example.com", subject="News", body="B",
                                     locale="en", unsubscribe_url=url)
    msg = message_from_bytes(out.raw, policy=policy.default)
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert b"=?" not in out.raw.split(b"List-Unsubscribe:", 1)[1].split(b"\r\n", 1)[0]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_address_with_a_non_ascii_local_part_is_sent_with_smtputf8(app):
    with app.app_context():
        out = messages.build_message(to_name="Jürgen", to_address="jürgen@bücher.example", subject="S", body="B",
                                     locale="de")
    assert out.recipient == "jürgen@xn--bcher-kva.example"
    assert message_from_string(out.raw.decode(), policy=policy.SMTPUTF8)["To"].addresses[0].username == "jürgen"
