"""catalogue files: decoded model copy, inspection report, broken models, system previews

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decoded_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('inspection', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('broken_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_system_preview', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_renders_is_system_preview'), ['is_system_preview'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renders_is_system_preview'))
        batch_op.drop_column('is_system_preview')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_column('broken_reason')
        batch_op.drop_column('inspection')
        batch_op.drop_column('decoded_key')
