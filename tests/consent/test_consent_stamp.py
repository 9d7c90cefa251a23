"""The consent stamp: proof of what each person was shown and agreed to."""

import hashlib
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError

from formhelpers import at_once, demo_data, inquiry_data, slot_values
from iptor_site.consent.models import GENESIS, link_hash, stamp_digest
from iptor_site.consent.stamps import CONTENT
from iptor_site.core import migrations
from iptor_site.core.extensions import db
from iptor_site.models import AuditEntry, ConsentStamp, ConsentStampItem, ConsentText, Lead
from iptor_site.privacy_requests import erasure, retention

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
UA = "Mozilla/5.0 (X11; Linux x86_64) IptorTest/1.0"


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: NOW)


def post_demo(client, lang, remote="203.0.113.77", **overrides):
    page = client.get(f"/{lang}/demo").text
    return client.post(
        f"/{lang}/demo",
        data=demo_data(page, **overrides),
        headers={"User-Agent": UA},
        environ_base={"REMOTE_ADDR": remote},
    )


def stamps(app):
    with app.app_context():
        return [
            {
                "lead": stamp.lead.email,
                "created_at": stamp.created_at,
                "locale": stamp.locale,
                "policy_version": stamp.policy_version,
                "form": (stamp.form_name, stamp.form_version),
                "page_url": stamp.page_url,
                "ip": stamp.ip_address,
                "ua": stamp.user_agent,
                "items": [(i.text.key, i.text.locale, i.text.text, i.text.sha256, i.ticked) for i in stamp.items],
            }
            for stamp in db.session.scalars(select(ConsentStamp).order_by(ConsentStamp.id))
        ]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_demo_stamp_is_complete_field_by_field(app, client):
    assert post_demo(client, "de", marketing="y").status_code == 303
    [stamp] = stamps(app)
    notice = ("Ich habe die Datenschutzerklärung gelesen und verstehe, dass Iptor die hier angegebenen "
              "Daten zur Bearbeitung dieser Anfrage verwendet.")
    marketing = ("Ja, Iptor darf mir E-Mails zu seinen Produkten, Veranstaltungen und Angeboten senden. "
                 "Ich kann mich jederzeit wieder abmelden.")
    assert stamp == {
        "lead": "anna.schmidt@example.com",
        "created_at": NOW,
        "locale": "de",
        "policy_version": "2023-01",
        "form": ("demo", "1"),
        "page_url": "http://localhost/de/demo",
        "ip": "203.0.113.0",
        "ua": UA,
        "items": [
            ("privacy_notice", "de", notice, sha(notice), True),
            ("marketing", "de", marketing, sha(marketing), True),
        ],
    }


def test_unticked_marketing_is_recorded_as_refused(app, client):
    assert post_demo(client, "en").status_code == 303
    [stamp] = stamps(app)
    assert [(key, ticked) for key, _, _, _, ticked in stamp["items"]] == [("privacy_notice", True), ("marketing", False)]
    with app.app_context():
        assert db.session.scalars(select(Lead.marketing_opt_in)).one() is False


def test_each_wording_is_stored_once_and_per_language(app, client):
    for n, lang in enumerate(["en", "en", "fr", "en"]):
        assert post_demo(app.test_client(), lang, email=f"p{n}@example.com").status_code == 303
    with app.app_context():
        texts = db.session.scalars(select(ConsentText).order_by(ConsentText.id)).all()
        assert [(t.key, t.locale) for t in texts] == [
            ("privacy_notice", "en"), ("marketing", "en"), ("privacy_notice", "fr"), ("marketing", "fr")
        ]
        assert db.session.scalar(select(func.count()).select_from(ConsentStamp)) == 4


def test_inquiry_uses_the_same_component_with_the_policy_notice_only(app, client):
    page = client.get("/fr/privacy/inquiry").text
    assert 'name="marketing"' not in page
    response = client.post("/fr/privacy/inquiry", data=inquiry_data(page), headers={"User-Agent": UA},
                           environ_base={"REMOTE_ADDR": "2001:db8:1234:5678::1"})
    assert response.status_code == 303
    [stamp] = stamps(app)
    assert stamp["form"] == ("privacy-inquiry", "1")
    assert stamp["ip"] == "2001:db8:1234::"
    assert [(key, locale, ticked) for key, locale, _, _, ticked in stamp["items"]] == [("privacy_notice", "fr", True)]
    assert stamp["items"][0][2].startswith("J’ai lu la politique de confidentialité")


