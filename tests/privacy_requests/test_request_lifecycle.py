"""The life of a privacy request: nothing a person sends is dropped, the public answer
reveals nothing about other requests, erasure reaches what the site cannot erase by
itself, restriction and objection hold for the person, and deadlines count as the law does."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from formhelpers import (
    STAFF_PASSWORD,
    csrf_token,
    demo_data,
    inquiry_data,
    mail_text,
    mailed_link,
    press_the_button,
    send_outbox,
    signed_in_staff,
    written_mails,
)
from iptor_site import create_app
from iptor_site.backoffice import accounts
from iptor_site.core import migrations
from iptor_site.core.extensions import db
from iptor_site.core.settings import ConfigError
from iptor_site.leads import people
from iptor_site.models import (
    AuditEntry,
    ConsentStamp,
    Lead,
    OutboxMessage,
    PrivacyInquiry,
    ProcessingLimit,
    RequestStatusChange,
)
from iptor_site.privacy_requests import lifecycle, references

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
ADDRESS = "camille.martin@example.com"
TEAM = "privacy@iptor.com"
REFERENCE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def to(msg):
    return msg["To"].addresses[0].addr_spec


def file_request(client, lang="en", **overrides):
    page = client.get(f"/{lang}/privacy/inquiry").text
    response = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, **overrides))
    assert response.status_code == 303
    return response


def book(app, lang="en", **overrides):
    client = app.test_client()
    page = client.get(f"/{lang}/demo").text
    assert client.post(f"/{lang}/demo", data=demo_data(page, **overrides)).status_code == 303


# --- 1. a second request of the same type is kept, with its own details and stamp -----------

@pytest.mark.slow
def test_a_second_request_of_the_same_type_is_kept_with_its_details_name_and_stamp(app, client, tmp_path):
    file_request(client, request_type="rectification", details="My surname is misspelt.")
    second = file_request(app.test_client(), request_type="rectification", name="Camille M.",
                          details="My first name is wrong as well.")
    assert second.headers["Location"] == "/en/privacy/inquiry/received"
    with app.app_context():
        rows = db.session.scalars(select(PrivacyInquiry).order_by(PrivacyInquiry.id)).all()
        assert [(r.lead.name, r.details, r.status) for r in rows] == [
            ("Camille Martin", "My surname is misspelt.", "awaiting_verification"),
            ("Camille M.", "My first name is wrong as well.", "awaiting_verification")]
        first, again = rows
        # Each submission has its own consent stamp.
        stamps = db.session.scalars(select(ConsentStamp.lead_id).order_by(ConsentStamp.id)).all()
        assert stamps == [first.lead_id, again.lead_id]
        # Each request notes the other, for the privacy team.
        assert f"#{again.id} {again.reference}" in first.history[-1].reason
        assert f"#{first.id} {first.reference}" in again.history[0].reason
        first_reference, second_reference = first.reference, again.reference
    # The person is told the truth, in the mail to the address.
    first_mail, second_mail = written_mails(tmp_path)
    assert first_reference in mail_text(first_mail) and "already has an open request" not in mail_text(first_mail)
    text = " ".join(mail_text(second_mail).split())
    assert second_reference in text
    assert (f"This address already has an open request of the same type, received on 30 November 2026 "
            f"(reference {first_reference}). We have registered this one as a separate request") in text
    # Its own verification link works for it alone.
    assert press_the_button(client, mailed_link(second_mail, "verify")).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(PrivacyInquiry.status).order_by(PrivacyInquiry.id)).all() == [
            "awaiting_verification", "verified"]
    # The back-office shows the second request's details and the first beside it.
    staff = signed_in_staff(app, "dpo@iptor.com", "privacy", now=NOW)
    page = staff.get("/admin/requests/2").text
    assert "My first name is wrong as well." in page and "Camille M." in page
    assert "Other requests from the same address" in page and f"#1 {first_reference}" in page
    team = [m for m in written_mails(tmp_path) if to(m) == TEAM]
    assert len(team) == 1 and "Other requests from the same address" in mail_text(team[0])
    assert f"#1 {first_reference}: rectification" in mail_text(team[0])


# --- 2. the same public answer for every address; random references ----------------------------

def _masked(text):
    """The page without what differs per response by design (CSRF tokens, CSP nonces)."""
    text = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1…", text)
    return re.sub(r'nonce="[^"]+"', 'nonce="…"', text)


def _submit_and_read(app, **fields):
    client = app.test_client()
    response = file_request(client, **fields)
    page = client.get(response.headers["Location"])
    return response, page


@pytest.mark.slow
@pytest.mark.parametrize("request_type", ["erasure", "complaint"])
def test_the_received_page_is_the_same_whether_the_address_is_new_or_known(make_app, clock, second_database_url,
                                                                            request_type):
    fields = {"request_type": request_type, "details": "Please act on this." if request_type == "complaint" else ""}
    # World one: the address is new here (someone else has filed before).
    new = make_app(CLOCK=clock)
    file_request(new.test_client(), email="someone.else@example.com", **fields)
    # World two: the address has an open request of the same type already.
    known = make_app(CLOCK=clock, DATABASE_URL=second_database_url)
    file_request(known.test_client(), name="The Real Camille", **fields)
    answer_new, page_new = _submit_and_read(new, **fields)
    answer_known, page_known = _submit_and_read(known, **fields)
    assert answer_new.status_code == answer_known.status_code == 303
    assert answer_new.headers["Location"] == answer_known.headers["Location"]
    assert page_new.status_code == page_known.status_code == 200
    assert _masked(page_new.text) == _masked(page_known.text)
    # Nothing of the other request nor any request number is on the page.
    for page in (page_new.text, page_known.text):
        assert "The Real Camille" not in page and not REFERENCE.search(page)
        assert not re.search(r"(number|#)\s*\d", page)


def test_references_are_random_checked_unique_and_what_the_person_sees(app, client, tmp_path, clock):
    for n in range(3):
        file_request(app.test_client(), request_type="complaint", details="Why?", email=f"p{n}@example.com")
    with app.app_context():
        stored = db.session.scalars(select(PrivacyInquiry.reference).order_by(PrivacyInquiry.id)).all()
    assert len(set(stored)) == 3
    for reference in stored:
        assert REFERENCE.fullmatch(reference)
        assert references.read_reference(reference.lower().replace("-", "")) == reference
        # Any one wrong symbol is caught by the check symbol.
        for position in (0, 5, 13):
            for symbol in references.REFERENCE_ALPHABET:
                if symbol != reference[position]:
                    wrong = reference[:position] + symbol + reference[position + 1:]
                    assert references.read_reference(wrong) is None
    # The person's mail and pages carry the reference, not the row's number.
    verification = written_mails(tmp_path)[0]
    assert stored[0] in mail_text(verification) and "number 1" not in mail_text(verification)
    page = client.get(mailed_link(verification, "verify")).text
    assert f"<dd>{stored[0]}</dd>" in page and "<dd>1</dd>" not in page
    # The database refuses a repeated reference.
    with app.app_context():
        db.session.add(Lead(kind="inquiry", created_at=NOW, locale="en", name="x", email="x@example.com",
                            email_hash=people.email_hash("x@example.com")))
        db.session.flush()
        new_lead = db.session.scalars(select(Lead).where(Lead.email == "x@example.com")).one()
        db.session.add(PrivacyInquiry(reference=stored[1], lead_id=new_lead.id, request_type="access",
                                      received_at=NOW, due_on=NOW.date(), status="awaiting_verification"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


# --- 3. erasure: the community part and copies outside the site -------------------------------

def _marketing_lead_exported_and_booked(app):
    """A demo booking with marketing ticked (the sales team is mailed), then a marketing export."""
    book(app, email=ADDRESS, name="Camille Martin", marketing="y")
    sales = signed_in_staff(app, "sales@iptor.com", "sales", now=NOW)
    assert ADDRESS in sales.get("/admin/leads.csv").text


@pytest.mark.slow
def test_community_erasure_reaches_the_team_and_stays_open_until_staff_complete_it(app, client, tmp_path, clock):
    _marketing_lead_exported_and_booked(app)
    clock.now = NOW + timedelta(days=1)
    file_request(client, request_type="erasure", community="y", details="Forum name: camille_m")
    verification = [m for m in written_mails(tmp_path) if to(m) == ADDRESS][-1]
    notice = client.get(mailed_link(verification, "verify")).text
    assert "except this request itself. Our privacy team then erases your profile" in notice
    done = press_the_button(client, mailed_link(verification, "verify"))
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).text
    assert "We have erased the personal data we held about you" not in page
    assert "We have erased the personal data this website held about you" in page
    assert "Your profile in our online community: our privacy team erases it" in page
    assert "26 January 2027" in page  # eight weeks after receipt
    with app.app_context():
        inquiry = db.session.scalars(select(PrivacyInquiry)).one()
        assert inquiry.status == "verified" and inquiry.completed_at is None
        assert inquiry.details == "Forum name: camille_m" and inquiry.lead.email == ADDRESS
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 1  # the demo lead is gone
        reference = inquiry.reference
        assert "online-community profile is left to the privacy team" in inquiry.history[-1].reason
    mails = written_mails(tmp_path)
    [team] = [m for m in mails if to(m) == TEAM]
    text = mail_text(team)
    assert reference in team["Subject"] and "Forum name: camille_m" in text and ADDRESS in text
    assert "STILL TO DO: erase the person's profile in the online community" in text
    assert "marketing export of 2026-11-30 11:00 UTC by sales@iptor.com" in text
    assert "demo booking mail to the sales team, sent" in text
    [certificate] = [m for m in mails if m["Subject"] == "Your personal data has been erased"]
    text = " ".join(mail_text(certificate).split())
    assert "What is still pending:" in text
    assert "Your profile in our online community: our privacy team erases it" in text
    assert "Lists for marketing exported from this website on 30 November 2026 may still contain" in text
    assert "E-mails to our sales team about your demo booking" in text
    assert "This e-mail is the last message" not in text
    # The team's notice stays in the outbox with the open request; it is not lost.
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.recipient == TEAM)).all() == [
            "inquiry-team"]
    # Staff complete it; only then is it closed, and the person told.
    staff = signed_in_staff(app, "dpo@iptor.com", "privacy", now=NOW)
    form = staff.get("/admin/requests/1").text
    assert "Forum name: camille_m" in form
    staff.post("/admin/requests/1/action", data={"csrf_token": csrf_token(form), "action": "complete",
                                                 "reason": "Forum profile deleted."})
    with app.app_context():
        assert db.session.scalars(select(PrivacyInquiry.status)).one() == "completed"
    [last] = [m for m in written_mails(tmp_path) if m["Subject"] == "Your privacy request has been completed"]
    assert to(last) == ADDRESS and reference in mail_text(last) and "Forum profile deleted." in mail_text(last)


@pytest.mark.slow
def test_every_erasure_tells_the_team_of_copies_outside_the_site(app, client, tmp_path):
    _marketing_lead_exported_and_booked(app)
    file_request(client, lang="de", request_type="erasure")
    verification = [m for m in written_mails(tmp_path) if to(m) == ADDRESS][-1]
    press_the_button(client, mailed_link(verification, "verify"))
    mails = written_mails(tmp_path)
    [team] = [m for m in mails if to(m) == TEAM]
    text = mail_text(team)
    assert "marketing export of 2026-11-30 11:00 UTC by sales@iptor.com" in text
    assert "demo booking mail to the sales team, sent" in text and ADDRESS in text
    assert "this mail is the only record of who it was" in text
    [certificate] = [m for m in mails if m["Subject"] == "Ihre personenbezogenen Daten wurden gelöscht"]
    assert to(certificate) == ADDRESS
    text = " ".join(mail_text(certificate).split())
    assert "Noch ausstehend:" in text and "30. November 2026" in text
    assert "Vertriebsteam" in text and "letzte Nachricht" in text
    with app.app_context():
        # Nothing of the person stays, the team's notice included (sent, then removed).
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_an_erasure_with_nothing_outside_the_site_says_so(app, client, tmp_path):
    file_request(client, request_type="erasure")
    press_the_button(client, mailed_link(written_mails(tmp_path)[0], "verify"))
    [team] = [m for m in written_mails(tmp_path) if to(m) == TEAM]
    assert "Copies outside this site that may hold the person's data:\n- none recorded" in mail_text(team)
    [certificate] = [m for m in written_mails(tmp_path) if m["Subject"] == "Your personal data has been erased"]
    assert "What is still pending" not in mail_text(certificate)
    assert "we have erased the personal data we held about you" in mail_text(certificate)


# --- 4. restriction and objection hold for the person --------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("request_type", ["objection", "restriction"])
def test_a_verified_objection_keeps_later_leads_out_of_the_marketing_export(app, client, tmp_path, request_type):
    file_request(client, request_type=request_type, details="No marketing use, please.")
    press_the_button(client, mailed_link(written_mails(tmp_path)[0], "verify"))
    # Later, the same address (in other letters) books a demo and ticks marketing.
    book(app, email="Camille.Martin@Example.com", marketing="y")
    book(app, email="someone.else@example.com", marketing="y")
    sales = signed_in_staff(app, "sales@iptor.com", "sales", now=NOW)
    export = sales.get("/admin/leads.csv").text
    assert "someone.else@example.com" in export
    assert "camille.martin@example.com" not in export.lower()
    with app.app_context():
        assert [lead.email for lead in accounts.marketing_leads(db.session)] == ["someone.else@example.com"]
        # It is kept for the person, by the keyed hash of the address only.
        [limit] = db.session.scalars(select(ProcessingLimit)).all()
        assert (limit.email_hash, limit.kind) == (people.email_hash(ADDRESS), request_type)


def test_a_limit_is_recorded_once_per_person(app):
    with app.app_context():
        for _ in range(2):
            lifecycle.limit_processing(db.session, people.email_hash(ADDRESS), "objection", NOW)
        lifecycle.limit_processing(db.session, people.email_hash(ADDRESS), "restriction", NOW)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(ProcessingLimit)) == 2


# --- 5. deadlines as GDPR Art. 12(3) counts them ---------------------------------------------

@pytest.mark.parametrize(("received", "request_type", "community", "due"), [
    (date(2026, 1, 31), "access", False, date(2026, 2, 28)),
    (date(2028, 1, 31), "access", False, date(2028, 2, 29)),  # leap year
    (date(2028, 1, 30), "complaint", False, date(2028, 2, 29)),
    (date(2026, 1, 28), "access", False, date(2026, 2, 28)),
    (date(2026, 1, 15), "erasure", False, date(2026, 2, 15)),
    (date(2026, 3, 31), "objection", False, date(2026, 4, 30)),
    (date(2026, 8, 31), "access", False, date(2026, 9, 30)),
    (date(2026, 12, 31), "access", False, date(2027, 1, 31)),
    (date(2026, 11, 30), "access", False, date(2026, 12, 30)),
    (date(2026, 2, 28), "access", False, date(2026, 3, 28)),
    (date(2026, 1, 31), "erasure", True, date(2026, 3, 28)),  # eight weeks
    (date(2028, 1, 31), "erasure", True, date(2028, 3, 27)),  # eight weeks across 29 February
    (date(2026, 11, 30), "erasure", True, date(2027, 1, 25)),
    (date(2026, 1, 31), "access", True, date(2026, 2, 28)),  # "community" counts for erasure only
])
def test_due_dates(app, received, request_type, community, due):
    moment = datetime.combine(received, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23, minutes=59)
    with app.app_context():
        assert lifecycle.due_date(moment, request_type, community) == due


@pytest.mark.parametrize(("due", "months", "extended"), [
    (date(2026, 2, 28), 2, date(2026, 4, 28)),  # counted from the due date, not from receipt
    (date(2026, 12, 31), 2, date(2027, 2, 28)),
    (date(2027, 12, 31), 2, date(2028, 2, 29)),
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 10, 31), 2, date(2026, 12, 31)),
    (date(2026, 11, 30), 2, date(2027, 1, 30)),
    (date(2026, 1, 29), 1, date(2026, 2, 28)),
])
def test_extensions_count_calendar_months_from_the_due_date(due, months, extended):
    assert lifecycle.add_months(due, months) == extended


def test_a_request_received_on_31_january_is_due_at_the_end_of_february(app, client, clock):
    clock.now = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    file_request(client, request_type="access")
    page = client.get("/en/privacy/inquiry/received").text
    assert "<dd>28 February 2027</dd>" in page and "2 March 2027" not in page


def _verified_complaint(app, tmp_path):
    client = app.test_client()
    file_request(client, request_type="complaint", details="Please explain.")
    press_the_button(client, mailed_link([m for m in written_mails(tmp_path) if to(m) == ADDRESS][-1], "verify"))


def test_the_command_line_extension_is_audited_with_the_staff_member(app, tmp_path):
    _verified_complaint(app, tmp_path)
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["privacy", "extend", "1", "--reason", "Complex", "--by", "nobody@iptor.com"])
    assert unknown.exit_code != 0 and "no active staff account" in unknown.output
    with app.app_context():
        accounts.create_staff(db.session, "dpo@iptor.com", STAFF_PASSWORD, "privacy", NOW)
        db.session.commit()
    result = runner.invoke(args=["privacy", "extend", "1", "--months", "1", "--reason", "Several systems",
                                 "--by", "DPO@iptor.com"])
    assert result.exit_code == 0, result.output
    assert "now due 2027-01-30" in result.output  # 30 December plus one month
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "request-extend")).all()
        reference = db.session.scalar(select(PrivacyInquiry.reference))
        assert (entry.actor, entry.target, entry.at) == ("dpo@iptor.com", f"request {reference} (#1)", NOW)
        assert "Several systems" in entry.details
        reference = db.session.scalars(select(PrivacyInquiry.reference)).one()
    send_outbox(app)  # the notice leaves with the outbox worker
    notice = written_mails(tmp_path)[-1]
    assert to(notice) == ADDRESS and reference in mail_text(notice)


@pytest.mark.slow
def test_an_extension_is_refused_once_the_due_date_has_passed(app, tmp_path, clock):
    _verified_complaint(app, tmp_path)
    with app.app_context():
        accounts.create_staff(db.session, "dpo@iptor.com", STAFF_PASSWORD, "privacy", NOW)
        db.session.commit()
    runner = app.test_cli_runner()
    args = ["privacy", "extend", "1", "--reason", "Complex", "--by", "dpo@iptor.com"]
    clock.now = datetime(2026, 12, 31, 0, 5, tzinfo=UTC)  # due on 30 December
    refused = runner.invoke(args=args)
    assert refused.exit_code != 0
    assert "was due on 2026-12-30; a deadline that has passed cannot be extended" in refused.output
    staff = signed_in_staff(app, "boss@iptor.com", "privacy", now=NOW)
    page = staff.get("/admin/requests/1").text
    staff.post("/admin/requests/1/action", data={"csrf_token": csrf_token(page), "action": "extend", "months": "2",
                                                 "reason": "Complex"})
    assert "a deadline that has passed cannot be extended" in staff.get("/admin/requests/1").text
    with app.app_context():
        inquiry = db.session.scalars(select(PrivacyInquiry)).one()
        assert (inquiry.status, inquiry.due_on, inquiry.extension_reason) == ("verified", date(2026, 12, 30), None)
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "request-extend")) == 0
        assert "extended" not in db.session.scalars(select(RequestStatusChange.to_status)).all()
    # On the due date itself it is still possible.
    clock.now = datetime(2026, 12, 30, 23, 0, tzinfo=UTC)
    assert runner.invoke(args=args).exit_code == 0


def test_the_retired_days_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("INQUIRY_RESPONSE_DAYS", "30")
    with pytest.raises(ConfigError, match="INQUIRY_RESPONSE_DAYS is no longer a setting"):
        create_app()


# --- the migration gives existing requests a reference and keeps their limits ------------------

def test_the_migration_gives_existing_requests_references_and_keeps_limits(make_app, empty_database_url):
    app = make_app(DATABASE_URL=empty_database_url)
    with app.app_context():
        migrations.upgrade("0005")
        with db.engine.begin() as conn:
            for n, restricted in ((1, True), (2, False), (3, False)):
                conn.execute(text(
                    "INSERT INTO leads (id, kind, created_at, locale, name, email, email_hash, marketing_opt_in,"
                    " restricted, objected) VALUES (:id, 'inquiry', :at, 'en', 'P', :email, :hash, false,"
                    " :restricted, false)"),
                    {"id": n, "at": NOW.replace(tzinfo=None), "email": f"p{n}@example.com", "hash": f"{n:064d}",
                     "restricted": restricted})
                conn.execute(text(
                    "INSERT INTO privacy_inquiries (id, lead_id, request_type, california_resident, received_at,"
                    " due_on, community, status) VALUES (:id, :id, 'access', false, :at, :due, false, 'verified')"),
                    {"id": n, "at": NOW.replace(tzinfo=None), "due": NOW.date()})
        migrations.upgrade()
        stored = db.session.scalars(select(PrivacyInquiry.reference)).all()
        assert len(set(stored)) == 3 and all(references.read_reference(r) == r for r in stored)
        limits = db.session.execute(select(ProcessingLimit.email_hash, ProcessingLimit.kind)).all()
        assert limits == [(f"{1:064d}", "restriction")]
        db.session.rollback()
        migrations.upgrade("0009")  # already past it: nothing to do
        migrations.downgrade("0005")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM privacy_inquiries")).scalar() == 3
