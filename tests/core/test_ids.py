"""Ids that name one thing for ever: what the audit log, mail, the back-office's URLs and
exports call "request #4" or "booking #7" is never handed out again after an erasure,
and the audit log names a privacy request by its public reference."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from formhelpers import demo_data, inquiry_data, written_mails
from iptor_site.backoffice import accounts
from iptor_site.core import migrations
from iptor_site.core.extensions import db
from iptor_site.models import AuditEntry, DemoBooking, Lead, OutboxMessage, PrivacyInquiry, StaffUser

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
ADDRESS = "camille.martin@example.com"
PASSWORD = "correct horse battery staple"
MODELS = {"leads": Lead, "demo_bookings": DemoBooking, "privacy_inquiries": PrivacyInquiry, "outbox": OutboxMessage}
#: The tables migration 0011 gives ids that are never reused.
TABLES = ("leads", "demo_bookings", "privacy_inquiries", "outbox", "staff_users", "audit_log")


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock)


def csrf(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def book(app, **overrides):
    client = app.test_client()
    page = client.get("/en/demo").text
    assert client.post("/en/demo", data=demo_data(page, **overrides)).status_code == 303


def file_request(app, **overrides):
    client = app.test_client()
    page = client.get("/en/privacy/inquiry").text
    assert client.post("/en/privacy/inquiry", data=inquiry_data(page, **overrides)).status_code == 303
    return client


def verify_last_request(app, client, tmp_path, address):
    mail = [m for m in written_mails(tmp_path) if m["To"].addresses[0].addr_spec == address][-1]
    path = re.search(r"http://127\.0\.0\.1:5000(/[a-z]{2}/privacy/requests/verify/[A-Za-z0-9_-]+)",
                     mail.get_body(("plain",)).get_content()).group(1)
    page = client.get(path).text
    assert client.post(path, data={"csrf_token": csrf(page)}).status_code == 303


def mailed_outbox_ids(tmp_path):
    """The outbox ids in the names of the .eml files written so far: sent rows may be gone."""
    return {int(p.stem.rsplit("-", 1)[1]) for p in (tmp_path / "mail").glob("*.eml")}


def highest_ids(app, tmp_path):
    with app.app_context():
        highest = {table: db.session.scalar(select(func.coalesce(func.max(model.id), 0)))
                   for table, model in MODELS.items()}
    highest["outbox"] = max(highest["outbox"], *mailed_outbox_ids(tmp_path))
    return highest


def test_the_ids_of_erased_rows_are_never_handed_out_again(app, tmp_path):
    # Someone else's older rows stay, so the tables are not empty after the erasure.
    book(app, email="someone.else@example.com", name="Someone Else")
    book(app, email=ADDRESS, name="Camille Martin")
    file_request(app, request_type="access")
    client = file_request(app, request_type="erasure")
    before = highest_ids(app, tmp_path)
    verify_last_request(app, client, tmp_path, ADDRESS)  # the erasure deletes the person's newest rows
    with app.app_context():
        assert db.session.scalars(select(Lead.email)).all() == ["someone.else@example.com"]
        assert db.session.scalar(select(func.count()).select_from(PrivacyInquiry)) == 0
        assert ADDRESS not in db.session.scalars(select(OutboxMessage.recipient)).all()
    # Every id handed out so far, the erasure's own mail included (its row is gone once sent).
    ever = {table: max(before[table], highest) for table, highest in highest_ids(app, tmp_path).items()}
    sent_before = mailed_outbox_ids(tmp_path)

    book(app, email="new.person@example.com", name="New Person")
    file_request(app, request_type="access", email="new.person@example.com", name="New Person")
    with app.app_context():
        new = {table: db.session.scalars(select(model.id).join(Lead, Lead.id == model.lead_id)
                                         .where(Lead.email == "new.person@example.com")).all()
               for table, model in MODELS.items() if table != "leads"}
        new["leads"] = db.session.scalars(select(Lead.id).where(Lead.email == "new.person@example.com")).all()
    new["outbox"] = sorted(set(new["outbox"]) | (mailed_outbox_ids(tmp_path) - sent_before))
    assert len(new["leads"]) == 2 and len(new["demo_bookings"]) == 1 and len(new["privacy_inquiries"]) == 1
    assert new["outbox"]
    for table, ids in new.items():
        assert min(ids) > ever[table], (table, ids, ever[table])


def test_a_deleted_staff_accounts_id_is_not_given_to_the_next_account(app):
    def create(email):
        with app.app_context():
            user = accounts.create_staff(db.session, email, PASSWORD, "privacy", NOW)
            db.session.commit()
            return user.id

    first, newest = create("first@iptor.com"), create("newest@iptor.com")
    with app.app_context():
        db.session.execute(text("DELETE FROM staff_users WHERE id = :id"), {"id": newest})
        db.session.commit()
    assert first < newest < create("later@iptor.com")


def test_viewing_a_request_is_audited_with_its_reference(app, tmp_path):
    client = file_request(app, request_type="access")
    verify_last_request(app, client, tmp_path, ADDRESS)
    with app.app_context():
        accounts.create_staff(db.session, "dpo@iptor.com", PASSWORD, "privacy", NOW)
        db.session.commit()
        inquiry = db.session.scalars(select(PrivacyInquiry)).one()
    staff = app.test_client()
    page = staff.get("/admin/login").text
    staff.post("/admin/login", data={"csrf_token": csrf(page), "email": "dpo@iptor.com", "password": PASSWORD})
    assert staff.get(f"/admin/requests/{inquiry.id}").status_code == 200
    with app.app_context():
        targets = db.session.scalars(select(AuditEntry.target).where(AuditEntry.action == "view-request")).all()
    assert targets == [f"request {inquiry.reference} (#{inquiry.id})"]


# --- migration 0011 keeps every row, trigger and index ----------------------------------------

def snapshot():
    """Every row of every table, in id order (the migration must keep them all)."""
    with db.engine.connect() as conn:
        names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
        return {name: conn.execute(text(f"SELECT * FROM {name} ORDER BY 1, 2")).all()  # noqa: S608 - our tables
                for name in names}


def sqlite_schema():
    with db.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            return None
        return conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                 "WHERE type IN ('trigger', 'index') ORDER BY type, name")).all()


def never_reused(conn, table):
    if conn.dialect.name == "sqlite":
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                           {"t": table}).scalar()
        return "AUTOINCREMENT" in sql
    return conn.execute(text("SELECT is_identity FROM information_schema.columns "
                             "WHERE table_name = :t AND column_name = 'id'"), {"t": table}).scalar() == "YES"


def scalar(app, statement, params=None):
    """One value, read in a session of its own (a session left open would keep SQLite's write lock)."""
    with app.app_context():
        return db.session.scalar(statement, params)


def execute(app, statement, params=None):
    with app.app_context():
        db.session.execute(statement, params)
        db.session.commit()


@pytest.mark.slow
def test_the_migration_keeps_every_row_trigger_and_index_and_counts_on(make_app, empty_database_url, tmp_path):
    app = make_app(DATABASE_URL=empty_database_url, CLOCK=lambda: NOW)
    with app.app_context():
        # The site's code follows the newest schema: the rows are made there, and the
        # database is then taken back to 0010, the revision before 0011.
        migrations.upgrade()
    # Rows in every table the migration rebuilds, and in those that refer to them.
    book(app, email="someone.else@example.com", name="Someone Else")
    book(app, email="booked.last@example.com", name="Booked Last")
    client = file_request(app, request_type="rectification", details="Typo")
    verify_last_request(app, client, tmp_path, ADDRESS)
    with app.app_context():
        accounts.create_staff(db.session, "dpo@iptor.com", PASSWORD, "admin", NOW)
        db.session.commit()
    staff = app.test_client()
    page = staff.get("/admin/login").text
    staff.post("/admin/login", data={"csrf_token": csrf(page), "email": "dpo@iptor.com", "password": PASSWORD})
    newest_booking = scalar(app, select(func.max(DemoBooking.id)))
    request_id = scalar(app, select(PrivacyInquiry.id))
    assert staff.get(f"/admin/bookings/{newest_booking}").status_code == 200
    assert staff.get(f"/admin/requests/{request_id}").status_code == 200
    with app.app_context():
        migrations.downgrade("0010")
    # The newest booking and the request are erased before the migration (deleting their
    # leads cascades and turns the leads' consent stamps into tombstones): only the audit
    # log still names their ids.
    erased_leads = [scalar(app, select(Lead.id).where(Lead.email == email))
                    for email in ("booked.last@example.com", ADDRESS)]
    execute(app, text("DELETE FROM leads WHERE id IN (:a, :b)"), {"a": erased_leads[0], "b": erased_leads[1]})
    with app.app_context():
        before, schema = snapshot(), sqlite_schema()
    assert before["consent_stamps"] and before["consent_stamp_items"] and before["audit_log"]
    assert before["outbox"] and before["staff_users"] and before["demo_bookings"]
    assert before["request_status_changes"] == before["request_tokens"] == []  # went with the request

    with app.app_context():
        migrations.upgrade("0011")  # this migration; later ones add columns the snapshot would show
        assert snapshot() == before
        assert sqlite_schema() == schema
        with db.engine.connect() as conn:
            assert [table for table in TABLES if not never_reused(conn, table)] == []
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        migrations.upgrade()
    # The triggers still work: deleting a lead makes a tombstone, the audit log refuses changes.
    execute(app, text("DELETE FROM leads WHERE email = 'someone.else@example.com'"))
    assert scalar(app, text("SELECT count(*) FROM consent_stamps WHERE erased")) == 3
    with pytest.raises(DBAPIError, match="append-only"):
        execute(app, text("UPDATE audit_log SET actor = 'someone'"))

    book(app, email="after@example.com", name="After")
    file_request(app, request_type="access", email="after@example.com")
    booking = scalar(app, select(func.max(DemoBooking.id)))
    request = scalar(app, select(func.max(PrivacyInquiry.id)))
    lead = scalar(app, select(func.min(Lead.id)).where(Lead.email == "after@example.com"))
    # Higher than every id the audit log names, and than every row the migration found.
    assert booking > newest_booking and request > request_id
    assert lead > max(row.id for row in before["leads"])
    if app.config["DATABASE_URL"].startswith("postgresql"):  # its sequences remember the erased leads too
        assert lead > max(erased_leads)

    with app.app_context():
        migrations.downgrade("0011")
        kept = snapshot()
        migrations.downgrade("0010")
        assert snapshot() == kept
        assert sqlite_schema() == schema
        with db.engine.connect() as conn:
            assert [table for table in TABLES if never_reused(conn, table)] == []
        migrations.upgrade()
    book(app, email="downgraded@example.com", name="Downgraded")  # the ids count on, down and up again
    assert scalar(app, select(func.max(DemoBooking.id))) > booking
    assert scalar(app, select(func.count()).select_from(StaffUser)) == 1


def test_a_table_rebuilt_by_a_migration_keeps_the_rows_that_refer_to_it(make_app, empty_database_url):
    """SQLite rebuilds a table to change it (0009 rebuilds privacy_inquiries): with foreign
    keys on, dropping the old table deleted every request's history and links by their
    ON DELETE CASCADE. ``migrate`` runs migrations with them off, and checks them after."""
    app = make_app(DATABASE_URL=empty_database_url)
    with app.app_context():
        migrations.upgrade("0008")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO leads (kind, created_at, locale, name, email, email_hash, marketing_opt_in, restricted,"
                " objected) VALUES ('inquiry', :at, 'en', 'P', 'p@example.com', '', false, false, false)"),
                {"at": NOW.replace(tzinfo=None)})
            lead = conn.execute(text("SELECT max(id) FROM leads")).scalar()
            conn.execute(text(
                "INSERT INTO privacy_inquiries (lead_id, request_type, california_resident, received_at, due_on,"
                " community, status) VALUES (:lead, 'access', false, :at, :due, false, 'verified')"),
                {"lead": lead, "at": NOW.replace(tzinfo=None), "due": NOW.date()})
            inquiry = conn.execute(text("SELECT max(id) FROM privacy_inquiries")).scalar()
            conn.execute(text("INSERT INTO request_status_changes (inquiry_id, at, to_status, actor) "
                              "VALUES (:i, :at, 'verified', 'system')"), {"i": inquiry, "at": NOW.replace(tzinfo=None)})
            conn.execute(text("INSERT INTO request_tokens (inquiry_id, purpose, token_hash, created_at, expires_at) "
                              "VALUES (:i, 'verify', :h, :at, :at)"), {"i": inquiry, "h": "0" * 64,
                                                                       "at": NOW.replace(tzinfo=None)})
        migrations.upgrade()
        with db.engine.connect() as conn:
            counts = [conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608 - our tables
                      for table in ("privacy_inquiries", "request_status_changes", "request_tokens")]
    assert counts == [1, 1, 1]
