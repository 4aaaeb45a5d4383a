"""Audit actors outlive their users: `actor_user_id` loses its foreign key (a hard-deleted user's id stays in the
rows that name them) and `actor_email` keeps who they were.

Revision ID: 0004_audit_actor
Revises: 0003
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_audit_actor"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("fk_audit_events_actor_user_id_users"), "audit_events", type_="foreignkey")
    op.add_column("audit_events", sa.Column("actor_email", sa.String(length=320), nullable=True))
    op.execute(
        "UPDATE audit_events SET actor_email = users.email FROM users WHERE users.id = audit_events.actor_user_id"
    )


def downgrade() -> None:
    op.drop_column("audit_events", "actor_email")
    # The foreign key cannot come back while rows name users that are gone.
    op.execute(
        "UPDATE audit_events SET actor_user_id = NULL "
        "WHERE actor_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE users.id = audit_events.actor_user_id)"
    )
    op.create_foreign_key(
        op.f("fk_audit_events_actor_user_id_users"),
        "audit_events",
        "users",
        ["actor_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
