"""Plans bound the characters of one document, so one upload cannot hold an ingestion worker for long.

Revision ID: 0006_document_characters
Revises: 0005_row_level_security
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_document_characters"
down_revision: str | None = "0005_row_level_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# About 100 pages for free, 1,000 for pro, 5,000 for enterprise (the offline model embeds ~8,000 characters a second
# on two cores).
LIMITS = {"free": 200_000, "pro": 2_000_000, "enterprise": 10_000_000}


def upgrade() -> None:
    op.add_column("plans", sa.Column("max_document_characters", sa.Integer(), nullable=True))
    plans = sa.table("plans", sa.column("code", sa.String()), sa.column("max_document_characters", sa.Integer()))
    for code, limit in LIMITS.items():
        op.execute(plans.update().where(plans.c.code == code).values(max_document_characters=limit))


def downgrade() -> None:
    op.drop_column("plans", "max_document_characters")
