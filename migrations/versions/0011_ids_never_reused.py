"""ids that name one thing for ever: AUTOINCREMENT on SQLite, identity columns on PostgreSQL

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00

The audit log ("request #4", "booking #7", "staff #2"), mail (subjects, the booking's
calendar UID, the outbox's .eml file names), the back-office's URLs and a privacy
export name these tables' ids. Without AUTOINCREMENT, SQLite hands out max(id) + 1,
so erasing the newest row gives its id to the next person. With it, SQLite keeps the
highest id ever used in ``sqlite_sequence``. PostgreSQL's sequences never went back;
the serial columns become identity columns, carrying on where the sequence was.

The consent tables are left as they are: their triggers refuse every DELETE (stamps,
wordings) or allow it only for an erased stamp's statements, whose ids name nothing.
Status changes, tokens, revocations, limits, suppressions, erasure records, spam and
cookie events are never named outside their own row.

SQLite rebuilds each table; ``iptor_site.migrate`` runs migrations with foreign keys
off, so dropping the old ``leads`` neither cascades to nor fires anything. A rebuild
drops the table's triggers and indexes: every trigger and index is recreated from the
exact SQL it had.
"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ('leads', 'demo_bookings', 'privacy_inquiries', 'outbox', 'staff_users', 'audit_log')
#: How the audit log has named rows of these tables (before this revision, the id only).
AUDIT_NAMES = {'privacy_inquiries': 'request', 'demo_bookings': 'booking', 'staff_users': 'staff'}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _identity_columns()
    else:
        _sqlite_rebuild(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _serial_columns()
    else:
        _sqlite_rebuild(autoincrement=False)


def _max_id(bind, table: str) -> int:
    return bind.execute(sa.select(sa.func.coalesce(sa.func.max(sa.column("id")), 0))
                        .select_from(sa.table(table))).scalar()


def _audited_max(bind, table: str) -> int:
    """The highest id of ``table`` the audit log names: an erased row's id was handed out
    even though no row has it any more."""
    name = AUDIT_NAMES.get(table)
    if name is None:
        return 0
    targets = bind.execute(sa.text("SELECT target FROM audit_log WHERE target LIKE :like"),
                           {"like": f"{name} %#%"}).scalars()
    numbers = [int(digits) for digits in (target.rsplit("#", 1)[1].rstrip(")") for target in targets)
               if digits.isdigit()]
    return max(numbers, default=0)


# --- SQLite ------------------------------------------------------------------------------------

def _schema(bind) -> list:
    """Every trigger and index with its SQL, in the order they were created."""
    return [tuple(row) for row in bind.execute(sa.text(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') "
        "AND sql IS NOT NULL ORDER BY rowid"))]


def _sqlite_rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("rebuilding tables needs foreign keys off: migrate through iptor_site.migrate")
    before = _schema(bind)
    # Every trigger goes, not only those on the rebuilt tables: one naming a table that
    # is momentarily missing would make SQLite refuse the rename that ends a rebuild.
    for kind, name, _table, _sql in before:
        if kind == "trigger":
            op.execute(f'DROP TRIGGER "{name}"')
    highest = {table: max(_max_id(bind, table), _audited_max(bind, table)) for table in TABLES}
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    # The rebuilds recreated the indexes from reflection: back to the exact SQL they had.
    for kind, name, table, sql in before:
        if kind == "index" and table in TABLES:
            op.execute(f'DROP INDEX IF EXISTS "{name}"')
            op.execute(sql)
    for kind, _name, _table, sql in before:
        if kind == "trigger":
            op.execute(sql)
    after = _schema(bind)
    if sorted(after) != sorted(before):
        raise RuntimeError(f"the rebuild changed triggers or indexes: {sorted(set(before) ^ set(after))}")
    if autoincrement:
        for table, top in highest.items():
            # The copy set each table's counter to its highest row; an erased row may have been higher.
            bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :table"), {"table": table})
            bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"),
                         {"table": table, "seq": top})


# --- PostgreSQL -----------------------------------------------------------------------------------

def _sequence_state(bind, table: str) -> tuple[str, int]:
    """The sequence behind ``table``'s id and the next id it would hand out."""
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}).scalar()
    schema, _, name = sequence.rpartition(".")
    last, called = bind.execute(sa.select(sa.column("last_value"), sa.column("is_called"))
                                .select_from(sa.table(name, schema=schema or None))).one()
    return sequence, last + 1 if called else last


def _identity_columns() -> None:
    bind = op.get_bind()
    for table in TABLES:
        sequence, following = _sequence_state(bind, table)
        following = max(following, _max_id(bind, table) + 1, _audited_max(bind, table) + 1)
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
        op.execute(f"DROP SEQUENCE {sequence}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        # Not max(id) + 1: the newest rows may have been erased, their ids stay used.
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :next, false)"),
                     {"table": table, "next": following})


def _serial_columns() -> None:
    bind = op.get_bind()
    for table in TABLES:
        _sequence, following = _sequence_state(bind, table)
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP IDENTITY")
        op.execute(f"CREATE SEQUENCE {table}_id_seq AS integer OWNED BY {table}.id")
        bind.execute(sa.text("SELECT setval(:sequence, :next, false)"),
                     {"sequence": f"{table}_id_seq", "next": following})
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq'::regclass)")
