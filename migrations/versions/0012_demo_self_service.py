"""demo bookings the prospect can move or cancel: a change counter and when it changed

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 12:00:00

``sequence`` is the invitation's SEQUENCE (RFC 5545), raised by every change; a change
is made by a conditional UPDATE on it, so two changes from the same page act once.
Plain ADD COLUMN on both databases: SQLite keeps the table (and its triggers).
"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('demo_bookings', sa.Column('sequence', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('demo_bookings', sa.Column('changed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN, not a batch rebuild: SQLite (3.35+) keeps the table's triggers.
    op.drop_column('demo_bookings', 'changed_at')
    op.drop_column('demo_bookings', 'sequence')
