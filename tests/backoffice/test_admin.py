"""The back-office: accounts, roles, bookings, requests, export and the audit log."""

import csv
import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from formhelpers import demo_data, inquiry_data, slot_values, written_mails
from iptor_site.backoffice import accounts
from iptor_site.core.extensions import db
from iptor_site.leads import people
from iptor_site.models import AuditEntry, DemoBooking, Lead, PrivacyInquiry, StaffUser, Suppression

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def make_staff(app, email, role):
    with app.app_context():
        accounts.create_staff(db.session, email, PASSWORD, role, NOW)
        db.session.commit()


def csrf(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def sign_in(app, email, role=None, password=PASSWORD, address="127.0.0.1"):
    if role:
        make_staff(app, email, role)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/admin/login").text
    response = client.post("/admin/login", data={"csrf_token": csrf(page), "email": email, "password": password})
    return client, response


@pytest.fixture
def sales(app):
    return sign_in(app, "sales@iptor.com", "sales")[0]


@pytest.fixture
def privacy(app):
    return sign_in(app, "dpo@iptor.com", "privacy")[0]


def book(app, lang="de", **overrides):
    client = app.test_client()
    page = client.get(f"/{lang}/demo").text
    assert client.post(f"/{lang}/demo", data=demo_data(page, **overrides)).status_code == 303


def verified_request(app, tmp_path, request_type="rectification", lang="fr", email="camille.martin@example.com"):
    client = app.test_client()
    page = client.get(f"/{lang}/privacy/inquiry").text
    assert client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(
        page, request_type=request_type, details="Mon nom est mal orthographié.", email=email)).status_code == 303
    link = re.search(r"http://127\.0\.0\.1:5000(/\w\w/privacy/requests/verify/\S+)",
                     written_mails(tmp_path)[-1].get_body(("plain",)).get_content()).group(1)
    page = client.get(link).text
    assert client.post(link, data={"csrf_token": csrf(page)}).status_code == 303


