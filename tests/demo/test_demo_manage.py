"""After booking: the "manage my booking" link, moving and cancelling (once, also when
pressed concurrently), the invitation files, reminders and one booking per address."""

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import icalendar
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from formhelpers import at_once, csrf_token, demo_data, mail_text, signed_in_staff, written_mails
from iptor_site.core.extensions import db
from iptor_site.demo import manage
from iptor_site.mail import outbox
from iptor_site.models import DemoBooking, OutboxMessage

SLOT = "2026-12-02T09:30Z"  # Wednesday 10:30 in Stockholm
SLOT_START = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
NEW_SLOT = "2026-12-03T12:30Z"  # Thursday 13:30 in Berlin


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def book(client, lang="de", **overrides):
    page = client.get(f"/{lang}/demo").text
    response = client.post(f"/{lang}/demo", data=demo_data(page, slot=SLOT, **overrides))
    assert response.status_code == 303
    return response


def manage_path(msg) -> str:
    return re.search(r"http://127\.0\.0\.1:5000(/[a-z]{2}/demo/manage/[A-Za-z0-9_.-]+)", mail_text(msg)).group(1)


def mails_to(tmp_path, address):
    return [msg for msg in written_mails(tmp_path) if address.casefold() in msg["To"].casefold()]


def calendar_of(msg):
    part = next(p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar")
    return part, icalendar.Calendar.from_ical(part.get_payload(decode=True))


def booking_row(app):
    """The first booking (Anna's)."""
    with app.app_context():
        row = db.session.scalars(select(DemoBooking).order_by(DemoBooking.id)).first()
        db.session.expunge(row)
        return row


def outbox_kinds(app):
    with app.app_context():
        return sorted(db.session.scalars(select(OutboxMessage.kind)))


def pending(app, kind_prefix):
    with app.app_context():
        return sorted(db.session.execute(
            select(OutboxMessage.kind, OutboxMessage.next_attempt_at)
            .where(OutboxMessage.kind.like(f"{kind_prefix}%"), OutboxMessage.sent_at.is_(None))).all())


def test_confirmation_mail_has_what_to_expect_the_manage_link_and_an_invitation(app, client, tmp_path):
    book(client)
    (confirmation,) = mails_to(tmp_path, "anna.schmidt@example.com")
    text = mail_text(confirmation)
    assert "Was Sie erwartet: eine kostenlose und unverbindliche 45-minütige Tour" in text
    assert "Unser Team schickt Ihnen vor der Demo den Link zum Online-Meeting." in text  # none set yet
    path = manage_path(confirmation)
    assert path.startswith("/de/demo/manage/")
    part, calendar = calendar_of(confirmation)
    assert part.get_content_type() == "text/calendar" and part.get_param("method") == "REQUEST"
    assert calendar["METHOD"] == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"demo-{booking_row(app).id}@iptor.com"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == SLOT_START
    assert event.decoded("DTEND") == SLOT_START + timedelta(minutes=45)
    assert str(event["ORGANIZER"]) == "mailto:sales@iptor.com"
    assert str(event["ATTENDEE"]) == "mailto:anna.schmidt@example.com"
    assert event["ATTENDEE"].params["CN"] == "Anna Schmidt"
    assert "LOCATION" not in event and "URL" not in event  # no meeting link yet
    assert not calendar.walk("VTIMEZONE")


def test_the_manage_page_shows_the_booking_and_get_or_head_change_nothing(app, client, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    before = outbox_kinds(app)
    stranger = app.test_client()  # the link works without the booking's session
    page = stranger.get(path)
    assert page.status_code == 200
    assert "Mittwoch, 2. Dezember 2026" in page.text and "10:30" in page.text
    assert "Mitteleuropäische Zeit (UTC+01:00)" in page.text  # the booking's zone: the form's default for de
    assert '<meta name="robots" content="noindex">' in page.text
    assert stranger.head(path).status_code == 200
    invitation = stranger.get(path + "/invitation.ics")
    assert invitation.headers["Content-Type"] == "text/calendar; charset=utf-8; method=REQUEST"
    assert icalendar.Calendar.from_ical(invitation.data)["METHOD"] == "REQUEST"
    row = booking_row(app)
    assert (row.status, row.sequence, row.slot_start) == ("booked", 0, SLOT_START)
    assert outbox_kinds(app) == before


def test_a_forged_or_foreign_token_finds_nothing(app, client, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    assert client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB")).status_code == 404
    # A token signed for another purpose of the site does not open a booking.
    other = URLSafeSerializer(app.config["SECRET_KEY"], salt="something-else").dumps({"booking": 1})
    assert client.get(f"/de/demo/manage/{other}").status_code == 404


def test_cancel_is_a_post_with_csrf_and_acts_once(app, client, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    assert pending(app, "demo-reminder")  # the 24-hour and 1-hour reminders wait
    refused = client.post(path + "/cancel", data={})
    assert refused.status_code == 400
    assert booking_row(app).status == "booked"

    token = csrf_token(client.get(path).text)
    response = client.post(path + "/cancel", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("?changed=cancelled")
    page = client.get(response.headers["Location"]).text
    assert "Ihre Demo wurde storniert. Wir haben Ihnen eine Bestätigung gesendet." in page
    again = client.post(path + "/cancel", data={"csrf_token": token})  # the second press
    assert again.status_code == 303 and "changed" not in again.headers["Location"]

    row = booking_row(app)
    assert (row.status, row.seat, row.sequence) == ("cancelled", None, 1)
    assert pending(app, "demo-reminder") == []
    assert outbox_kinds(app).count("demo-cancelled-by-prospect") == 1
    assert outbox_kinds(app).count("demo-team-change") == 1
    cancelled = mails_to(tmp_path, "anna.schmidt@example.com")[-1]
    part, calendar = calendar_of(cancelled)
    assert part.get_param("method") == "CANCEL" and calendar["METHOD"] == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert (event["SEQUENCE"], str(event["STATUS"])) == (1, "CANCELLED")
    assert str(event["UID"]) == f"demo-{row.id}@iptor.com"
    team = mails_to(tmp_path, "sales@iptor.com")[-1]
    assert "cancelled by the prospect" in team["Subject"]
    # The time is free again.
    assert SLOT in [v for g in client.get("/en/demo/slots").get_json()["groups"] for v, _ in g["options"]]


def test_move_to_another_free_time(app, client, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    page = client.get(path + "?week=2026-12-03").text
    assert f'value="{NEW_SLOT}"' in page and f'value="{SLOT}"' not in page  # its own time is not offered
    data = {"csrf_token": csrf_token(page), "sequence": "0", "slot": NEW_SLOT}
    response = client.post(path + "/move", data=data)
    assert response.status_code == 303 and response.headers["Location"].endswith("?changed=moved")
    row = booking_row(app)
    assert (row.slot_start, row.sequence, row.status) == (datetime(2026, 12, 3, 12, 30, tzinfo=UTC), 1, "booked")
    # The same page sent again (a double submit) changes nothing more.
    assert client.post(path + "/move", data=data).status_code == 409
    assert booking_row(app).sequence == 1
    assert [kind for kind, _ in pending(app, "demo-reminder")] == ["demo-reminder-1h", "demo-reminder-24h"]
    assert sorted(due for _, due in pending(app, "demo-reminder")) == [
        datetime(2026, 12, 2, 12, 30, tzinfo=UTC), datetime(2026, 12, 3, 11, 30, tzinfo=UTC)]
    moved = mails_to(tmp_path, "anna.schmidt@example.com")[-1]
    assert "verschoben" in moved["Subject"]
    assert "Donnerstag, 3. Dezember 2026" in mail_text(moved) and "13:30" in mail_text(moved)
    part, calendar = calendar_of(moved)
    assert part.get_param("method") == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert event["SEQUENCE"] == 1 and event.decoded("DTSTART") == datetime(2026, 12, 3, 12, 30, tzinfo=UTC)
    team = mails_to(tmp_path, "sales@iptor.com")[-1]
    assert "moved by the prospect" in team["Subject"]
    assert re.search(r"^Was: .+\nNow: .+$", mail_text(team), re.M)
    # The old time is free, the new one taken.
    free = [v for g in client.get("/en/demo/slots").get_json()["groups"] for v, _ in g["options"]]
    assert SLOT in free and NEW_SLOT not in free


def test_move_refuses_times_not_offered_with_a_localized_error(app, client, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    token = csrf_token(client.get(path).text)
    for bad, status in (("2026-12-05T09:00Z", 422), ("nonsense", 422), ("", 422)):
        response = client.post(path + "/move", data={"csrf_token": token, "sequence": "0", "slot": bad})
        assert response.status_code == status
        assert 'class="error" id="slot-error"' in response.text
    assert booking_row(app).sequence == 0


@pytest.mark.slow
def test_move_to_a_time_taken_meanwhile_is_refused(app, client, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    token = csrf_token(client.get(path).text)
    other = app.test_client()
    page = other.get("/de/demo").text
    assert other.post("/de/demo", data=demo_data(page, slot=NEW_SLOT, email="bob@example.com")).status_code == 303
    response = client.post(path + "/move", data={"csrf_token": token, "sequence": "0", "slot": NEW_SLOT})
    assert response.status_code == 409
    assert "Dieser Termin wurde soeben von jemand anderem gebucht." in response.text
    assert (booking_row(app).slot_start, booking_row(app).sequence) == (SLOT_START, 0)


def test_the_link_ends_when_the_meeting_starts(app, client, tmp_path, clock):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    token = csrf_token(client.get(path).text)
    clock.now = SLOT_START
    assert client.get(path).status_code == 410
    assert client.post(path + "/cancel", data={"csrf_token": token}).status_code == 410
    assert booking_row(app).status == "booked"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def _race(server, path, action, bodies):
    """POST ``bodies`` (one per contender, each with its own session) at once; their statuses."""
    contenders = len(bodies)
    barrier = threading.Barrier(contenders)
    statuses = [None] * contenders

    def run(n):
        opener = _opener()
        page = opener.open(f"{server}{path}").read().decode()
        body = urllib.parse.urlencode({"csrf_token": csrf_token(page), **bodies[n]}).encode()
        barrier.wait()
        try:
            statuses[n] = opener.open(f"{server}{path}/{action}", data=body).status
        except urllib.error.HTTPError as exc:
            statuses[n] = exc.code

    at_once(run, contenders)
    return statuses


def test_concurrent_cancels_act_once(app, client, server, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    statuses = _race(server, path, "cancel", [{}] * 6)
    assert statuses == [303] * 6  # each is answered with the page, which shows the cancellation
    row = booking_row(app)
    assert (row.status, row.sequence) == ("cancelled", 1)
    assert outbox_kinds(app).count("demo-cancelled-by-prospect") == 1
    assert outbox_kinds(app).count("demo-team-change") == 1


def test_concurrent_moves_of_one_booking_act_once(app, client, server, tmp_path):
    book(client)
    path = manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    targets = ["2026-12-03T08:00Z", "2026-12-03T08:45Z", "2026-12-03T09:30Z", "2026-12-03T10:15Z",
               "2026-12-03T11:00Z", "2026-12-03T11:45Z"]
    statuses = _race(server, path, "move", [{"sequence": "0", "slot": slot} for slot in targets])
    assert sorted(statuses) == [303] + [409] * 5
    row = booking_row(app)
    assert row.sequence == 1 and slot_value(row.slot_start) == targets[statuses.index(303)]
    assert outbox_kinds(app).count("demo-moved") == 1
    assert outbox_kinds(app).count("demo-team-change") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DemoBooking)) == 1


def slot_value(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_reminders_are_due_24_hours_and_1_hour_before_in_the_persons_language(app, client, tmp_path):
    book(client, lang="fr")
    assert [kind for kind, _ in pending(app, "demo-reminder")] == ["demo-reminder-1h", "demo-reminder-24h"]
    assert sorted(due for _, due in pending(app, "demo-reminder")) == [
        SLOT_START - timedelta(hours=24), SLOT_START - timedelta(hours=1)]
    with app.app_context():
        assert outbox.deliver(db.session, now=SLOT_START - timedelta(hours=25)) == {"sent": 0, "failed": 0}
        assert outbox.deliver(db.session, now=SLOT_START - timedelta(hours=24)) == {"sent": 1, "failed": 0}
    reminder = mails_to(tmp_path, "anna.schmidt@example.com")[-1]
    assert reminder["Subject"].startswith("Rappel")
    assert "mercredi 2 décembre 2026" in mail_text(reminder)
    assert "/fr/demo/manage/" in mail_text(reminder)
    with app.app_context():
        assert outbox.deliver(db.session, now=SLOT_START - timedelta(hours=1)) == {"sent": 1, "failed": 0}
    assert "une heure" in mails_to(tmp_path, "anna.schmidt@example.com")[-1]["Subject"]


def test_a_reminder_the_worker_reaches_only_after_the_demo_began_is_dropped(app, client, clock):
    """A worker that was down must not remind of a demo that has begun: the rows go, unsent."""
    book(client)
    assert len(pending(app, "demo-reminder")) == 2
    clock.now = SLOT_START + timedelta(minutes=5)
    with app.app_context():
        assert outbox.deliver(db.session, now=clock.now) == {"sent": 0, "failed": 0}
    assert pending(app, "demo-reminder") == []


def test_no_reminder_that_would_be_due_before_the_booking(app, client, clock):
    clock.now = SLOT_START - timedelta(hours=20)
    book(client)
    assert [kind for kind, _ in pending(app, "demo-reminder")] == ["demo-reminder-1h"]


def test_a_second_booking_from_the_same_address_mails_the_existing_one(app, client, tmp_path):
    book(client)
    first_page = client.get("/de/demo/booked").text
    stranger = app.test_client()
    page = stranger.get("/de/demo").text
    response = stranger.post("/de/demo", data=demo_data(page, slot=NEW_SLOT, email="Anna.Schmidt@Example.com",
                                                        name="Someone Else"))
    assert response.status_code == 303 and response.headers["Location"] == "/de/demo/booked"
    # The same answer as for a new booking: the page tells nobody the address had one.
    answer = stranger.get("/de/demo/booked").text
    strip = lambda html: re.sub(r'nonce="[^"]*"|[A-Za-z0-9_-]{40,}', "", html)  # noqa: E731
    assert strip(answer) == strip(first_page)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DemoBooking)) == 1
    existing = mails_to(tmp_path, "Anna.Schmidt@Example.com")[-1]
    text = mail_text(existing)
    assert "Mittwoch, 2. Dezember 2026" in text and "Donnerstag, 3. Dezember 2026" in text
    assert manage_path(existing) == manage_path(mails_to(tmp_path, "anna.schmidt@example.com")[0])
    # The requested time stays free; once the first demo is cancelled, a new one can be booked.
    path = manage_path(existing)
    client.post(path + "/cancel", data={"csrf_token": csrf_token(client.get(path).text)})
    page = stranger.get("/de/demo").text
    assert stranger.post("/de/demo", data=demo_data(page, slot=NEW_SLOT)).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DemoBooking)) == 2


def test_invitation_names_the_salesperson_and_meeting_link_when_the_booking_has_them(app):
    person = SimpleNamespace(email="eva.lind@iptor.com", display_name="Eva Lind",
                             meeting_url="https://meet.example.com/iptor-eva")
    lead = SimpleNamespace(email="anna@example.com", name="Anna Schmidt", locale="en",
                           created_at=datetime(2026, 11, 30, 11, 0, tzinfo=UTC))
    booking = SimpleNamespace(id=7, slot_start=SLOT_START, duration_minutes=45, time_zone="Europe/Berlin",
                              status="booked", sequence=2, changed_at=None, lead=lead, salesperson=person)
    with app.test_request_context("/en/demo"):
        calendar = icalendar.Calendar.from_ical(manage.invitation(booking))
    (event,) = calendar.walk("VEVENT")
    assert str(event["ORGANIZER"]) == "mailto:eva.lind@iptor.com"
    assert event["ORGANIZER"].params["CN"] == "Eva Lind"
    assert str(event["LOCATION"]) == str(event["URL"]) == "https://meet.example.com/iptor-eva"
    assert event["SEQUENCE"] == 2 and str(event["UID"]) == "demo-7@iptor.com"


def test_a_cancellation_in_the_back_office_cancels_the_reminders_and_sends_a_cancel_invitation(
        app, client, clock, tmp_path):
    book(client)
    assert len(pending(app, "demo-reminder")) == 2
    sales = signed_in_staff(app, "sales@iptor.com", "sales", now=clock.now)
    page = sales.get("/admin/bookings/1").text
    response = sales.post("/admin/bookings/1/status", data={"csrf_token": csrf_token(page), "status": "cancelled"})
    assert response.status_code == 303
    assert pending(app, "demo-reminder") == []
    row = booking_row(app)
    assert (row.status, row.sequence) == ("cancelled", 1)
    # The prospect is told once, with an invitation that takes the demo out of their calendar.
    (notice,) = [msg for msg in mails_to(tmp_path, "anna.schmidt@example.com") if "storniert" in msg["Subject"]]
    part, calendar = calendar_of(notice)
    assert part.get_param("method") == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert (str(calendar["METHOD"]), event["SEQUENCE"], str(event["UID"])) == ("CANCEL", 1, "demo-1@iptor.com")


@pytest.mark.slow
def test_two_staff_cancelling_at_once_cancel_and_mail_once(app, client, clock, tmp_path):
    book(client)
    pages = []
    staff = []
    for address in ("sales@iptor.com", "sales2@iptor.com"):
        person = signed_in_staff(app, address, "sales", now=clock.now)
        staff.append(person)
        pages.append(person.get("/admin/bookings/1").text)  # both pages show the booking as booked
    barrier = threading.Barrier(2)

    def press(index):
        barrier.wait()
        return staff[index].post("/admin/bookings/1/status",
                                 data={"csrf_token": csrf_token(pages[index]), "status": "cancelled"}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(press, range(2)))
    assert codes == [303, 303]
    notes = [person.get("/admin/bookings/1").text for person in staff]
    assert sum("already cancelled; nothing changed" in note for note in notes) == 1
    assert booking_row(app).sequence == 1
    notices = [msg for msg in mails_to(tmp_path, "anna.schmidt@example.com") if "storniert" in msg["Subject"]]
    assert len(notices) == 1
