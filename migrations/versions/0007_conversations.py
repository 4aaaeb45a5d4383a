"""Conversations: an agent's business name and handoff contact, what a call collected, and barge-ins that let
backchannels pass.

Revision ID: 0007_conversations
Revises: 0006_document_characters
Create Date: 2026-12-02 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007_conversations"
down_revision: str | None = "0006_document_characters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("business_name", sa.String(200), nullable=True))
    op.add_column("agents", sa.Column("transfer_to", sa.String(200), nullable=True))
    op.add_column("calls", sa.Column("collected", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")))
    # The old default (0.2 s, the VAD's start) let any "uh-huh" stop the agent; agents that kept it get the new one.
    op.execute(
        "UPDATE agents SET turn_taking = jsonb_set(turn_taking, '{interruption_min_seconds}', '0.6') "
        "WHERE (turn_taking->>'interruption_min_seconds')::float = 0.2"
    )


def downgrade() -> None:
    op.drop_column("calls", "collected")
    op.drop_column("agents", "transfer_to")
    op.drop_column("agents", "business_name")