@pytest.mark.slow
def test_staff_are_created_from_the_command_line_with_argon2(app):
    result = app.test_cli_runner().invoke(args=["staff", "create", "Admin@Iptor.com", "--role", "admin",
                                                "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(StaffUser)).one()
        assert (user.email, user.role) == ("admin@iptor.com", "admin")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    short = app.test_cli_runner().invoke(args=["staff", "create", "x@iptor.com", "--role", "sales",
                                               "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output


@pytest.mark.parametrize(("email", "message"), [
    ("", "Error: an e-mail address is needed"),
    ("   ", "Error: an e-mail address is needed"),
    ("not-an-email", "Error: 'not-an-email' is not a valid e-mail address: An email address must have an @-sign."),
    ("dpo@", "Error: 'dpo@' is not a valid e-mail address: There must be something after the @-sign."),
    ("d po@iptor.com", "Error: 'd po@iptor.com' is not a valid e-mail address"),
])
def test_staff_need_a_valid_email(app, email, message):
    result = app.test_cli_runner().invoke(args=["staff", "create", email, "--role", "privacy", "--password-stdin"],
                                          input=PASSWORD + "\n")
    assert result.exit_code == 1 and message in result.output
    admin, _ = sign_in(app, "root@iptor.com", "admin")
    page = admin.get("/admin/staff").text
    response = admin.post("/admin/staff", data={"csrf_token": csrf(page), "action": "create", "email": email,
                                                "password": PASSWORD, "role": "sales"})
    shown = "an e-mail address is needed" if not email.strip() else "is not a valid e-mail address"
    assert response.status_code == 422 and shown in response.text
    with app.app_context():
        assert db.session.scalars(select(StaffUser.email)).all() == ["root@iptor.com"]


def test_sign_in_and_out(app):
    client, response = sign_in(app, "sales@iptor.com", "sales")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert "Demo bookings" in client.get("/admin/").text
    page = client.get("/admin/").text
    assert client.post("/admin/logout", data={"csrf_token": csrf(page)}).status_code == 303
    assert client.get("/admin/bookings").headers["Location"].startswith("/admin/login")


def answer(response) -> str:
    """The page without what differs from one sign-in form to another (token, typed address)."""
    page = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", response.text)
    return re.sub(r'name="email"[^>]*value="[^"]*"', "", page)


@pytest.mark.slow
def test_wrong_password_unknown_account_and_lockout_answer_alike(app):
    make_staff(app, "sales@iptor.com", "sales")
    wrong = [sign_in(app, "sales@iptor.com", password="wrong password!")[1] for _ in range(5)]
    locked = sign_in(app, "sales@iptor.com")[1]  # the right password, but locked
    unknown = sign_in(app, "nobody@iptor.com")[1]
    for response in [*wrong, locked, unknown]:
        assert response.status_code == 401
        assert answer(response) == answer(wrong[0])
    assert "The e-mail address or password is not right, or sign-in from your network is paused" in wrong[0].text
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("login-failed") == 5 and actions.count("account-locked") == 1
    assert actions.count("login-refused-locked") == 1


class CountingHasher:
    """The site's Argon2 hasher, noting each hash a password is verified against."""

    def __init__(self, hasher):
        self.hasher, self.verified, self.lock = hasher, [], threading.Lock()

    def verify(self, password_hash, password):
        with self.lock:
            self.verified.append(password_hash)
        return self.hasher.verify(password_hash, password)

    def __getattr__(self, name):
        return getattr(self.hasher, name)


@pytest.mark.slow
def test_a_burst_of_wrong_passwords_checks_five_and_locks(app, monkeypatch):
    """Concurrently, from 12 addresses of one network: 5 passwords are checked, 7 find the lock.
    (12 stays below the PostgreSQL pool's 15 connections, so no request waits for one.)"""
    make_staff(app, "sales@iptor.com", "sales")
    with app.app_context():
        real_hash = db.session.scalar(select(StaffUser.password_hash))
    hasher = CountingHasher(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    clients, tokens = [], []
    for n in range(12):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        tokens.append(csrf(client.get("/admin/login").text))
        clients.append(client)
    start = threading.Barrier(len(clients))

    def attempt(n):
        start.wait()
        return clients[n].post("/admin/login", data={"csrf_token": tokens[n], "email": "sales@iptor.com",
                                                     "password": f"wrong password {n}"})

    with ThreadPoolExecutor(len(clients)) as pool:
        responses = list(pool.map(attempt, range(len(clients))))
    assert [r.status_code for r in responses] == [401] * 12
    assert {answer(r) for r in responses} == {answer(responses[0])}
    assert hasher.verified.count(real_hash) == 5 and len(hasher.verified) == 12
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("login-failed") == 5 and actions.count("account-locked") == 1
    assert actions.count("login-refused-locked") == 7
    # The right password from that network is refused too, until the lock ends.
    assert sign_in(app, "sales@iptor.com", address="198.51.100.200")[1].status_code == 401


@pytest.mark.slow
def test_an_attackers_network_locks_only_itself(app):
    make_staff(app, "sales@iptor.com", "sales")
    for n in range(5):
        sign_in(app, "sales@iptor.com", password="wrong password!", address=f"198.51.100.{n + 1}")
    assert sign_in(app, "sales@iptor.com", address="198.51.100.99")[1].status_code == 401
    assert sign_in(app, "sales@iptor.com", address="203.0.113.20")[1].status_code == 303
    assert sign_in(app, "sales@iptor.com", address="2001:db8:1::5")[1].status_code == 303
    assert sign_in(app, "sales@iptor.com", address="198.51.100.99")[1].status_code == 401


@pytest.mark.slow
def test_failures_count_in_a_row(app):
    make_staff(app, "sales@iptor.com", "sales")
    for _ in range(2):
        for n in range(4):
            response = sign_in(app, "sales@iptor.com", password="wrong password!", address=f"198.51.100.{n}")[1]
            assert response.status_code == 401
        assert sign_in(app, "sales@iptor.com", address="198.51.100.9")[1].status_code == 303  # the count restarts


@pytest.mark.slow
def test_lockout_ends(app, clock):
    make_staff(app, "sales@iptor.com", "sales")
    for _ in range(5):
        sign_in(app, "sales@iptor.com", password="wrong password!")
    clock.now = NOW + timedelta(minutes=14)
    assert sign_in(app, "sales@iptor.com")[1].status_code == 401
    clock.now = NOW + timedelta(minutes=16)
    for n in range(4):  # the count starts again (other addresses of the network: the rate limit)
        response = sign_in(app, "sales@iptor.com", password="wrong password!", address=f"127.0.0.{n + 2}")[1]
        assert response.status_code == 401
    assert sign_in(app, "sales@iptor.com", address="127.0.0.9")[1].status_code == 303


@pytest.mark.slow
def test_sign_in_is_rate_limited(app):
    make_staff(app, "sales@iptor.com", "sales")
    client = app.test_client()
    page = client.get("/admin/login").text
    statuses = [client.post("/admin/login", data={"csrf_token": csrf(page), "email": "x@iptor.com",
                                                  "password": "nope"}).status_code for _ in range(11)]
    assert statuses[-1] == 429 and set(statuses[:10]) == {401}


def with_cookie(app, value):
    """A new browser holding a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


def sent_to_sign_in(client) -> bool:
    response = client.get("/admin/bookings")
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_signing_out_ends_every_copy_of_the_session(app, sales):
    stolen = sales.get_cookie("session").value
    assert with_cookie(app, stolen).get("/admin/bookings").status_code == 200
    page = sales.get("/admin/").text
    assert sales.post("/admin/logout", data={"csrf_token": csrf(page)}).status_code == 303
    assert sent_to_sign_in(with_cookie(app, stolen))
    again, response = sign_in(app, "sales@iptor.com")  # a new sign-in gets a working session
    assert response.status_code == 303 and again.get("/admin/bookings").status_code == 200
    assert sent_to_sign_in(with_cookie(app, stolen))


def test_deactivating_ends_the_accounts_sessions_for_good(app, sales):
    stolen = sales.get_cookie("session").value
    admin, _ = sign_in(app, "root@iptor.com", "admin")
    with app.app_context():
        sales_id = db.session.scalar(select(StaffUser.id).where(StaffUser.email == "sales@iptor.com"))
    page = admin.get("/admin/staff").text
    assert admin.post("/admin/staff", data={"csrf_token": csrf(page), "action": "deactivate",
                                            "id": str(sales_id)}).status_code == 303
    assert sent_to_sign_in(with_cookie(app, stolen))
    with app.app_context():  # even if the account were switched back on, the old sessions stay ended
        db.session.execute(text("UPDATE staff_users SET active = :yes WHERE id = :id"), {"yes": True, "id": sales_id})
        db.session.commit()
    assert sent_to_sign_in(with_cookie(app, stolen))
    assert sent_to_sign_in(sales)
    with app.app_context():
        assert "staff-deactivate" in db.session.scalars(select(AuditEntry.action)).all()


def test_sessions_expire_when_idle(app, clock, sales):
    assert sales.get("/admin/bookings").status_code == 200
    clock.now = NOW + timedelta(minutes=31)
    assert sales.get("/admin/bookings").headers["Location"].startswith("/admin/login")


def test_next_only_leads_within_the_back_office(app):
    make_staff(app, "sales@iptor.com", "sales")
    client = app.test_client()
    page = client.get("/admin/login?next=https://evil.example/").text
    response = client.post("/admin/login?next=https://evil.example/",
                           data={"csrf_token": csrf(page), "email": "sales@iptor.com", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/"


OUT_OF_RANGE = ["0", "2147483647", "2147483648", "9223372036854775808", "99999999999999999999", "1" + "0" * 5000]


@pytest.mark.slow
def test_an_out_of_range_id_is_not_found(app, tmp_path):
    book(app)
    verified_request(app, tmp_path)
    admin, _ = sign_in(app, "root@iptor.com", "admin")
    token = csrf(admin.get("/admin/staff").text)
    for ident in ["-1", *OUT_OF_RANGE]:
        for url in (f"/admin/bookings/{ident}", f"/admin/requests/{ident}"):
            assert admin.get(url).status_code == 404, url
        assert admin.post(f"/admin/bookings/{ident}/status",
                          data={"csrf_token": token, "status": "held"}).status_code == 404, ident
        assert admin.post(f"/admin/requests/{ident}/action",
                          data={"csrf_token": token, "action": "start"}).status_code == 404, ident
    for ident in OUT_OF_RANGE:
        response = admin.post("/admin/staff", data={"csrf_token": token, "action": "deactivate", "id": ident})
        assert response.status_code == 404, ident
    for ident in ("", "-1", "x", "1e3", "\u0661"):
        response = admin.post("/admin/staff", data={"csrf_token": token, "action": "deactivate", "id": ident})
        assert response.status_code == 400, ident
    assert admin.get("/admin/bookings/1").status_code == 200 and admin.get("/admin/requests/1").status_code == 200


def test_posts_need_the_csrf_token(app, sales):
    book(app)
    assert sales.post("/admin/bookings/1/status", data={"status": "held"}).status_code == 400


SALES_URLS = ["/admin/bookings", "/admin/bookings/1", "/admin/leads.csv"]
PRIVACY_URLS = ["/admin/requests", "/admin/requests/1", "/admin/consent-log"]
ADMIN_URLS = ["/admin/staff", "/admin/audit"]


@pytest.mark.slow
def test_roles_are_enforced_on_the_server(app, tmp_path, sales, privacy):
    book(app)
    verified_request(app, tmp_path)
    for url in PRIVACY_URLS + ADMIN_URLS:
        assert sales.get(url).status_code == 403, url
    token = csrf(sales.get("/admin/bookings").text)  # a valid form: only the role stands in the way
    assert sales.post("/admin/requests/1/action", data={"csrf_token": token, "action": "complete"}).status_code == 403
    for url in SALES_URLS + ADMIN_URLS:
        assert privacy.get(url).status_code == 403, url
    for url in SALES_URLS:
        assert sales.get(url).status_code == 200, url
    for url in PRIVACY_URLS:
        assert privacy.get(url).status_code == 200, url
    admin, _ = sign_in(app, "root@iptor.com", "admin")
    for url in SALES_URLS + PRIVACY_URLS + ADMIN_URLS:
        assert admin.get(url).status_code == 200, url


def test_bookings_filter_search_and_detail_with_consent(app, sales):
    book(app, "de", name="Anna Schmidt", company="Schmidt Logistik GmbH", country="DE")
    book(app, "fr", name="Paul Durand", company="Durand SA", country="FR", email="paul@example.fr")
    listing = sales.get("/admin/bookings?q=durand").text
    assert "Durand SA" in listing and "Schmidt Logistik" not in listing
    assert "Schmidt Logistik" in sales.get("/admin/bookings?country=DE&locale=de&when=upcoming&status=booked").text
    assert "No bookings match." in sales.get("/admin/bookings?when=past").text
    detail = sales.get("/admin/bookings/1").text
    with app.app_context():
        item = db.session.get(DemoBooking, 1).lead.consent.items[0]
        assert item.text.text in detail.replace("&#39;", "'") and item.text.sha256 in detail


@pytest.mark.slow
def test_cancelling_frees_the_slot_and_tells_the_prospect(app, sales, tmp_path):
    book(app, "de")
    with app.app_context():
        freed = db.session.get(DemoBooking, 1).slot_start.strftime("%Y-%m-%dT%H:%MZ")
    assert freed not in slot_values(app.test_client().get("/de/demo").text)
    page = sales.get("/admin/bookings/1").text
    assert sales.post("/admin/bookings/1/status", data={"csrf_token": csrf(page), "status": "held"}).status_code == 303
    assert sales.post("/admin/bookings/1/status", data={"csrf_token": csrf(page), "status": "cancelled"}).status_code == 303
    with app.app_context():
        booking = db.session.get(DemoBooking, 1)
        assert (booking.status, booking.seat) == ("cancelled", None)
    assert freed in slot_values(app.test_client().get("/de/demo").text)
    notice = written_mails(tmp_path)[-1]
    assert re.fullmatch(r"Ihre Demo von Iptor multiflex am \S+ \d+\. \w+ \d{4} wurde storniert", notice["Subject"])
    assert notice["Content-Language"] == "de"
    assert notice["Reply-To"] == "sales@iptor.com"
    with app.app_context():
        assert [e.action for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "booking-status"))] == ["booking-status"] * 2


@pytest.mark.slow
def test_privacy_queue_and_actions_mail_the_person(app, tmp_path, clock):
    verified_request(app, tmp_path, "rectification", "fr")
    verified_request(app, tmp_path, "complaint", "de", email="karl@example.de")
    clock.now = NOW + timedelta(days=31)
    privacy, _ = sign_in(app, "dpo@iptor.com", "privacy")
    queue = privacy.get("/admin/requests").text
    assert queue.index("#1") < queue.index("#2") and "overdue" in queue
    page = privacy.get("/admin/requests/1").text
    assert "verify link sent" in page and "Mon nom est mal orthographié." in page

    def act(number, action, **fields):
        page = privacy.get(f"/admin/requests/{number}").text
        return privacy.post(f"/admin/requests/{number}/action", data={"csrf_token": csrf(page), "action": action, **fields})

    assert act(1, "start").status_code == 303
    assert written_mails(tmp_path)[-1]["Subject"] == "Nous avons commencé à traiter votre demande relative à vos données personnelles"
    clock.now = NOW + timedelta(days=29)  # an extension is decided before the due date (30 December)
    assert act(1, "extend", reason="", months="2").status_code == 303
    assert "Not done: an extension needs a reason" in privacy.get("/admin/requests/1").text
    assert act(1, "extend", reason="Plusieurs systèmes à vérifier", months="1").status_code == 303
    assert "Plusieurs systèmes à vérifier" in written_mails(tmp_path)[-1].get_body(("plain",)).get_content()
    assert act(1, "complete", reason="Nom corrigé.").status_code == 303
    assert written_mails(tmp_path)[-1]["Subject"] == "Votre demande relative à vos données personnelles a été traitée"
    assert act(2, "reject", reason="").status_code == 303
    assert act(2, "reject", reason="Keine Daten vorhanden.").status_code == 303
    rejected = written_mails(tmp_path)[-1]
    assert rejected["Content-Language"] == "de" and "Keine Daten vorhanden." in rejected.get_body(("plain",)).get_content()
    with app.app_context():
        statuses = db.session.scalars(select(PrivacyInquiry.status).order_by(PrivacyInquiry.id)).all()
        assert statuses == ["completed", "rejected"]
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "dpo@iptor.com")).all()
        # the refused attempts (an extension or a rejection without a reason) are not logged as done
        assert [a for a in actions if a != "view-request"] == [
            "login", "request-start", "request-extend", "request-complete", "request-reject"]
    assert act(1, "reject", reason="late").status_code == 409  # closed requests stay closed


@pytest.mark.slow
def test_marketing_export_excludes_and_neutralises(app, sales, tmp_path):
    book(app, "en", name="=HYPERLINK(\"http://x\")", email="formula@example.com", marketing="y")
    book(app, "en", name="No Consent", email="noconsent@example.com")
    book(app, "en", name="Suppressed", email="suppressed@example.com", marketing="y")
    book(app, "en", name="Restricted", email="restricted@example.com", marketing="y")
    book(app, "en", name="Objecting", email="objecting@example.com", marketing="y")
    book(app, "en", name="Plain Person", company="+SUM(1)", email="plain@example.com", marketing="y")
    book(app, "en", name="|Pipe Person", company="\uff1dSUM(1)", email="pipe@example.com", marketing="y")
    with app.app_context():
        db.session.add(Suppression(email_hash=people.email_hash("suppressed@example.com"), created_at=NOW, source="unsubscribe"))
        for lead in db.session.scalars(select(Lead)):
            lead.restricted = lead.email == "restricted@example.com"
            lead.objected = lead.email == "objecting@example.com"
        db.session.commit()
    response = sales.get("/admin/leads.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["email"] for r in rows] == ["formula@example.com", "plain@example.com", "pipe@example.com"]
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\")"
    assert rows[1]["company"] == "'+SUM(1)"
    assert (rows[2]["name"], rows[2]["company"]) == ("'|Pipe Person", "'\uff1dSUM(1)")
    assert rows[0]["unsubscribe_url"].startswith("http://127.0.0.1:5000/en/unsubscribe/")
    for value in ("=1", "+1", "-1", "@x", "\tx", "\rx", ";=1", "|cmd", "\uff1d1", "\uff0b1", "\uff0d1", "\uff20x"):
        assert accounts.neutralise(value) == "'" + value
    assert [accounts.neutralise(v) for v in ("Anna", "1-2", "a;b", "", None, 25)] == ["Anna", "1-2", "a;b", "", "", "25"]
    cli = app.test_cli_runner().invoke(args=["leads", "export", "--site-url", "https://www.iptor.test"])
    assert cli.exit_code == 0, cli.output
    exported = list(csv.DictReader(io.StringIO(cli.output)))
    assert [r["email"] for r in exported] == ["formula@example.com", "plain@example.com", "pipe@example.com"]
    assert (exported[2]["name"], exported[2]["company"]) == ("'|Pipe Person", "'\uff1dSUM(1)")
    assert "https://www.iptor.test/en/unsubscribe/" in cli.output


def test_audit_log_is_append_only(app, clock):
    # The database's triggers date the floor on the database's clock: the entries are made then.
    with app.app_context():
        database_now = db.session.scalar(select(func.current_timestamp()))
    clock.now = database_now if database_now.tzinfo else database_now.replace(tzinfo=UTC)
    sales = sign_in(app, "sales@iptor.com", "sales")[0]
    sales.get("/admin/leads.csv")
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export-leads")).one()
        entry.details = "tampered"
        with pytest.raises(PermissionError):
            db.session.commit()
        db.session.rollback()
        for statement in ("UPDATE audit_log SET actor = 'someone'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all() == ["login", "export-leads"]
    admin, _ = sign_in(app, "root@iptor.com", "admin")
    assert "export-leads" in admin.get("/admin/audit").text


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.mark.slow
def test_whatever_visitors_typed_is_shown_inert(app, sales, privacy):
    with app.app_context():
        lead = Lead(kind="demo", created_at=NOW, locale="en", name=HOSTILE, email="h@example.com",
                    email_hash=people.email_hash("h@example.com"), marketing_opt_in=True)
        db.session.add(DemoBooking(lead=lead, slot_start=NOW + timedelta(days=2), seat=1, duration_minutes=45,
                                   time_zone=HOSTILE[:64], company=HOSTILE, country="DE", phone=HOSTILE[:40],
                                   users=5, message=HOSTILE))
        other = Lead(kind="inquiry", created_at=NOW, locale="en", name=HOSTILE, email="i@example.com",
                     email_hash=people.email_hash("i@example.com"))
        db.session.add(PrivacyInquiry(lead=other, request_type="complaint", details=HOSTILE, received_at=NOW,
                                      due_on=NOW.date(), status="verified"))
        db.session.commit()
    pages = [sales.get("/admin/bookings").text, sales.get("/admin/bookings/1").text,
             privacy.get("/admin/requests").text, privacy.get("/admin/requests/1").text]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in pages[1] and "&lt;script&gt;alert" in pages[3]
