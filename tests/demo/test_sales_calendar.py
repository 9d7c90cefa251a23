"""Salespeople's calendars on a real CalDAV server (Radicale on loopback, no authentication,
storage in the test's folder): busy events hide times, bookings appear as events, moves
move them, cancellations remove them, and an unreachable calendar loses nothing."""

import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import caldav
import pytest
from icalendar import Calendar
from sqlalchemy import select

from formhelpers import (
    STAFF_PASSWORD,
    csrf_token,
    demo_data,
    inquiry_data,
    mailed_link,
    press_the_button,
    send_outbox,
    signed_in_staff,
    slot_values,
    written_mails,
)
from iptor_site.backoffice import accounts
from iptor_site.core.extensions import db
from iptor_site.demo import calendar_sync, calendars
from iptor_site.mail import outbox
from iptor_site.models import DemoBooking, Lead, OutboxMessage

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Monday 12:00 in Stockholm


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Radicale:
    """A Radicale server in a folder of the test's own; it can be stopped and started
    again on the same port, like a calendar server that goes away for a while."""

    def __init__(self, folder):
        self.folder = folder
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "radicale.conf"
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n[auth]\ntype = none\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n[logging]\nlevel = error\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and config
            [sys.executable, "-m", "radicale", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:  # wait until it listens (a start-up wait, not an assertion on time)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Radicale did not start") from None
                time.sleep(0.05)

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def new_calendar(self, user: str) -> str:
        url = f"{self.url}/{user}/{uuid.uuid4().hex}/"
        caldav.DAVClient(url=self.url, username=user, password="any", enable_rfc6764=False).principal().make_calendar(
            cal_id=url.rstrip("/").rsplit("/", 1)[1])
        return url

    def client(self, url: str) -> caldav.Calendar:
        return caldav.DAVClient(url=url, username="test", password="any", enable_rfc6764=False).calendar(url=url)


@pytest.fixture
def radicale(tmp_path):
    server = Radicale(tmp_path)
    server.start()
    calendars.forget()
    yield server
    server.stop()
    calendars.forget()


@pytest.fixture
def app(make_app):
    # Radicale listens on loopback over plain http, which only this setting allows.
    return make_app(CLOCK=lambda: MONDAY_NOON, CALENDAR_PRIVATE_HOSTS=True)


def event(uid: str, start: datetime, end: datetime, *, transparent=False, all_day=False) -> str:
    def stamp(value):
        return f";VALUE=DATE:{value:%Y%m%d}" if all_day else f":{value:%Y%m%dT%H%M%SZ}"

    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261130T000000Z\r\nDTSTART{stamp(start)}\r\nDTEND{stamp(end)}\r\n"
            f"SUMMARY:Busy\r\n{'TRANSP:TRANSPARENT' + chr(13) + chr(10) if transparent else ''}"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def salesperson(app, email, calendar_url, hours="mon-fri 09:00-17:00", meeting_url=None):
    with app.app_context():
        user = accounts.create_staff(db.session, email, STAFF_PASSWORD, "sales", MONDAY_NOON)
        db.session.commit()
        staff_id = user.id
    runner = app.test_cli_runner()
    args = ["staff", "hours", email, hours, "--tz", "Europe/Stockholm"]
    if meeting_url:
        args += ["--meeting-url", meeting_url]
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=["staff", "calendar", email, "--url", calendar_url, "--username", email.split("@")[0],
                                 "--password-stdin"], input="not-checked-by-this-server\n")
    assert result.exit_code == 0, result.output
    return staff_id


def offered(app):
    return slot_values(app.test_client().get("/en/demo?tz=Europe/Stockholm").text)


def book(app, slot, email):
    client = app.test_client()
    page = client.get("/en/demo").text
    response = client.post("/en/demo", data=demo_data(page, slot=slot, email=email, company="Schmidt Logistik GmbH"))
    assert response.status_code == 303
    with app.app_context():
        return db.session.scalars(select(DemoBooking.id).join(Lead).where(Lead.email == email)).one()


def events(radicale, url) -> dict[str, object]:
    """The events in the calendar, by UID."""
    found = {}
    for item in radicale.client(url).events():
        for component in Calendar.from_ical(item.data).walk("VEVENT"):
            found[str(component["UID"])] = component
    return found


