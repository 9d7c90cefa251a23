"""consent stamps append-only and chained by hashes; no TRUNCATE of the proofs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:30:00

Consent stamps, their statements and the wordings become append-only (triggers),
each stamp gets a salted digest of its content and a hash chained to the stamp
before it (existing stamps are chained in id order), and deleting a lead turns its
stamp into a tombstone instead of deleting it. On PostgreSQL, TRUNCATE of the audit
log and of the consent tables is refused.
"""
import secrets
from datetime import UTC

import sqlalchemy as sa
from alembic import op

from iptor_site.consent.models import GENESIS, link_hash, stamp_digest

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

#: An UPDATE of a stamp is allowed only as an erasure: personal fields emptied, the chain kept.
ERASE_ONLY = """
    OLD.erased = {false} AND NEW.erased = {true}
    AND NEW.id = OLD.id AND NEW.created_at = OLD.created_at AND NEW.digest = OLD.digest
    AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    AND NEW.lead_id IS NULL AND NEW.locale IS NULL AND NEW.policy_version IS NULL
    AND NEW.form_name IS NULL AND NEW.form_version IS NULL AND NEW.page_url IS NULL
    AND NEW.ip_address IS NULL AND NEW.user_agent IS NULL AND NEW.cookie_consent_id IS NULL
    AND NEW.salt IS NULL
"""
ERASE = """
    UPDATE consent_stamps SET erased = {true}, lead_id = NULL, locale = NULL, policy_version = NULL,
        form_name = NULL, form_version = NULL, page_url = NULL, ip_address = NULL, user_agent = NULL,
        cookie_consent_id = NULL, salt = NULL
    WHERE lead_id = OLD.id
"""
PERSONAL = ('locale', 'policy_version', 'form_name', 'form_version', 'page_url')
LENGTHS = {'locale': 8, 'policy_version': 16, 'form_name': 40, 'form_version': 16, 'page_url': 2048}


