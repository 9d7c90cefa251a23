"""public request references; restriction and objection kept by the address's hash

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:20:00
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The same alphabet and check as dsr.new_reference (Crockford's base32, Luhn mod 32),
# copied so that this revision keeps working when the application changes.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference() -> str:
    symbols = [secrets.choice(_ALPHABET) for _ in range(11)]
    factor, total = 2, 0
    for symbol in reversed(symbols):
        addend = factor * _ALPHABET.index(symbol)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    symbols.append(_ALPHABET[(32 - total % 32) % 32])
    text = "".join(symbols)
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


def upgrade() -> None:
    with op.batch_alter_table('privacy_inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=16), nullable=True))
    conn = op.get_bind()
    inquiries = sa.table('privacy_inquiries', sa.column('id', sa.Integer), sa.column('reference', sa.String))
    ids = [row.id for row in conn.execute(sa.select(inquiries.c.id))]
    references = set()
    while len(references) < len(ids):
        references.add(_reference())
    for ident, reference in zip(ids, list(references), strict=True):
        conn.execute(inquiries.update().where(inquiries.c.id == ident).values(reference=reference))
    with op.batch_alter_table('privacy_inquiries', schema=None) as batch_op:
        batch_op.alter_column('reference', existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_privacy_inquiries_reference'), ['reference'])

    op.create_table('processing_limits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processing_limits')),
    sa.UniqueConstraint('email_hash', 'kind', name=op.f('uq_processing_limits_email_hash_kind'))
    )
    with op.batch_alter_table('processing_limits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processing_limits_email_hash'), ['email_hash'], unique=False)
    # Restrictions and objections verified before this revision were kept on the leads only.
    leads = sa.table('leads', sa.column('email_hash', sa.String), sa.column('restricted', sa.Boolean),
                     sa.column('objected', sa.Boolean), sa.column('created_at', sa.DateTime))
    limits = sa.table('processing_limits', sa.column('email_hash', sa.String), sa.column('kind', sa.String),
                      sa.column('created_at', sa.DateTime))
    for kind, column in (('restriction', leads.c.restricted), ('objection', leads.c.objected)):
        rows = conn.execute(sa.select(leads.c.email_hash, sa.func.max(leads.c.created_at))
                            .where(column.is_(True), leads.c.email_hash != '')
                            .group_by(leads.c.email_hash)).all()
        if rows:
            conn.execute(limits.insert(), [{'email_hash': h, 'kind': kind, 'created_at': at} for h, at in rows])


def downgrade() -> None:
    with op.batch_alter_table('processing_limits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processing_limits_email_hash'))
    op.drop_table('processing_limits')
    with op.batch_alter_table('privacy_inquiries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_privacy_inquiries_reference'), type_='unique')
        batch_op.drop_column('reference')
