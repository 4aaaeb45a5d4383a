"""Row-level security: the database itself keeps each tenant to its own rows.

The application's connections act as the role `vocalis_app` (no BYPASSRLS, not an owner: see kit/db.py), and each
transaction says which tenant it acts for in the setting `vocalis.tenant_id` (a tenant's id, or `*` for the platform's
own paths: sign-up, login look-ups, super admins, start-up sweeps). A transaction that says nothing sees no
tenant-owned row and may write none. FORCE makes the policies apply to the tables' owner too; only superusers and
this migration's role (when it is one) are above them.

Revision ID: 0005_row_level_security
Revises: 0004_audit_actor
Create Date: 2026-12-02 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_row_level_security"
down_revision: str | None = "0004_audit_actor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "vocalis_app"
# Tables with a `tenant_id` column (every TenantOwned model).
TENANT_OWNED = (
    "subscriptions",
    "usage_records",
    "users",
    "api_keys",
    "auth_sessions",
    "knowledge_bases",
    "documents",
    "chunks",
    "agents",
    "provider_credentials",
    "calls",
    "call_turns",
)
# Tables whose tenant is another column or another row's: the row expression that must be visible.
OTHER_POLICIES = {
    "tenants": "vocalis_acts_for(id)",
    # Platform events (no tenant) are the platform's: only `*` sees or writes them.
    "audit_events": "vocalis_acts_for(tenant_id)",
    # A refresh token is its session's: visible when the session is (that subquery is itself under RLS).
    "refresh_tokens": "EXISTS (SELECT 1 FROM auth_sessions WHERE auth_sessions.id = refresh_tokens.session_id)",
}


def upgrade() -> None:
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END $$
    """)  # noqa: S608 - constants only
    # The migrating role may switch to the app role (SET ROLE) when the app connects with the same URL.
    op.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {APP_ROLE}")
    # Tables of later migrations get the same grants without anyone remembering.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}")
    # NULL (a platform event) is visible only to `*`. STABLE and plain SQL, so the planner inlines it.
    op.execute("""
        CREATE FUNCTION vocalis_acts_for(tenant uuid) RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT current_setting('vocalis.tenant_id', true) = '*'
                OR (tenant IS NOT NULL AND current_setting('vocalis.tenant_id', true) = tenant::text)
        $$
    """)
    policies = {table: "vocalis_acts_for(tenant_id)" for table in TENANT_OWNED} | OTHER_POLICIES
    for table, visible in policies.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({visible}) WITH CHECK ({visible})")


def downgrade() -> None:
    for table in (*TENANT_OWNED, *OTHER_POLICIES):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS vocalis_acts_for(uuid)")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
