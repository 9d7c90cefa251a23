"""The outbox worker (`flask outbox work`), and claims that never hand one message to two senders."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import event, text

from iptor_site.core.extensions import db
from iptor_site.core.settings import PROJECT_ROOT
from iptor_site.mail import messages, outbox

VENV_BIN = os.path.dirname(sys.executable)


def queue(app, count):
    with app.test_request_context("/en/"):
        for n in range(count):
            msg = messages.build_message(to_name=None, to_address=f"person{n}@example.com", subject="S", body="B",
                                     locale="en")
            outbox.enqueue(db.session, msg, kind="test", lead_id=None)
        db.session.commit()


def sent_ids(tmp_path) -> Counter:
    """How often each outbox row was sent (the file name ends in the row's id)."""
    return Counter(int(p.stem.rsplit("-", 1)[1]) for p in (tmp_path / "mail").glob("*.eml"))


def test_two_senders_claiming_at_once_send_each_message_once(make_app, tmp_path):
    """Sender A claims a batch and holds its transaction open until sender B has made its
    own claim, or is seen waiting for A's rows: a claim that waited for them would take
    them again once A commits, and send them twice. B skips them instead."""
    app = make_app()
    if not app.config["DATABASE_URL"].startswith("postgres"):
        pytest.skip("SQLite lets one writer in at a time: a waiting claim reads the rows anew")
    queue(app, outbox.BATCH)
    with app.app_context():
        engine = db.engine
    a_claimed, b_claimed = threading.Event(), threading.Event()
    errors = []

    def b_waits_for_a_lock() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar())

    @event.listens_for(engine, "after_cursor_execute")
    def hold(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("UPDATE outbox"):
            return
        if threading.current_thread().name == "sender-b":
            b_claimed.set()
        elif threading.current_thread().name == "sender-a" and not a_claimed.is_set():
            a_claimed.set()
            deadline = time.monotonic() + 30
            while not b_claimed.is_set() and not b_waits_for_a_lock() and time.monotonic() < deadline:
                time.sleep(0.05)

    def send(name):
        try:
            with app.app_context():
                outbox.deliver(db.session)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append((name, exc))

    a = threading.Thread(target=send, args=("a",), name="sender-a")
    a.start()
    assert a_claimed.wait(30)
    b = threading.Thread(target=send, args=("b",), name="sender-b")
    b.start()
    a.join(60)
    b.join(60)
    event.remove(engine, "after_cursor_execute", hold)
    assert not errors
    sent = sent_ids(tmp_path)
    assert len(sent) == outbox.BATCH
    assert set(sent.values()) == {1}


@pytest.mark.slow
def test_the_worker_sends_what_is_due_and_stops_on_sigterm(make_app, database_url, tmp_path):
    app = make_app()
    queue(app, 3)
    env = dict(os.environ, FLASK_APP="iptor_site", DATABASE_URL=database_url, MAIL_DIR=str(tmp_path / "mail"),
               SECRET_KEY="w" * 48, IPTOR_ENV="development")
    worker = subprocess.Popen([os.path.join(VENV_BIN, "flask"), "outbox", "work", "--interval", "0.2"],
                              cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(sent_ids(tmp_path)) < 3 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        queue(app, 1)  # found on a later round
        while len(sent_ids(tmp_path)) < 4 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "outbox worker stopped" in out
    sent = sent_ids(tmp_path)
    assert len(sent) == 4 and set(sent.values()) == {1}
