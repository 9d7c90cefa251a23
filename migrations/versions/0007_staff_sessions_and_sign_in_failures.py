"""staff sessions end at sign-out; sign-in failures counted per account and network

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_sign_in_failures',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_sign_in_failures_staff_id_staff_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'network', name=op.f('pk_staff_sign_in_failures'))
    )
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        # The one counter per account let anyone lock a staff member out from anywhere.
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')


def downgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_column('session_epoch')
    op.drop_table('staff_sign_in_failures')