@pytest.mark.slow
def test_busy_events_hide_the_times_they_cover(app, radicale):
    calendar = radicale.new_calendar("anna")
    salesperson(app, "anna@iptor.com", calendar)
    remote = radicale.client(calendar)
    # Tuesday 09:00-10:00 in Stockholm: the 09:00 and 09:45 demos overlap it; 10:30 keeps
    # 30 minutes, more than the 15-minute buffer.
    remote.save_event(event("meeting-1", datetime(2026, 12, 1, 8, 0, tzinfo=UTC), datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))
    # 14:00-14:20: the buffer also takes the 13:30 demo (ends 14:15) and the 14:15 one.
    remote.save_event(event("meeting-2", datetime(2026, 12, 1, 13, 0, tzinfo=UTC), datetime(2026, 12, 1, 13, 20, tzinfo=UTC)))
    # A free ("transparent") event hides nothing; an all-day event hides its day.
    remote.save_event(event("free-time", datetime(2026, 12, 2, 8, 0, tzinfo=UTC), datetime(2026, 12, 2, 16, 0, tzinfo=UTC),
                            transparent=True))
    remote.save_event(event("offsite", datetime(2026, 12, 3), datetime(2026, 12, 4), all_day=True))
    values = offered(app)
    tuesday = [v for v in values if v.startswith("2026-12-01")]
    assert tuesday == ["2026-12-01T09:30Z", "2026-12-01T10:15Z", "2026-12-01T11:00Z", "2026-12-01T11:45Z",
                       "2026-12-01T14:00Z", "2026-12-01T14:45Z"]
    assert len([v for v in values if v.startswith("2026-12-02")]) == 10
    assert [v for v in values if v.startswith("2026-12-03")] == []


@pytest.mark.slow
def test_a_reading_is_kept_for_a_minute(app, radicale, monkeypatch):
    url = radicale.new_calendar("anna")
    salesperson(app, "anna@iptor.com", url)
    moment = [1000.0]
    monkeypatch.setattr(calendars, "monotonic", lambda: moment[0])
    assert "2026-12-01T08:00Z" in offered(app)
    radicale.client(url).save_event(event("late", datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
                                          datetime(2026, 12, 1, 8, 30, tzinfo=UTC)))
    moment[0] += 59
    assert "2026-12-01T08:00Z" in offered(app)  # the reading of a second ago
    moment[0] += 1
    assert "2026-12-01T08:00Z" not in offered(app)


@pytest.mark.slow
def test_a_booking_becomes_an_event_in_the_salespersons_calendar(app, radicale):
    url = radicale.new_calendar("anna")
    anna = salesperson(app, "anna@iptor.com", url, meeting_url="https://meet.example.com/anna")
    booking_id = book(app, "2026-12-01T08:00Z", "prospect@example.com")
    found = events(radicale, url)
    assert list(found) == [f"demo-{booking_id}@iptor.com"]
    vevent = found[f"demo-{booking_id}@iptor.com"]
    assert vevent.decoded("DTSTART") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert vevent.decoded("DTEND") == datetime(2026, 12, 1, 8, 45, tzinfo=UTC)
    assert str(vevent["SUMMARY"]) == "Iptor multiflex demo: Schmidt Logistik GmbH (Anna Schmidt)"
    assert str(vevent["ATTENDEE"]) == "mailto:prospect@example.com"
    assert str(vevent["ORGANIZER"]) == "mailto:anna@iptor.com"
    assert str(vevent["LOCATION"]) == "https://meet.example.com/anna"
    assert f"http://127.0.0.1:5000/admin/bookings/{booking_id}" in str(vevent["DESCRIPTION"])
    with app.app_context():
        assert db.session.get(DemoBooking, booking_id).salesperson_id == anna
        assert calendar_sync.pending(db.session, [db.session.get(DemoBooking, booking_id).lead_id]) == set()
    # The site's own event does not count as another meeting: the time stays taken by the
    # booking (one salesperson), and the times around it follow the buffer, not the event twice.
    assert "2026-12-01T08:00Z" not in offered(app) and "2026-12-01T09:30Z" in offered(app)


@pytest.mark.slow
def test_moving_and_reassigning_a_booking_moves_its_event(app, radicale):
    anna_url, bert_url = radicale.new_calendar("anna"), radicale.new_calendar("bert")
    salesperson(app, "anna@iptor.com", anna_url)
    bert = salesperson(app, "bert@iptor.com", bert_url)
    booking_id = book(app, "2026-12-01T08:00Z", "prospect@example.com")
    uid = f"demo-{booking_id}@iptor.com"
    with app.app_context():
        booking = db.session.get(DemoBooking, booking_id)
        previous = booking.salesperson_id
        booking.slot_start = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
        calendar_sync.booking_changed(db.session, booking)
        db.session.commit()
        outbox.deliver(db.session)
    assert events(radicale, anna_url)[uid].decoded("DTSTART") == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    with app.app_context():
        booking = db.session.get(DemoBooking, booking_id)
        booking.salesperson_id = booking.seat = bert
        calendar_sync.booking_changed(db.session, booking, previous_salesperson_id=previous)
        db.session.commit()
        outbox.deliver(db.session)
    assert events(radicale, anna_url) == {}
    assert list(events(radicale, bert_url)) == [uid]


