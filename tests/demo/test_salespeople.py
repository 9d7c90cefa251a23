"""Salespeople give demos: their hours, time off and calendar settings; which times are
offered; who gets a booking; and the database refusing one salesperson twice at a time."""

import http.cookiejar
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from formhelpers import STAFF_PASSWORD, at_once, csrf_token, demo_data, signed_in_staff
from iptor_site.backoffice import accounts
from iptor_site.core.extensions import db
from iptor_site.core.settings import ConfigError
from iptor_site.demo import calendars, salespeople, slots
from iptor_site.models import AuditEntry, DemoBooking, Lead, SalesProfile, SalesTimeOff

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Monday 12:00 in Stockholm


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: MONDAY_NOON)


def cli(app, *args, stdin=None):
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def add_staff(app, email, role="sales"):
    with app.app_context():
        user = accounts.create_staff(db.session, email, STAFF_PASSWORD, role, MONDAY_NOON)
        db.session.commit()
        return user.id


def salesperson(app, email, hours="mon-fri 09:00-17:00", tz="Europe/Stockholm"):
    staff_id = add_staff(app, email)
    result = cli(app, "staff", "hours", email, hours, "--tz", tz)
    assert result.exit_code == 0, result.output
    return staff_id


def book(app, slot, email, lang="en"):
    client = app.test_client()
    page = client.get(f"/{lang}/demo").text
    return client.post(f"/{lang}/demo", data=demo_data(page, slot=slot, email=email, name=email.split("@")[0]))


def booking_of(app, email):
    with app.app_context():
        return db.session.scalars(select(DemoBooking).join(Lead).where(Lead.email == email)).one()


# --- settings: the command line --------------------------------------------------------------

def test_hours_time_zone_and_meeting_link_from_the_command_line(app):
    staff_id = add_staff(app, "anna@iptor.com")
    result = cli(app, "staff", "hours", "Anna@Iptor.com", "Mon-Thu 09:00-12:00 13:00-17:00, fri 09:00-12:00",
                 "--tz", "Europe/Berlin", "--meeting-url", "https://meet.example.com/anna")
    assert result.exit_code == 0, result.output
    with app.app_context():
        profile = db.session.get(SalesProfile, staff_id)
        assert (profile.hours, profile.time_zone) == ("mon-thu 09:00-12:00 13:00-17:00; fri 09:00-12:00",
                                                      "Europe/Berlin")
        assert profile.meeting_url == "https://meet.example.com/anna"
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "sales-hours")).one()
        assert (entry.actor, entry.target) == ("command line", f"staff #{staff_id}")
        assert salespeople.parse_hours(profile.hours)[5] == [(datetime(1, 1, 1, 9).time(), datetime(1, 1, 1, 12).time())]
    # The zone stays when only the hours change; an empty link removes it.
    assert cli(app, "staff", "hours", "anna@iptor.com", "tue 10:00-11:00", "--meeting-url", "").exit_code == 0
    with app.app_context():
        profile = db.session.get(SalesProfile, staff_id)
        assert (profile.hours, profile.time_zone, profile.meeting_url) == ("tue 10:00-11:00", "Europe/Berlin", None)


@pytest.mark.parametrize(("args", "message"), [
    (["mon-fri 9-17"], "'9-17' is not a span of hours such as 09:00-17:00"),
    (["mon-fri 17:00-09:00"], "'17:00-09:00' ends before it starts"),
    (["fri-mon 09:00-17:00"], "the days run from Monday to Sunday"),
    (["funday 09:00-17:00"], "is not a day or days and hours"),
    (["mon-fri 09:00-17:00", "--tz", "Mars/Olympus"], "'Mars/Olympus' is not an IANA time zone"),
    (["mon-fri 09:00-17:00", "--meeting-url", "javascript:alert(1)"], "must be an http(s) address"),
])
def test_bad_hours_are_refused_with_the_reason(app, args, message):
    add_staff(app, "anna@iptor.com")
    result = cli(app, "staff", "hours", "anna@iptor.com", *args)
    assert result.exit_code == 1 and message in result.output
    with app.app_context():
        assert db.session.scalars(select(SalesProfile)).all() == []