def test_full_ip_addresses_when_the_setting_says_so(make_app):
    app = make_app(CLOCK=lambda: NOW, IP_STORAGE="full")
    assert post_demo(app.test_client(), "en", remote="198.51.100.23").status_code == 303
    assert stamps(app)[0]["ip"] == "198.51.100.23"


def test_the_privacy_notice_is_required(app, client):
    response = post_demo(client, "nl", privacy_notice=None)
    assert response.status_code == 422
    assert "Bevestig" in response.text
    assert 'value="Anna Schmidt"' in response.text
    assert stamps(app) == []


# --- append-only and chained ---------------------------------------------------------------

def post_inquiry(client, email, lang="en", **overrides):
    page = client.get(f"/{lang}/privacy/inquiry").text
    return client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, email=email, **overrides),
                       headers={"User-Agent": UA})


def submit(app, count, start=0):
    """``count`` submissions from different people, alternating the two forms."""
    for n in range(start, start + count):
        client = app.test_client()
        if n % 2:
            response = post_inquiry(client, f"person{n}@example.com")
        else:
            page = client.get("/en/demo").text
            response = client.post("/en/demo", data=demo_data(page, email=f"person{n}@example.com",
                                                             slot=slot_values(page)[n]))
        assert response.status_code == 303, response.text


def verify(app):
    result = app.test_cli_runner().invoke(args=["consent", "verify"])
    return result.exit_code, result.output


def chain(app):
    with app.app_context():
        return db.session.execute(select(ConsentStamp.id, ConsentStamp.prev_hash, ConsentStamp.hash,
                                         ConsentStamp.erased).order_by(ConsentStamp.id)).all()