@pytest.mark.slow
def test_cancelling_removes_the_event(app, radicale):
    url = radicale.new_calendar("anna")
    salesperson(app, "anna@iptor.com", url)
    booking_id = book(app, "2026-12-01T08:00Z", "prospect@example.com")
    assert len(events(radicale, url)) == 1
    sales = signed_in_staff(app, "lead@iptor.com", "sales", now=MONDAY_NOON)
    page = sales.get(f"/admin/bookings/{booking_id}").text
    response = sales.post(f"/admin/bookings/{booking_id}/status", data={"csrf_token": csrf_token(page),
                                                                       "status": "cancelled"})
    assert response.status_code == 303
    assert events(radicale, url) == {}
    assert "2026-12-01T08:00Z" in offered(app)


@pytest.mark.slow
def test_an_unreachable_calendar_loses_no_booking(app, radicale):
    url = radicale.new_calendar("anna")
    salesperson(app, "anna@iptor.com", url)
    assert "2026-12-01T08:00Z" in offered(app)  # read while the server is up (kept a minute)
    radicale.stop()
    booking_id = book(app, "2026-12-01T08:00Z", "prospect@example.com")
    with app.app_context():
        lead_id = db.session.get(DemoBooking, booking_id).lead_id
        row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "calendar-sync")).one()
        assert (row.sent_at, row.attempts, row.lead_id) == (None, 1, lead_id)
        assert row.last_error.startswith("BuildError")
        assert calendar_sync.pending(db.session, [lead_id]) == {lead_id}
        # The booking's mail went out all the same.
        kinds = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.sent_at.is_not(None))).all()
        assert sorted(kinds) == ["demo-confirmation", "demo-team"]
    sales = signed_in_staff(app, "lead@iptor.com", "sales", now=MONDAY_NOON)
    assert "not yet in a calendar" in sales.get(f"/admin/bookings/{booking_id}").text
    assert "not yet in a calendar" in sales.get("/admin/bookings").text

    radicale.start()
    with app.app_context():
        assert outbox.deliver(db.session, now=MONDAY_NOON + timedelta(minutes=2)) == {"sent": 1, "failed": 0}
        assert calendar_sync.pending(db.session, [lead_id]) == set()
    assert list(events(radicale, url)) == [f"demo-{booking_id}@iptor.com"]
    assert "not yet in a calendar" not in sales.get(f"/admin/bookings/{booking_id}").text


@pytest.mark.slow
def test_an_unreadable_calendar_offers_its_owner_for_nothing(app, radicale):
    salesperson(app, "anna@iptor.com", radicale.new_calendar("anna"), hours="tue 09:00-12:00")
    radicale.stop()
    # Anna's calendar cannot be read: she is not offered rather than double-booked; with
    # nobody else, no time is offered.
    assert offered(app) == []


@pytest.mark.slow
def test_an_erasure_removes_the_persons_demo_from_the_calendar(app, radicale, tmp_path):
    url = radicale.new_calendar("anna")
    salesperson(app, "anna@iptor.com", url)
    book(app, "2026-12-01T08:00Z", "prospect@example.com")
    assert len(events(radicale, url)) == 1
    client = app.test_client()
    page = client.get("/en/privacy/inquiry").text
    assert client.post("/en/privacy/inquiry", data=inquiry_data(page, request_type="erasure",
                                                                email="prospect@example.com")).status_code == 303
    assert press_the_button(client, mailed_link(written_mails(tmp_path)[-1], "verify")).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(DemoBooking)).all() == []
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "calendar-sync")).all()
        # The row that removed the event names the booking's number only, and no person.
        assert [(row.lead_id, row.recipient, row.sent_at is not None) for row in rows] == [
            (None, "anna@iptor.com", True)]
        assert b"prospect" not in rows[0].message
    assert events(radicale, url) == {}


@pytest.mark.slow
def test_the_retention_purge_removes_old_demos_from_the_calendar(make_app, radicale, clock):
    app = make_app(CLOCK=clock, CALENDAR_PRIVATE_HOSTS=True, RETENTION_DEMO_MONTHS=1)
    url = radicale.new_calendar("anna")
    salesperson(app, "anna@iptor.com", url)
    book(app, "2026-12-01T08:00Z", "old.prospect@example.com")
    kept = book(app, "2026-12-01T09:30Z", "new.prospect@example.com")
    assert len(events(radicale, url)) == 2
    clock.now = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)  # the first booking was made more than a month ago
    with app.app_context():
        db.session.get(Lead, db.session.get(DemoBooking, kept).lead_id).created_at = clock.now
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert "demo leads: 1" in result.output, result.output
    send_outbox(app)
    assert list(events(radicale, url)) == [f"demo-{kept}@iptor.com"]