def test_only_active_sales_staff_give_demos(app):
    add_staff(app, "dpo@iptor.com", "privacy")
    result = cli(app, "staff", "hours", "dpo@iptor.com", "mon-fri 09:00-17:00")
    assert result.exit_code == 1 and "only staff with the sales role give demos" in result.output
    result = cli(app, "staff", "hours", "nobody@iptor.com", "mon-fri 09:00-17:00")
    assert result.exit_code == 1 and "nobody@iptor.com is not an active staff account" in result.output


def test_time_off_from_the_command_line(app):
    staff_id = salesperson(app, "anna@iptor.com")
    assert cli(app, "staff", "off", "anna@iptor.com", "2026-12-21", "2027-01-06").exit_code == 0
    assert cli(app, "staff", "off", "anna@iptor.com", "2026-12-02").exit_code == 0
    backwards = cli(app, "staff", "off", "anna@iptor.com", "2026-12-10", "2026-12-09")
    assert backwards.exit_code == 1 and "must end on or after its first day" in backwards.output
    assert cli(app, "staff", "off", "anna@iptor.com", "21/12/2026").exit_code == 2
    with app.app_context():
        spans = db.session.execute(select(SalesTimeOff.first_day, SalesTimeOff.last_day)
                                   .where(SalesTimeOff.staff_id == staff_id).order_by(SalesTimeOff.first_day)).all()
        assert [tuple(s) for s in spans] == [(date(2026, 12, 2), date(2026, 12, 2)),
                                             (date(2026, 12, 21), date(2027, 1, 6))]
    assert cli(app, "staff", "off", "anna@iptor.com", "2026-12-02", "--remove").exit_code == 0
    with app.app_context():
        assert len(db.session.scalars(select(SalesTimeOff)).all()) == 1


@pytest.mark.parametrize("url", [
    "http://cal.example.com/anna/work/",  # credentials in the clear
    "https://127.0.0.1:5232/anna/work/",
    "https://[::1]/anna/",
    "https://10.1.2.3/anna/",
    "https://169.254.169.254/latest/",
    "https://localhost/anna/",
    "https://calendar.localhost/anna/",
])
def test_a_calendar_on_a_local_or_private_host_or_without_https_is_refused(app, url):
    salesperson(app, "anna@iptor.com")
    result = cli(app, "staff", "calendar", "anna@iptor.com", "--url", url, "--username", "anna",
                 "--password-stdin", stdin="secret\n")
    assert result.exit_code != 0
    assert "https" in result.output if url.startswith("http:") else "CALENDAR_PRIVATE_HOSTS" in result.output
    with app.app_context():
        assert db.session.scalars(select(SalesProfile.calendar_url)).one() is None


def test_a_calendar_or_meeting_link_with_an_impossible_port_is_refused(app):
    salesperson(app, "anna@iptor.com")
    result = cli(app, "staff", "calendar", "anna@iptor.com", "--url", "https://cal.example.com:99999/anna/",
                 "--password-stdin", stdin="secret\n")
    assert result.exit_code != 0 and "impossible port" in result.output
    result = cli(app, "staff", "hours", "anna@iptor.com", "mon-fri 09:00-17:00",
                 "--meeting-url", "https://meet.example.com:0x50/anna")
    assert result.exit_code != 0 and "impossible port" in result.output


def test_private_calendar_hosts_are_allowed_when_the_operator_says_so(make_app):
    app = make_app(CLOCK=lambda: MONDAY_NOON, CALENDAR_PRIVATE_HOSTS=True)
    salesperson(app, "anna@iptor.com")
    result = cli(app, "staff", "calendar", "anna@iptor.com", "--url", "http://10.1.2.3:5232/anna/",
                 "--username", "anna", "--password-stdin", stdin="secret\n")
    assert result.exit_code == 0, result.output