@contextmanager
def intruder(app):
    """A connection that gets round the append-only triggers, as someone holding the
    database's keys could: the chain is what still tells."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for (name,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        yield conn


def test_each_stamp_is_chained_to_the_one_before(app):
    submit(app, 3)
    links = chain(app)
    assert [link.prev_hash for link in links] == [GENESIS, links[0].hash, links[1].hash]
    assert len({link.hash for link in links}) == 3
    assert verify(app) == (0, f"OK: 3 consent stamps chained (0 erased), head {links[-1].hash}\n")


def test_an_empty_chain_verifies(app):
    assert verify(app) == (0, f"OK: 0 consent stamps chained (0 erased), head {GENESIS}\n")


def test_stamps_their_statements_and_wordings_are_append_only(app):
    submit(app, 2)
    with app.app_context():
        stamp = db.session.scalars(select(ConsentStamp).order_by(ConsentStamp.id)).first()
        for change in (lambda: setattr(stamp, "ip_address", "192.0.2.0"),
                       lambda: setattr(stamp.items[0], "ticked", False),
                       lambda: setattr(stamp.items[0].text, "text", "Something else"),
                       lambda: db.session.delete(stamp.items[0]),
                       lambda: db.session.delete(stamp)):
            change()
            with pytest.raises(PermissionError, match="append-only"):
                db.session.flush()
            db.session.rollback()
        for statement in (
            "UPDATE consent_stamps SET ip_address = '192.0.2.0'",
            "UPDATE consent_stamps SET hash = prev_hash",
            "DELETE FROM consent_stamps",
            "UPDATE consent_stamp_items SET ticked = NOT ticked",
            "DELETE FROM consent_stamp_items",
            "UPDATE consent_texts SET text = 'Something else'",
            "DELETE FROM consent_texts",
            # Shaped like an erasure, but it rewrites the chain too.
            "UPDATE consent_stamps SET erased = true, lead_id = NULL, locale = NULL, policy_version = NULL, "
            "form_name = NULL, form_version = NULL, page_url = NULL, ip_address = NULL, user_agent = NULL, "
            "cookie_consent_id = NULL, salt = NULL, digest = prev_hash",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(ConsentStampItem)) == 3
    assert verify(app)[0] == 0


def test_erasure_leaves_a_tombstone_that_keeps_the_chain_verifiable(app):
    submit(app, 3)
    before = chain(app)
    with app.app_context():
        lead = db.session.scalars(select(Lead).where(Lead.email == "person1@example.com")).one()
        erased_id = lead.consent.id
        assert len(lead.consent.items) == 1  # loaded: the ORM must still leave the stamp to the database
        counts = erasure.erase(db.session, "person1@example.com", request_type="erasure", received_at=NOW, now=NOW)
        db.session.commit()
        assert counts["consent_records"] == 1
        row = db.session.execute(text("SELECT * FROM consent_stamps WHERE id = :id"), {"id": erased_id}).mappings().one()
        kept = {"id", "created_at", "digest", "prev_hash", "hash", "erased"}
        assert {name for name, value in row.items() if value is not None} == kept
        assert bool(row["erased"]) is True
        assert db.session.scalar(select(func.count()).select_from(ConsentStampItem)
                                 .where(ConsentStampItem.stamp_id == erased_id)) == 0
        assert db.session.scalar(select(func.count()).select_from(ConsentStampItem)) == 4  # two demos' two each
        # A tombstone is final.
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("UPDATE consent_stamps SET locale = 'en' WHERE id = :id"), {"id": erased_id})
        db.session.rollback()
    after = chain(app)
    assert [(link.id, link.prev_hash, link.hash) for link in after] == [
        (link.id, link.prev_hash, link.hash) for link in before]
    assert [link.erased for link in after] == [False, True, False]
    assert verify(app) == (0, f"OK: 3 consent stamps chained (1 erased), head {after[-1].hash}\n")
    # The chain goes on after a tombstone.
    submit(app, 1, start=3)
    assert verify(app)[1].startswith("OK: 4 consent stamps chained (1 erased)")


def test_the_retention_purge_and_a_plain_delete_leave_tombstones_too(make_app, clock):
    later = NOW + timedelta(days=3 * 366)
    clock.now = NOW
    app = make_app(CLOCK=clock)
    submit(app, 2)
    clock.now = later
    with app.app_context():
        counts = retention.purge(db.session, later)
        assert counts["demo leads"] == 1
        db.session.execute(delete(Lead))  # the inquiry's lead, without the ORM
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 0
    assert [link.erased for link in chain(app)] == [True, True]
    assert verify(app)[1].startswith("OK: 2 consent stamps chained (2 erased)")


@pytest.mark.slow
def test_concurrent_submissions_do_not_fork_the_chain(app):
    people = 12
    barrier = threading.Barrier(people)
    statuses = [None] * people

    def send(n):
        client = app.test_client()
        page = client.get("/en/privacy/inquiry").text
        data = inquiry_data(page, email=f"racer{n}@example.com")
        barrier.wait()
        statuses[n] = client.post("/en/privacy/inquiry", data=data).status_code

    at_once(send, people)
    assert statuses == [303] * people
    links = chain(app)
    assert len(links) == people
    assert [link.prev_hash for link in links] == [GENESIS] + [link.hash for link in links[:-1]]
    assert verify(app) == (0, f"OK: {people} consent stamps chained (0 erased), head {links[-1].hash}\n")


def test_verify_names_a_stamp_whose_content_was_changed(app):
    submit(app, 3)
    with intruder(app) as conn:
        conn.exec_driver_sql("UPDATE consent_stamps SET ip_address = '198.51.100.0' WHERE id = 2")
    code, output = verify(app)
    assert code == 1
    assert output == (f"BROKEN at consent stamp #2 of {NOW.isoformat()}: its content was changed after it "
                      "was written (1 stamps before it verified)\n")


def test_verify_names_a_stamp_whose_ticked_box_was_changed(app):
    submit(app, 3)
    with intruder(app) as conn:
        conn.execute(text("UPDATE consent_stamp_items SET ticked = NOT ticked WHERE stamp_id = 3"))
    code, output = verify(app)
    assert code == 1 and output.startswith("BROKEN at consent stamp #3 of ")


def test_verify_names_the_stamp_after_a_removed_one(app):
    submit(app, 4)
    with intruder(app) as conn:
        conn.exec_driver_sql("DELETE FROM consent_stamp_items WHERE stamp_id = 2")
        conn.exec_driver_sql("DELETE FROM consent_stamps WHERE id = 2")
    code, output = verify(app)
    assert code == 1
    assert output == (f"BROKEN at consent stamp #3 of {NOW.isoformat()}: it does not follow the stamp before "
                      "it: a stamp was removed, added or reordered (1 stamps before it verified)\n")


@pytest.mark.parametrize("rehash", [False, True], ids=["digest-only", "digest-and-hash"])
def test_verify_names_a_stamp_rewritten_with_fresh_hashes(app, rehash):
    """Whoever knows the format, rewrites a stamp and recomputes its digest must also
    rewrite its hash, and then the next link no longer follows it."""
    submit(app, 3)
    with app.app_context():
        stamp = db.session.get(ConsentStamp, 2)
        forged = {name: getattr(stamp, name) for name in ("lead_id", *CONTENT, "salt")}
        forged["ip_address"] = "198.51.100.0"
        statements = [(i.position, i.text.key, i.text.sha256, i.ticked) for i in stamp.items]
        digest = stamp_digest(**forged, statements=statements)
        new_hash = link_hash(prev_hash=stamp.prev_hash, created_at=stamp.created_at, digest=digest)
        old_hash = stamp.hash
        db.session.rollback()
    with intruder(app) as conn:
        conn.execute(text("UPDATE consent_stamps SET ip_address = '198.51.100.0', digest = :digest, hash = :hash "
                          "WHERE id = 2"), {"digest": digest, "hash": new_hash if rehash else old_hash})
    code, output = verify(app)
    assert code == 1
    if rehash:
        assert output.startswith(f"BROKEN at consent stamp #3 of {NOW.isoformat()}: it does not follow")
    else:
        assert output.startswith(f"BROKEN at consent stamp #2 of {NOW.isoformat()}: its hash does not match")


def test_verify_reports_a_changed_wording(app):
    submit(app, 1)
    with intruder(app) as conn:
        conn.exec_driver_sql("UPDATE consent_texts SET text = 'I agree to everything.' WHERE id = 1")
    assert verify(app) == (1, "BROKEN: consent wording #1 no longer matches its SHA-256\n")


def test_truncate_is_refused_on_postgresql(app):
    submit(app, 1)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no TRUNCATE (DELETE FROM is refused by the triggers)")
        db.session.add(AuditEntry(at=NOW, actor="test", action="test"))
        db.session.commit()
        # CASCADE: without it, the foreign keys alone refuse some of these before any trigger runs.
        for table in ("audit_log", "consent_stamps", "consent_stamp_items", "consent_texts", "leads"):
            with pytest.raises(DBAPIError, match="TRUNCATE is refused"):
                db.session.execute(text(f"TRUNCATE {table} CASCADE"))
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) >= 1
        assert db.session.scalar(select(func.count()).select_from(ConsentStamp)) == 1
    assert verify(app)[0] == 0


# --- the migration chains the stamps written before it ---------------------------------------

def test_the_migration_chains_existing_stamps_in_id_order(make_app, empty_database_url):
    app = make_app(DATABASE_URL=empty_database_url, CLOCK=lambda: NOW)
    with app.app_context():
        migrations.upgrade("0005")
        with db.engine.begin() as conn:  # no explicit ids: PostgreSQL's sequences must count them
            text_id = conn.execute(text(
                "INSERT INTO consent_texts (sha256, key, locale, text, first_seen_at) "
                "VALUES (:sha, 'privacy_notice', 'en', 'I have read it.', :at) RETURNING id"),
                {"sha": sha("I have read it."), "at": NOW.replace(tzinfo=None)}).scalar_one()
            for n in (1, 2, 3):
                at = (NOW + timedelta(minutes=n, microseconds=n)).replace(tzinfo=None)
                lead_id = conn.execute(text(
                    "INSERT INTO leads (kind, created_at, locale, name, email, email_hash, marketing_opt_in) "
                    "VALUES ('demo', :at, 'en', 'Old', :email, '', false) RETURNING id"),
                    {"at": at, "email": f"old{n}@example.com"}).scalar_one()
                stamp_id = conn.execute(text(
                    "INSERT INTO consent_stamps (lead_id, created_at, locale, policy_version, form_name, "
                    "form_version, page_url, ip_address, user_agent) "
                    "VALUES (:lead, :at, 'en', '2023-01', 'demo', '1', '/en/demo', NULL, 'UA') RETURNING id"),
                    {"lead": lead_id, "at": at}).scalar_one()
                conn.execute(text("INSERT INTO consent_stamp_items (stamp_id, consent_text_id, position, ticked) "
                                  "VALUES (:stamp, :text, 0, true)"), {"stamp": stamp_id, "text": text_id})
        migrations.upgrade("head")
        assert db.session.scalar(select(func.count()).select_from(ConsentStampItem)) == 3
    links = chain(app)
    assert [link.id for link in links] == [1, 2, 3]
    assert [link.prev_hash for link in links] == [GENESIS, links[0].hash, links[1].hash]
    assert verify(app) == (0, f"OK: 3 consent stamps chained (0 erased), head {links[-1].hash}\n")
    submit(app, 1)  # new stamps carry on from the backfilled head
    assert chain(app)[-1].prev_hash == links[-1].hash
    assert verify(app)[1].startswith("OK: 4 consent stamps chained (0 erased)")
