"""Mail: written to the outbox with the lead, sent over real SMTP, retried when it fails."""

import gc
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.errors import HeaderParseError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from formhelpers import demo_data, inquiry_data
from iptor_site import mail
from iptor_site.config import PROJECT_ROOT
from iptor_site.extensions import db
from iptor_site.models import Lead, OutboxMessage

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
#: A booking also queues its reminders, due before the demo (tests/test_demo_manage.py); these tests
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
    assert team["Subject"].startswith("New demo booking #1: Tuesday, December 1, 2026")
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
            assert row.next_attempt_at > datetime.now(UTC)

    # The server comes back; the outbox sender delivers once the back-off has passed.
    revived = restart_smtp(port)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "send"])
    assert "sent 0, failed 0" in result.output  # still backing off
    with app.app_context():
        later = datetime.now(UTC) + timedelta(minutes=2)
        assert mail.deliver(db.session, now=later) == {"sent": 2, "failed": 0}
        assert all(r.sent_at for r in db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)))
    assert len(revived.inbox.messages) == 2


def test_failed_sends_back_off_further_each_time(make_app):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=1, SMTP_TIMEOUT=1)  # nothing listens on port 1
    with app.test_request_context("/en/"):
        msg = mail.build_message(to_name="A", to_address="a@example.com", subject="S", body="B", locale="en")
        row = db.session.get(OutboxMessage, mail.enqueue(db.session, msg, kind="test", lead_id=None, hand_over=False))
        db.session.commit()
        moment = datetime.now(UTC)
        waits = []
        for _ in range(4):
            assert mail.deliver(db.session, now=moment) == {"sent": 0, "failed": 1}
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
            mail.build_message(to_name=name, to_address="eve@example.com", subject="Hi", body="x", locale="en")
        with pytest.raises(ValueError):
            mail.build_message(to_name="Eve", to_address="eve@example.com", subject=name, body="x", locale="en")


def test_the_sender_thread_sends_what_requests_commit_in_batches(make_app, monkeypatch):
    """No request's thread sends mail: each commit hands its mail to the process's sender,
    and what is committed while that is busy leaves together as its next batch. Until it
    is sent a message is claimed, so `flask outbox send` cannot send it a second time."""
    app = make_app()
    sent, batches, started, release = [], [], threading.Event(), threading.Event()
    real_send, real_send_claimed = mail.Transport.send, mail.send_claimed

    def slow_send(transport, raw, recipient, row_id):
        started.set()
        release.wait(10)
        sent.append((recipient, threading.current_thread().name))
        real_send(transport, raw, recipient, row_id)

    def counting_send_claimed(session, claimed, now=None):
        batches.append([row.recipient for row in claimed])
        return real_send_claimed(session, claimed, now)

    monkeypatch.setattr(mail.Transport, "send", slow_send)
    monkeypatch.setattr(mail, "send_claimed", counting_send_claimed)

    def commit_mail(address):
        with app.test_request_context("/en/"):
            msg = mail.build_message(to_name=None, to_address=address, subject="S", body="B", locale="en")
            mail.enqueue(db.session, msg, kind="test", lead_id=None)
            db.session.commit()

    commit_mail("first@example.com")
    assert started.wait(10)
    commit_mail("second@example.com")
    commit_mail("third@example.com")
    with app.app_context():
        assert mail.deliver(db.session) == {"sent": 0, "failed": 0}  # all three are held
    release.set()
    assert app.extensions["mail_sender"].wait_idle()
    assert sent == [(f"{n}@example.com", "mail-sender") for n in ("first", "second", "third")]
    assert batches == [["first@example.com"], ["second@example.com", "third@example.com"]]
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)).all()
        assert [(row.attempts, row.sent_at is not None) for row in rows] == [(1, True)] * 3


def test_mail_of_a_rolled_back_transaction_is_not_handed_over(make_app, monkeypatch):
    app = make_app()
    handed = []
    monkeypatch.setattr(mail.Sender, "hand_over", lambda self, claimed: handed.append(claimed))
    with app.test_request_context("/en/"):
        msg = mail.build_message(to_name=None, to_address="a@example.com", subject="S", body="B", locale="en")
        mail.enqueue(db.session, msg, kind="test", lead_id=None)
        db.session.flush()
        db.session.rollback()
        db.session.commit()
        assert handed == []
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def _process_stopped_before_sending(monkeypatch):
    """Mail handed to a sender that never sends it, as when its process is stopped."""
    monkeypatch.setattr(mail.Sender, "hand_over", lambda self, claimed: None)
    # When the claim has lapsed: a minute more than the claim, so the booking's own time
    # (its rows are claimed from when they are written) never matters.
    return datetime.now(UTC) + mail.CLAIM + timedelta(minutes=1)


def test_the_sender_builds_queued_mail_and_keeps_what_it_sent(make_app, monkeypatch):
    """A submission queues a recipe, not a rendered message: rendering happens outside its
    transaction. Mail its process never sent goes out once the claim lapses."""
    app = make_app(CLOCK=lambda: NOW)
    lapsed = _process_stopped_before_sending(monkeypatch)
    assert book(app.test_client(), "fr").status_code == 303
    with app.app_context():
        queued = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER).order_by(OutboxMessage.id)).all()
        assert [(r.kind, r.message, bool(r.recipe)) for r in queued] == [
            ("demo-confirmation", None, True), ("demo-team", None, True)]
        assert mail.deliver(db.session) == {"sent": 0, "failed": 0}  # still claimed
        assert mail.deliver(db.session, now=lapsed) == {"sent": 2, "failed": 0}
        db.session.expire_all()
        sent = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER).order_by(OutboxMessage.id)).all()
        person = message_from_bytes(sent[0].message, policy=policy.default)
        assert person["Content-Language"] == "fr" and person["To"].addresses[0].addr_spec == sent[0].recipient
        assert str(person["Subject"]).startswith("Votre démo Iptor multiflex")