def _backfill(bind) -> None:
    """Chain the stamps written so far, in id order, as ``consent.write_stamp`` would have."""
    statements = {}
    for stamp_id, position, key, sha256, ticked in bind.execute(sa.text(
            "SELECT i.stamp_id, i.position, t.key, t.sha256, i.ticked FROM consent_stamp_items i "
            "JOIN consent_texts t ON t.id = i.consent_text_id ORDER BY i.stamp_id, i.position")):
        statements.setdefault(stamp_id, []).append((position, key, sha256, bool(ticked)))
    prev = GENESIS
    rows = bind.execute(sa.text(
        "SELECT id, lead_id, created_at, locale, policy_version, form_name, form_version, page_url, "
        "ip_address, user_agent, cookie_consent_id FROM consent_stamps ORDER BY id"
    ).columns(created_at=sa.DateTime())).mappings().all()
    for row in rows:
        salt = secrets.token_hex(16)
        digest = stamp_digest(
            lead_id=row['lead_id'], locale=row['locale'], policy_version=row['policy_version'],
            form_name=row['form_name'], form_version=row['form_version'], page_url=row['page_url'],
            ip_address=row['ip_address'], user_agent=row['user_agent'], cookie_consent_id=row['cookie_consent_id'],
            salt=salt, statements=statements.get(row['id'], []))
        # Stored as naive UTC (models.base.UTCDateTime).
        link = link_hash(prev_hash=prev, created_at=row['created_at'].replace(tzinfo=UTC), digest=digest)
        bind.execute(sa.text("UPDATE consent_stamps SET salt = :salt, digest = :digest, prev_hash = :prev, "
                             "hash = :hash WHERE id = :id"),
                     {"salt": salt, "digest": digest, "prev": prev, "hash": link, "id": row['id']})
        prev = link


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if not postgresql:
        # SQLite rebuilds the table below; dropping the old one with foreign keys on
        # would delete every stamp's statements by their ON DELETE CASCADE. Keep a copy.
        op.execute("CREATE TEMP TABLE consent_stamp_items_0006 AS SELECT * FROM consent_stamp_items")
    # Plain ALTER TABLE ... ADD COLUMN on both databases (no rebuild).
    op.add_column('consent_stamps', sa.Column('salt', sa.String(length=32), nullable=True))
    op.add_column('consent_stamps', sa.Column('digest', sa.String(length=64), nullable=True))
    op.add_column('consent_stamps', sa.Column('prev_hash', sa.String(length=64), nullable=True))
    op.add_column('consent_stamps', sa.Column('hash', sa.String(length=64), nullable=True))
    op.add_column('consent_stamps', sa.Column('erased', sa.Boolean(), server_default=sa.false(), nullable=False))
    _backfill(bind)
    with op.batch_alter_table('consent_stamps', schema=None) as batch_op:
        batch_op.alter_column('digest', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('lead_id', existing_type=sa.Integer(), nullable=True)
        for column in PERSONAL:
            batch_op.alter_column(column, existing_type=sa.String(length=LENGTHS[column]), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_consent_stamps_prev_hash'), ['prev_hash'])
        batch_op.create_unique_constraint(batch_op.f('uq_consent_stamps_hash'), ['hash'])
        # Deleting a lead no longer deletes its stamp: the trigger below makes it a tombstone.
        batch_op.drop_constraint('fk_consent_stamps_lead_id_leads', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_consent_stamps_lead_id_leads'), 'leads', ['lead_id'], ['id'])
    if not postgresql:
        op.execute("INSERT INTO consent_stamp_items SELECT * FROM consent_stamp_items_0006 "
                   "WHERE id NOT IN (SELECT id FROM consent_stamp_items)")
        op.execute("DROP TABLE consent_stamp_items_0006")

    if postgresql:
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    words = {"true": "true", "false": "false"}
    op.execute("""
        CREATE FUNCTION consent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'consent stamps and their wording are append-only (%)', TG_TABLE_NAME; END $$;
    """)
    op.execute(f"""
        CREATE FUNCTION consent_stamps_erase_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {ERASE_ONLY.format(**words)} THEN RETURN NEW; END IF;
            RAISE EXCEPTION 'consent stamps are append-only: only an erasure may empty one';
        END $$;
    """)
    op.execute("""
        CREATE FUNCTION consent_stamp_items_of_erased() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM consent_stamps WHERE id = OLD.stamp_id AND erased)
            THEN RETURN OLD; END IF;
            RAISE EXCEPTION 'consent stamps are append-only: only an erased stamp loses its statements';
        END $$;
    """)
    op.execute("""
        CREATE FUNCTION consent_stamp_erased() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM consent_stamp_items WHERE stamp_id = NEW.id; RETURN NULL; END $$;
    """)
    op.execute(f"""
        CREATE FUNCTION leads_erase_consent_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {ERASE.format(**words)}; RETURN OLD; END $$;
    """)
    op.execute("""
        CREATE FUNCTION refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME; END $$;
    """)
    op.execute("CREATE TRIGGER consent_texts_append_only BEFORE UPDATE OR DELETE ON consent_texts "
               "FOR EACH ROW EXECUTE FUNCTION consent_append_only()")
    op.execute("CREATE TRIGGER consent_stamps_append_only BEFORE UPDATE OR DELETE ON consent_stamps "
               "FOR EACH ROW EXECUTE FUNCTION consent_stamps_erase_only()")
    op.execute("CREATE TRIGGER consent_stamps_erased AFTER UPDATE ON consent_stamps "
               "FOR EACH ROW WHEN (NEW.erased AND NOT OLD.erased) EXECUTE FUNCTION consent_stamp_erased()")
    op.execute("CREATE TRIGGER consent_stamp_items_append_only BEFORE UPDATE OR DELETE ON consent_stamp_items "
               "FOR EACH ROW EXECUTE FUNCTION consent_stamp_items_of_erased()")
    op.execute("CREATE TRIGGER leads_erase_consent_stamp BEFORE DELETE ON leads "
               "FOR EACH ROW EXECUTE FUNCTION leads_erase_consent_stamp()")
    for table in ("audit_log", "consent_stamps", "consent_stamp_items", "consent_texts"):
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()")


def _sqlite_triggers() -> None:
    words = {"true": "1", "false": "0"}
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER consent_texts_no_{verb.lower()} BEFORE {verb} ON consent_texts "
                   "BEGIN SELECT RAISE(ABORT, 'consent stamps and their wording are append-only'); END")
    op.execute("CREATE TRIGGER consent_stamps_no_delete BEFORE DELETE ON consent_stamps "
               "BEGIN SELECT RAISE(ABORT, 'consent stamps are append-only: only an erasure may empty one'); END")
    op.execute(f"CREATE TRIGGER consent_stamps_no_update BEFORE UPDATE ON consent_stamps "
               # A comparison with NULL must refuse, not let through.
               f"WHEN NOT coalesce(({ERASE_ONLY.format(**words)}), 0) "
               "BEGIN SELECT RAISE(ABORT, 'consent stamps are append-only: only an erasure may empty one'); END")
    op.execute("CREATE TRIGGER consent_stamps_erased AFTER UPDATE ON consent_stamps "
               "WHEN NEW.erased = 1 AND OLD.erased = 0 "
               "BEGIN DELETE FROM consent_stamp_items WHERE stamp_id = NEW.id; END")
    op.execute("CREATE TRIGGER consent_stamp_items_no_update BEFORE UPDATE ON consent_stamp_items "
               "BEGIN SELECT RAISE(ABORT, 'consent stamps and their wording are append-only'); END")
    op.execute("CREATE TRIGGER consent_stamp_items_no_delete BEFORE DELETE ON consent_stamp_items "
               "WHEN NOT EXISTS (SELECT 1 FROM consent_stamps WHERE id = OLD.stamp_id AND erased = 1) "
               "BEGIN SELECT RAISE(ABORT, "
               "'consent stamps are append-only: only an erased stamp loses its statements'); END")
    op.execute(f"CREATE TRIGGER leads_erase_consent_stamp BEFORE DELETE ON leads "
               f"BEGIN {ERASE.format(**words)}; END")


def downgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        for table in ("audit_log", "consent_stamps", "consent_stamp_items", "consent_texts"):
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER leads_erase_consent_stamp ON leads")
        op.execute("DROP TRIGGER consent_stamp_items_append_only ON consent_stamp_items")
        op.execute("DROP TRIGGER consent_stamps_erased ON consent_stamps")
        op.execute("DROP TRIGGER consent_stamps_append_only ON consent_stamps")
        op.execute("DROP TRIGGER consent_texts_append_only ON consent_texts")
        for function in ("refuse_truncate", "leads_erase_consent_stamp", "consent_stamp_erased",
                         "consent_stamp_items_of_erased", "consent_stamps_erase_only", "consent_append_only"):
            op.execute(f"DROP FUNCTION {function}()")
    else:
        for trigger in ("leads_erase_consent_stamp", "consent_stamp_items_no_delete", "consent_stamp_items_no_update",
                        "consent_stamps_erased", "consent_stamps_no_update", "consent_stamps_no_delete",
                        "consent_texts_no_delete", "consent_texts_no_update"):
            op.execute(f"DROP TRIGGER {trigger}")
    # Tombstones cannot go back to a NOT NULL lead: the erased stamps go.
    op.execute("DELETE FROM consent_stamps WHERE erased")
    if not postgresql:
        op.execute("CREATE TEMP TABLE consent_stamp_items_0006 AS SELECT * FROM consent_stamp_items")
    with op.batch_alter_table('consent_stamps', schema=None) as batch_op:
        batch_op.drop_constraint('fk_consent_stamps_lead_id_leads', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_consent_stamps_lead_id_leads'), 'leads', ['lead_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('uq_consent_stamps_hash'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_consent_stamps_prev_hash'), type_='unique')
        for column in PERSONAL:
            batch_op.alter_column(column, existing_type=sa.String(length=LENGTHS[column]), nullable=False)
        batch_op.alter_column('lead_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('erased')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('digest')
        batch_op.drop_column('salt')
    if not postgresql:
        op.execute("INSERT INTO consent_stamp_items SELECT * FROM consent_stamp_items_0006 "
                   "WHERE id NOT IN (SELECT id FROM consent_stamp_items)")
        op.execute("DROP TABLE consent_stamp_items_0006")