def test_a_stored_calendar_that_resolves_to_a_private_address_is_never_contacted(app, monkeypatch):
    """However it got there (stored while allowed, or a name that now resolves inward)."""
    staff_id = salesperson(app, "anna@iptor.com")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    with app.app_context():
        db.session.get(SalesProfile, staff_id).calendar_url = f"https://127.0.0.1:{port}/anna/"
        db.session.commit()
        (person,) = salespeople.giving_demos(db.session)
        calendars.forget()
        with pytest.raises(calendars.CalendarUnavailable):
            calendars.busy(person, MONDAY_NOON, MONDAY_NOON + timedelta(days=1))
        with pytest.raises(calendars.CalendarHostRefused):
            calendars.put_event(person.calendar_url, None, 1, b"BEGIN:VCALENDAR")
        # A public name is let through, with redirects (which could lead inward) refused.
        monkeypatch.setattr(socket, "getaddrinfo",
                            lambda *args, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.32.10", 443))])
        assert calendars._client("https://cal.example.com/anna/", None).session.max_redirects == 0
    with pytest.raises(TimeoutError):
        listener.accept()  # nobody knocked
    listener.close()


def test_calendar_credentials_are_stored_encrypted(app, make_app):
    staff_id = salesperson(app, "anna@iptor.com")
    result = cli(app, "staff", "calendar", "anna@iptor.com", "--url", "https://cal.example.com/anna/work/",
                 "--username", "anna", "--password-stdin", stdin="s3cret-calendar-password\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        profile = db.session.get(SalesProfile, staff_id)
        assert profile.calendar_url == "https://cal.example.com/anna/work/"
        assert "s3cret" not in profile.calendar_credentials and "anna" not in profile.calendar_credentials
        assert salespeople.decrypt_credentials(profile.calendar_credentials) == ("anna", "s3cret-calendar-password")
        token = profile.calendar_credentials
    # Another key (CALENDAR_KEY set) cannot read them: the message says to set them again.
    other = make_app(CLOCK=lambda: MONDAY_NOON, CALENDAR_KEY="another-calendar-key-of-32-characters-or-more")
    with other.app_context(), pytest.raises(salespeople.SalesError, match="set them again"):
        salespeople.decrypt_credentials(token)
    assert cli(app, "staff", "calendar", "anna@iptor.com", "--remove").exit_code == 0
    with app.app_context():
        profile = db.session.get(SalesProfile, staff_id)
        assert (profile.calendar_url, profile.calendar_credentials) == (None, None)


def test_a_short_calendar_key_stops_start_up(make_app):
    with pytest.raises(ConfigError, match="CALENDAR_KEY must be empty or at least 32 characters"):
        make_app(CALENDAR_KEY="short")


# --- which times are offered -------------------------------------------------------------------

def offered(app):
    """Every time offered over the whole calendar (the page shows one week of it)."""
    with app.app_context():
        return [slots.slot_value(slot) for slot in slots.free(db.session)]


def test_without_salespeople_every_slot_of_the_working_days_is_offered(app):
    add_staff(app, "anna@iptor.com")  # a sales account without hours gives no demos
    assert len(offered(app)) == 150


def test_only_times_inside_a_salespersons_hours_are_offered(app):
    salesperson(app, "anna@iptor.com", "tue 09:00-12:00")
    values = offered(app)
    # Tuesdays 09:00, 09:45, 10:30 and 11:15 (ends 12:00) in Stockholm, for three weeks.
    assert values[:4] == ["2026-12-01T08:00Z", "2026-12-01T08:45Z", "2026-12-01T09:30Z", "2026-12-01T10:15Z"]
    assert len(values) == 3 * 4
    assert {datetime.fromisoformat(v[:10]).isoweekday() for v in values} == {2}


def test_hours_are_read_in_the_salespersons_own_zone(app):
    salesperson(app, "joe@iptor.com", "mon-fri 09:00-17:00", tz="America/New_York")
    values = offered(app)
    # New York's 09:00 is 15:00 in Stockholm: only 15:00 and 15:45 fit before 17:00 there.
    assert values[:2] == ["2026-12-01T14:00Z", "2026-12-01T14:45Z"]
    assert len(values) == 15 * 2


def test_time_off_hides_those_days(app):
    salesperson(app, "anna@iptor.com")
    assert cli(app, "staff", "off", "anna@iptor.com", "2026-12-02", "2026-12-03").exit_code == 0
    days = {v[:10] for v in offered(app)}
    assert "2026-12-01" in days and "2026-12-04" in days
    assert "2026-12-02" not in days and "2026-12-03" not in days


def test_a_deactivated_salesperson_gives_no_demos(app):
    staff_id = salesperson(app, "anna@iptor.com", "tue 09:00-12:00")
    with app.app_context():
        accounts.end_sessions(db.session, staff_id, deactivate=True)
        db.session.commit()
    assert len(offered(app)) == 150  # nobody left: the working hours and DEMO_SEATS, as before


@pytest.mark.parametrize(("buffer", "expected"), [
    (15, ["2026-12-01T09:30Z"]),  # 09:45 starts as the 09:00 demo ends: too close
    (0, ["2026-12-01T08:45Z", "2026-12-01T09:30Z"]),
])
@pytest.mark.slow
def test_the_buffer_keeps_a_salespersons_demos_apart(make_app, buffer, expected):
    app = make_app(CLOCK=lambda: MONDAY_NOON, DEMO_BUFFER_MINUTES=buffer)
    salesperson(app, "anna@iptor.com", "tue 09:00-11:15")
    assert offered(app)[:4] == ["2026-12-01T08:00Z", "2026-12-01T08:45Z", "2026-12-01T09:30Z",
                                "2026-12-08T08:00Z"]
    assert book(app, "2026-12-01T08:00Z", "first@example.com").status_code == 303
    assert [v for v in offered(app) if v.startswith("2026-12-01")] == expected


def test_a_time_nobody_is_free_for_is_refused(app):
    salesperson(app, "anna@iptor.com", "tue 09:00-12:00")
    response = book(app, "2026-12-02T08:00Z", "wed@example.com")  # on offer by the settings, Anna works Tuesdays
    assert response.status_code == 409 and "Someone else has just booked this time" in response.text
    assert offered(app)[0] == "2026-12-01T08:00Z"


# --- who gets a booking ------------------------------------------------------------------------

@pytest.mark.slow
def test_bookings_go_round_by_fewest_upcoming_demos(app):
    anna = salesperson(app, "anna@iptor.com")
    bert = salesperson(app, "bert@iptor.com")
    slots = ["2026-12-01T08:00Z", "2026-12-01T09:30Z", "2026-12-02T08:00Z", "2026-12-02T09:30Z"]
    for n, slot in enumerate(slots):
        assert book(app, slot, f"p{n}@example.com").status_code == 303
    assert [booking_of(app, f"p{n}@example.com").salesperson_id for n in range(4)] == [anna, bert, anna, bert]
    # On the 1st Anna gives the 09:00 demo and Bert the 10:30 one: 09:00 is still offered
    # (Bert is free then), 09:45 is not (it ends as Bert's begins: the buffer), 11:15 is.
    values = offered(app)
    assert "2026-12-01T08:00Z" in values and "2026-12-01T08:45Z" not in values
    assert "2026-12-01T10:15Z" in values


@pytest.mark.slow
def test_two_salespeople_take_two_bookings_of_one_slot(app):
    anna = salesperson(app, "anna@iptor.com")
    bert = salesperson(app, "bert@iptor.com")
    assert book(app, "2026-12-01T08:00Z", "a@example.com").status_code == 303
    assert "2026-12-01T08:00Z" in offered(app)  # Bert is still free then
    assert book(app, "2026-12-01T08:00Z", "b@example.com").status_code == 303
    assert book(app, "2026-12-01T08:00Z", "c@example.com").status_code == 409
    assert {booking_of(app, "a@example.com").salesperson_id, booking_of(app, "b@example.com").salesperson_id} == \
        {anna, bert}


def test_the_database_refuses_one_salesperson_twice_at_one_time(app):
    anna = salesperson(app, "anna@iptor.com")
    assert book(app, "2026-12-01T08:00Z", "a@example.com").status_code == 303
    first = booking_of(app, "a@example.com")
    with app.app_context():
        lead = Lead(kind="demo", created_at=MONDAY_NOON, locale="en", name="X", email="x@example.com",
                    email_hash="x", marketing_opt_in=False)
        # Another seat number does not help: the salesperson is taken at that time.
        db.session.add(DemoBooking(lead=lead, slot_start=first.slot_start, seat=99, salesperson_id=anna,
                                   duration_minutes=45, time_zone="UTC", company="X", country="SE", users=1))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # Once cancelled (no seat), the time is theirs to give again.
        db.session.get(DemoBooking, first.id).seat = None
        db.session.commit()
        db.session.add(DemoBooking(lead=Lead(kind="demo", created_at=MONDAY_NOON, locale="en", name="Y",
                                             email="y@example.com", email_hash="y", marketing_opt_in=False),
                                   slot_start=first.slot_start, seat=anna, salesperson_id=anna,
                                   duration_minutes=45, time_zone="UTC", company="Y", country="SE", users=1))
        db.session.commit()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.slow
def test_a_race_for_one_slot_gives_each_salesperson_one_booking(app, server):
    """Eight people book the same time at once; two salespeople are free then: exactly two
    bookings, one each, never one salesperson twice (on SQLite and PostgreSQL alike)."""
    anna = salesperson(app, "anna@iptor.com")
    bert = salesperson(app, "bert@iptor.com")
    contenders = 8
    barrier = threading.Barrier(contenders)
    results = [None] * contenders
    slot = "2026-12-01T08:00Z"

    def attempt(n):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        page = opener.open(f"{server}/en/demo").read().decode()
        body = urllib.parse.urlencode(demo_data(page, slot=slot, name=f"Contender {n}",
                                                email=f"c{n}@example.com")).encode()
        barrier.wait()
        try:
            response = opener.open(f"{server}/en/demo", data=body)
            results[n] = response.status
        except urllib.error.HTTPError as exc:
            results[n] = exc.code

    at_once(attempt, contenders)
    assert sorted(results) == [303, 303] + [409] * (contenders - 2)
    with app.app_context():
        rows = db.session.execute(select(DemoBooking.salesperson_id, DemoBooking.slot_start, DemoBooking.seat)).all()
        assert sorted(r.salesperson_id for r in rows) == sorted([anna, bert])
        assert {r.slot_start for r in rows} == {datetime(2026, 12, 1, 8, 0, tzinfo=UTC)}
        assert len(db.session.scalars(select(Lead)).all()) == 2
    assert slot not in offered(app)


# --- the back-office ---------------------------------------------------------------------------

@pytest.mark.slow
def test_the_week_view_shows_each_salespersons_demos_in_the_viewers_zone(app):
    anna = salesperson(app, "anna@iptor.com")
    salesperson(app, "bert@iptor.com")
    assert book(app, "2026-12-01T08:00Z", "a@example.com").status_code == 303
    assert book(app, "2026-12-01T08:00Z", "b@example.com").status_code == 303
    assert book(app, "2026-12-03T13:15Z", "c@example.com").status_code == 303
    viewer = signed_in_staff(app, "lead@iptor.com", "sales", now=MONDAY_NOON)
    page = viewer.get("/admin/demos/week").text  # no profile: DEMO_TIMEZONE
    assert "Times in Sweden (local time) – UTC+1 (Europe/Stockholm)." in page
    assert "<th scope=\"col\">anna@iptor.com</th><th scope=\"col\">bert@iptor.com</th>" in page
    assert "09:00–09:45 Schmidt Logistik GmbH (a)</a>: booked" in page
    assert "14:15–15:00 Schmidt Logistik GmbH (c)</a>: booked" in page
    tokyo = viewer.get("/admin/demos/week?week=2026-12-02&tz=Asia/Tokyo").text
    assert "Demos, week of 2026-11-30" in tokyo and "(Asia/Tokyo)" in tokyo
    assert "17:00–17:45 Schmidt Logistik GmbH (a)</a>" in tokyo and "22:15–23:00 Schmidt Logistik GmbH (c)" in tokyo
    # A salesperson's own zone is their default.
    assert cli(app, "staff", "hours", "anna@iptor.com", "mon-fri 09:00-17:00", "--tz", "Europe/London").exit_code == 0
    anna_client = app.test_client()
    page = anna_client.get("/admin/login").text
    assert anna_client.post("/admin/login", data={"csrf_token": csrf_token(page), "email": "anna@iptor.com",
                                                  "password": STAFF_PASSWORD}).status_code == 303
    assert "08:00–08:45 Schmidt Logistik GmbH (a)" in anna_client.get("/admin/demos/week").text
    # The next week is empty; the week's cells link to each booking, where it is marked.
    assert "Schmidt" not in viewer.get("/admin/demos/week?week=2026-12-07").text
    with app.app_context():
        first = db.session.scalars(select(DemoBooking).where(DemoBooking.salesperson_id == anna)
                                   .order_by(DemoBooking.slot_start)).first()
    detail = viewer.get(f"/admin/bookings/{first.id}").text
    assert "<dt>Salesperson</dt><dd>anna@iptor.com</dd>" in detail
    assert viewer.post(f"/admin/bookings/{first.id}/status",
                       data={"csrf_token": csrf_token(detail), "status": "no-show"}).status_code == 303
    assert "Schmidt Logistik GmbH (a)</a>: no-show" in viewer.get("/admin/demos/week?week=2026-12-01").text


def test_a_bad_week_or_zone_falls_back(app):
    viewer = signed_in_staff(app, "lead@iptor.com", "sales", now=MONDAY_NOON)
    page = viewer.get("/admin/demos/week?week=soon&tz=Mars/Olympus")
    assert page.status_code == 200 and "Demos, week of 2026-11-30" in page.text and "(Europe/Stockholm)" in page.text


@pytest.mark.slow
def test_salespeople_edit_their_own_settings_and_admins_everyones(app):
    anna = salesperson(app, "anna@iptor.com")
    bert = salesperson(app, "bert@iptor.com")
    add_staff(app, "dpo@iptor.com", "privacy")
    client = app.test_client()
    page = client.get("/admin/login").text
    client.post("/admin/login", data={"csrf_token": csrf_token(page), "email": "anna@iptor.com",
                                      "password": STAFF_PASSWORD})
    page = client.get(f"/admin/salespeople/{anna}").text
    assert client.get(f"/admin/salespeople/{bert}").status_code == 403
    response = client.post(f"/admin/salespeople/{anna}", data={
        "csrf_token": csrf_token(page), "action": "settings", "hours": "mon-fri 08:00-25:00",
        "time_zone": "Europe/Paris", "meeting_url": "https://meet.example.com/anna"})
    assert response.status_code == 422
    assert "&#39;08:00-25:00&#39; is not a span of hours" in response.text
    assert 'value="mon-fri 08:00-25:00"' in response.text and 'value="https://meet.example.com/anna"' in response.text
    response = client.post(f"/admin/salespeople/{anna}", data={
        "csrf_token": csrf_token(page), "action": "settings", "hours": "mon-fri 08:00-16:00",
        "time_zone": "Europe/Paris", "meeting_url": "https://meet.example.com/anna",
        "calendar_url": "https://cal.example.com/anna/work/", "calendar_username": "anna",
        "calendar_password": "p4ssword"})
    assert response.status_code == 303
    # An empty password keeps the stored one.
    assert client.post(f"/admin/salespeople/{anna}", data={
        "csrf_token": csrf_token(page), "action": "settings", "hours": "mon-fri 08:00-16:00",
        "time_zone": "Europe/Paris", "calendar_url": "https://cal.example.com/anna/work/",
        "calendar_username": "anna2", "calendar_password": ""}).status_code == 303
    assert client.post(f"/admin/salespeople/{anna}", data={
        "csrf_token": csrf_token(page), "action": "time-off", "first_day": "2026-12-24",
        "last_day": "2026-12-26"}).status_code == 303
    bad = client.post(f"/admin/salespeople/{anna}", data={"csrf_token": csrf_token(page), "action": "time-off",
                                                          "first_day": "tomorrow"})
    assert bad.status_code == 422 and "the first day must be a date such as 2026-12-21" in bad.text
    with app.app_context():
        profile = db.session.get(SalesProfile, anna)
        assert (profile.hours, profile.time_zone, profile.meeting_url) == (
            "mon-fri 08:00-16:00", "Europe/Paris", None)
        assert salespeople.decrypt_credentials(profile.calendar_credentials) == ("anna2", "p4ssword")
        off = db.session.scalars(select(SalesTimeOff)).one()
        assert (off.first_day, off.last_day) == (date(2026, 12, 24), date(2026, 12, 26))
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "anna@iptor.com")).all()
        assert actions.count("sales-hours") == 2 and actions.count("sales-time-off") == 1
    page = client.get(f"/admin/salespeople/{anna}").text
    assert "2026-12-24 to 2026-12-26" in page
    assert client.post(f"/admin/salespeople/{anna}", data={"csrf_token": csrf_token(page),
                                                           "action": "remove-time-off",
                                                           "id": str(off.id)}).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(SalesTimeOff)).all() == []
    admin = signed_in_staff(app, "root@iptor.com", "admin", now=MONDAY_NOON)
    assert admin.get(f"/admin/salespeople/{bert}").status_code == 200
    listing = admin.get("/admin/salespeople").text
    assert "mon-fri 08:00-16:00" in listing and "https://cal.example.com/anna/work/" in listing
    privacy = signed_in_staff(app, "dpo2@iptor.com", "privacy", now=MONDAY_NOON)
    assert privacy.get("/admin/salespeople").status_code == 403
    assert privacy.get("/admin/demos/week").status_code == 403