def test_a_message_that_cannot_be_built_fails_alone_and_backs_off(make_app, monkeypatch):
    app = make_app(CLOCK=lambda: NOW)
    lapsed = _process_stopped_before_sending(monkeypatch)
    assert book(app.test_client(), "en").status_code == 303
    broken = mail.RECIPES["demo-confirmation"]

    def fails(booking, params):
        raise KeyError("a template variable")

    monkeypatch.setitem(mail.RECIPES, "demo-confirmation", mail.Recipe(broken.load, fails))
    with app.app_context():
        assert mail.deliver(db.session, now=lapsed) == {"sent": 1, "failed": 1}
        db.session.expire_all()
        person, team = db.session.scalars(select(OutboxMessage).where(NOT_REMINDER).order_by(OutboxMessage.id)).all()
        assert (person.sent_at, person.attempts, person.message) == (None, 1, None)
        assert person.last_error == "BuildError: KeyError" and person.next_attempt_at > lapsed
        assert team.sent_at is not None


def test_the_sender_holds_no_transaction_while_sending_and_writes_once_per_batch(make_app, monkeypatch):
    """Mail is built from a transaction that only read and has ended, and sent with no
    transaction open; a batch's outcomes are written together, in one transaction."""
    app = make_app(CLOCK=lambda: NOW)
    handed = []
    monkeypatch.setattr(mail.Sender, "hand_over", lambda self, claimed: handed.extend(claimed))
    client = app.test_client()
    for name in ("Anna Schmidt", "Bert Jansen"):
        page = client.get("/en/demo?tz=Europe/Berlin").text
        email = name.split()[0].lower() + "@example.com"
        assert client.post("/en/demo", data=demo_data(page, name=name, email=email)).status_code == 303
        page = client.get("/en/privacy/inquiry").text
        assert client.post("/en/privacy/inquiry", data=inquiry_data(page, email=email)).status_code == 303
    assert len(handed) == 6
    writes, open_while_sending = [], []
    real_send = mail.Transport.send

    def send(transport, raw, recipient, row_id):
        open_while_sending.append(db.session.in_transaction())
        real_send(transport, raw, recipient, row_id)

    monkeypatch.setattr(mail.Transport, "send", send)
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
        assert mail.send_claimed(db.session, handed) == {"sent": 6, "failed": 0}
        assert open_while_sending == [False] * 6
        writes.extend(t for t in transactions if t - {"BEGIN", "SELECT"})
        assert len(writes) == 1
        assert all(row.sent_at for row in db.session.scalars(select(OutboxMessage).where(NOT_REMINDER)))


@given(name=st.sampled_from(["From", "To", "Subject", "Reply-To", "Content-Language", "Message-ID"]),
       value=st.text(st.characters(min_codepoint=1, max_codepoint=127, blacklist_characters="\r\n"),
                     max_size=120))
@settings(max_examples=2000, deadline=None)
def test_header_values_are_written_as_compat32_folds_them(name, value):
    """The shortcut for short ASCII header values writes exactly what compat32 would.
    (Line breaks never get this far: ``build_message`` refuses them.)"""
    plain = policy.compat32.clone(linesep="\r\n")

    def fold(folding_policy):
        try:
            return folding_policy.fold_binary(name, value)
        except HeaderParseError as error:  # a value compat32 refuses is refused alike
            return type(error)

    assert fold(mail.SMTP_COMPAT) == fold(plain)


def test_the_sender_also_sends_mail_that_is_due_again(make_app, monkeypatch):
    """Besides what requests hand it, a process's sender now and then sends what is due
    (a retry whose back-off has passed), so mail gets out even before cron runs."""
    app = make_app()
    monkeypatch.setattr(mail, "SWEEP_SECONDS", 0)
    with app.app_context():
        msg = mail.build_message(to_name=None, to_address="retry@example.com", subject="S", body="B", locale="en")
        mail.enqueue(db.session, msg, kind="test", lead_id=None)  # outside a request: due now, not handed over
        db.session.commit()
    with app.test_request_context("/en/"):
        msg = mail.build_message(to_name=None, to_address="new@example.com", subject="S", body="B", locale="en")
        mail.enqueue(db.session, msg, kind="test", lead_id=None)
        db.session.commit()
    assert app.extensions["mail_sender"].wait_idle()
    with app.app_context():
        assert {row.recipient: row.sent_at is not None for row in db.session.scalars(select(OutboxMessage).where(NOT_REMINDER))} == {
            "retry@example.com": True, "new@example.com": True}


def test_a_stopping_process_first_sends_what_it_was_handed(database_url, tmp_path):
    """The sender is a daemon thread; the process waits for it before it exits."""
    script = f"""
import time
from iptor_site import create_app, mail
from iptor_site.extensions import db
app = create_app({{"TESTING": True, "SECRET_KEY": "{"s" * 48}", "DATABASE_URL": "{database_url}",
                  "MAIL_DIR": r"{tmp_path / 'mail'}"}})
real_send = mail.Transport.send
def slow_send(self, *args):
    time.sleep(0.5)  # the process reaches its exit while this message is on its way
    real_send(self, *args)
mail.Transport.send = slow_send
with app.test_request_context("/en/"):
    msg = mail.build_message(to_name=None, to_address="last@example.com", subject="S", body="B", locale="en")
    mail.enqueue(db.session, msg, kind="test", lead_id=None)
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=PROJECT_ROOT)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
