"""audit log: deletion allowed only past the retention floor; no statistics of personal columns

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:10:00

The audit log stays append-only: no UPDATE, and no DELETE of an entry younger than
one year (``config.AUDIT_MIN_YEARS``), whatever connects. The retention purge
deletes entries older than RETENTION_AUDIT_YEARS (at least that floor), so it is
the one deletion that passes. The UPDATE trigger and its function are unchanged.

On PostgreSQL, ANALYZE copies sample values (most common values, histograms) of
each column into pg_statistic, where an erased address could outlive its row:
the columns that hold personal data get no statistics (nothing queries by them).
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

FLOOR_YEARS = 1
PERSONAL_COLUMNS = {
    "leads": ("name", "email"),
    "demo_bookings": ("company", "phone", "message"),
    "privacy_inquiries": ("details",),
    "request_status_changes": ("reason",),
    "outbox": ("recipient", "message", "recipe", "last_error"),
    "spam_submissions": ("payload", "ip_address", "user_agent"),
    "consent_stamps": ("page_url", "ip_address", "user_agent"),
    "cookie_consent_events": ("ip_address",),
    "audit_log": ("actor", "target", "details"),
}
MESSAGE = f'the audit log is append-only; entries younger than {FLOOR_YEARS} year(s) cannot be deleted'


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The existing trigger refused UPDATE and DELETE; it now covers UPDATE only.
        op.execute("DROP TRIGGER audit_log_no_update ON audit_log")
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
        op.execute(f"""
            CREATE FUNCTION audit_log_retention_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF OLD.at < (now() AT TIME ZONE 'UTC') - interval '{FLOOR_YEARS} year' THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION '{MESSAGE}';
            END $$;
        """)
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_retention_only()")
        _statistics(0)
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute(f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   f"WHEN OLD.at >= datetime('now', '-{FLOOR_YEARS} years') "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def _statistics(target: int) -> None:
    for table, columns in PERSONAL_COLUMNS.items():
        for column in columns:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {target}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _statistics(-1)
        op.execute("DROP TRIGGER audit_log_no_delete ON audit_log")
        op.execute("DROP FUNCTION audit_log_retention_only()")
        op.execute("DROP TRIGGER audit_log_no_update ON audit_log")
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
