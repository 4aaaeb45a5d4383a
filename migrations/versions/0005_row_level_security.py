"""Row-level security: the database itself keeps each tenant to its own rows.

The application's connections act as one of two roles, neither of them an owner or able to bypass row-level
security (see kit/db.py): `vocalis_app` while acting for one tenant, named in the transaction setting
`vocalis.tenant_id`, and `vocalis_platform` on the platform's own paths (sign-up, look-ups by token or email before
the tenant is known, super admins, sweeps). A transaction that names no tenant sees no tenant-owned row and may write
none. FORCE makes the policies apply to the tables' owner too; only superusers and `BYPASSRLS` roles are above them.

The tenant's policy is a plain equality with a stable expression, so the planner estimates it from the column's
statistics and can use the tenant_id indexes; the platform role's policy is `true`, so platform paths cost nothing.

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
PLATFORM_ROLE = "vocalis_platform"
ROLES = (APP_ROLE, PLATFORM_ROLE)
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
# Tables whose tenant is another column or another row's: when a row is the tenant's.
OTHER_POLICIES = {
    "tenants": "id = vocalis_tenant()",
    # Platform events (no tenant) are visible to the platform role only.
    "audit_events": "tenant_id = vocalis_tenant()",
    # A refresh token is its session's: visible when the session is (that subquery is itself under RLS).
    "refresh_tokens": "EXISTS (SELECT 1 FROM auth_sessions WHERE auth_sessions.id = refresh_tokens.session_id)",
}


def upgrade() -> None:
    for role in ROLES:
        op.execute(f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
                END IF;
            END $$
        """)  # noqa: S608 - constants only
        # The connecting role switches to these (its membership is what SET ROLE checks).
        op.execute(f"GRANT {role} TO CURRENT_USER")
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        op.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}")
        # Tables of later migrations get the same grants without anyone remembering.
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
        )
        op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}")
    # The tenant the transaction acts for, or NULL (no row matches NULL). Plain SQL and STABLE: the planner inlines it
    # and treats it as a constant of the scan, as it does `now()`.
    op.execute("""
        CREATE FUNCTION vocalis_tenant() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT NULLIF(current_setting('vocalis.tenant_id', true), '')::uuid
        $$
    """)
    # Full-text matching (`@@`) is not leakproof, so under the tenant policy PostgreSQL may not use the GIN index for
    # it and reads every chunk of the tenant instead (2x slower keyword search at 10,000 chunks). This function runs
    # the search as its owner, whose policy hides nothing, so the index can be used; it answers only for the tenant the
    # calling transaction acts for, and the caller reads the chunks it names under its own policy. EXECUTE plans the
    # query for its actual tenant and bases each time (a generic plan would take the GIN index across every tenant's
    # chunks even for a small knowledge base).
    op.execute(f"""
        CREATE FUNCTION vocalis_keyword_search(tenant uuid, base_ids uuid[], query tsquery, max_rows integer)
        RETURNS TABLE (id uuid, score real)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF tenant IS DISTINCT FROM vocalis_tenant() THEN
                RETURN;
            END IF;
            RETURN QUERY EXECUTE
                'SELECT chunks.id, ts_rank_cd(chunks.search_vector, $3) FROM chunks'
                ' WHERE chunks.tenant_id = $1 AND chunks.knowledge_base_id = ANY ($2) AND chunks.search_vector @@ $3'
                ' ORDER BY 2 DESC LIMIT $4'
                USING tenant, base_ids, query, max_rows;
        END
        $$;
        REVOKE EXECUTE ON FUNCTION vocalis_keyword_search(uuid, uuid[], tsquery, integer) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION vocalis_keyword_search(uuid, uuid[], tsquery, integer) TO {APP_ROLE}, {PLATFORM_ROLE};
    """)  # noqa: S608 - constants only
    policies = {table: "tenant_id = vocalis_tenant()" for table in TENANT_OWNED} | OTHER_POLICIES
    for table, visible in policies.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} TO {APP_ROLE} USING ({visible}) WITH CHECK ({visible})")
        # The migrating role (the owner, under FORCE) too: later data migrations see every tenant's rows.
        op.execute(f"CREATE POLICY platform ON {table} TO {PLATFORM_ROLE}, CURRENT_USER USING (true) WITH CHECK (true)")


def downgrade() -> None:
    for table in (*TENANT_OWNED, *OTHER_POLICIES):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"DROP POLICY IF EXISTS platform ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS vocalis_keyword_search(uuid, uuid[], tsquery, integer)")
    op.execute("DROP FUNCTION IF EXISTS vocalis_tenant()")
    for role in ROLES:
        op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}")
        op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {role}")
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
