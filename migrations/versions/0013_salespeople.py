"""salespeople: working hours, time off, calendars, and who gives each demo

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:00:00

SQLite gets ``demo_bookings.salesperson_id`` by rebuilding the table (its named foreign
key can only be declared that way), as 0011 rebuilt it: every trigger is dropped first
and recreated after, the table's indexes get back their exact SQL, and the table's
AUTOINCREMENT counter is kept, so no booking id is handed out twice.
The partial unique index on (salesperson_id, slot_start) for live bookings makes a
second booking of one salesperson at one time impossible (see ``models.leads``).
"""
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sales_profiles',
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('hours', sa.String(length=500), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('meeting_url', sa.String(length=500), nullable=True),
        sa.Column('calendar_url', sa.String(length=500), nullable=True),
        sa.Column('calendar_credentials', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_sales_profiles_staff_id_staff_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_sales_profiles')),
    )
    op.create_table(
        'sales_time_off',
        sa.Column('id', sa.Integer(), sa.Identity(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_sales_time_off_staff_id_staff_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_time_off')),
    )
    op.create_index(op.f('ix_sales_time_off_staff_id'), 'sales_time_off', ['staff_id'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        with _sqlite_rebuild() as batch_op:
            batch_op.add_column(sa.Column('salesperson_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f('fk_demo_bookings_salesperson_id_staff_users'), 'staff_users',
                                        ['salesperson_id'], ['id'], ondelete='SET NULL')
    else:
        op.add_column('demo_bookings', sa.Column('salesperson_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_demo_bookings_salesperson_id_staff_users'), 'demo_bookings', 'staff_users',
                              ['salesperson_id'], ['id'], ondelete='SET NULL')
    op.create_index('uq_demo_bookings_salesperson_slot', 'demo_bookings', ['salesperson_id', 'slot_start'],
                    unique=True, sqlite_where=sa.text('seat IS NOT NULL'),
                    postgresql_where=sa.text('seat IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('uq_demo_bookings_salesperson_slot', table_name='demo_bookings')
    if op.get_bind().dialect.name == 'sqlite':
        with _sqlite_rebuild() as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_demo_bookings_salesperson_id_staff_users'), type_='foreignkey')
            batch_op.drop_column('salesperson_id')
    else:
        op.drop_constraint(op.f('fk_demo_bookings_salesperson_id_staff_users'), 'demo_bookings', type_='foreignkey')
        op.drop_column('demo_bookings', 'salesperson_id')
    op.drop_index(op.f('ix_sales_time_off_staff_id'), table_name='sales_time_off')
    op.drop_table('sales_time_off')
    op.drop_table('sales_profiles')


def _schema(bind) -> list:
    """Every trigger and index with its SQL, in the order they were created."""
    return [tuple(row) for row in bind.execute(sa.text(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') "
        "AND sql IS NOT NULL ORDER BY rowid"))]


@contextmanager
def _sqlite_rebuild():
    """Rebuild demo_bookings with the changes made in the block, keeping everything else."""
    bind = op.get_bind()
    if bind.execute(sa.text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("rebuilding tables needs foreign keys off: migrate through iptor_site.migrate")
    before = [row for row in _schema(bind) if row[1] != 'uq_demo_bookings_salesperson_slot']
    for kind, name, _table, _sql in before:
        if kind == "trigger":
            op.execute(f'DROP TRIGGER "{name}"')
    top = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'demo_bookings'")).scalar()
    with op.batch_alter_table('demo_bookings', recreate="always",
                              table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        yield batch_op
    for kind, name, table, sql in before:
        if kind == "index" and table == 'demo_bookings':
            op.execute(f'DROP INDEX IF EXISTS "{name}"')
            op.execute(sql)
    for kind, _name, _table, sql in before:
        if kind == "trigger":
            op.execute(sql)
    after = [row for row in _schema(bind) if row[1] != 'uq_demo_bookings_salesperson_slot']
    if sorted(after) != sorted(before):
        raise RuntimeError(f"the rebuild changed triggers or indexes: {sorted(set(before) ^ set(after))}")
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'demo_bookings'"))
    if top is not None:
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('demo_bookings', :seq)"), {"seq": top})
