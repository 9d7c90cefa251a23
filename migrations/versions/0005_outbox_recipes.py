"""outbox messages built by the sender, and an index of what is due

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipe', sa.Text(), nullable=True))
        batch_op.alter_column('message', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_index('ix_outbox_due', ['sent_at', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    # A message not yet built has no bytes to keep: build it first (flask outbox send).
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')
        batch_op.alter_column('message', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('recipe')
