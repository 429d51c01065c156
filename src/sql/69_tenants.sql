
-- ---------------------------------------------------------------------------
-- Tenants: row-level security on everything a customer owns.
--
-- A tenant is a role that is a member of buildtrace_tenant; its users are the
-- roles that are members of it. A session says which of its tenants it acts
-- for with SET buildtrace.tenant; every row of pairs, versions, changes,
-- anomalies, drawing_state, hourly_rollups and upload_expectations carries
-- the tenant it was written for, and a policy on each shows and admits only
-- rows of current_tenant(). Single-tenant use needs none of this: with no
-- tenant roles every row is of the default tenant ''.
--
-- The read functions and views run with the caller's rights, so the policies
-- bind them. Superusers and BYPASSRLS roles, such as the extension's owner,
-- are not bound by any policy (FORCE ROW LEVEL SECURITY binds only owners
-- that are neither, and buildtrace is always owned by a superuser): its
-- SECURITY DEFINER code is what must keep tenants apart. The pipeline's
-- triggers write every result under the tenant of the rows the policies
-- admitted, and refuse a drawing of another tenant (_lock_drawings); the
-- scheduled checks write each anomaly under its drawing's tenant; the
-- Prometheus samples, for the monitoring role only, are sums over all.
-- ---------------------------------------------------------------------------

-- The tenant this role acts for: buildtrace.tenant, checked. It must name a
-- tenant role (a direct member of buildtrace_tenant) that the current role
-- is a member of. A role that is a member of a tenant must name one, so that
-- it cannot fall back to the default tenant's rows; so must a login that is,
-- whatever role it has SET ROLE to (a tenant's login is also a member of
-- buildtrace_writer or buildtrace_reader, which belong to no tenant). A
-- superuser is bound by no policy and may. The policies call it once per
-- statement.
CREATE FUNCTION buildtrace.current_tenant()
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant text := coalesce(current_setting('buildtrace.tenant', true), '');
    who    name;
BEGIN
    IF tenant = '' THEN
        -- (the login a second time only when it is another role)
        FOREACH who IN ARRAY CASE WHEN session_user = current_user THEN ARRAY[current_user]
                                  ELSE ARRAY[current_user, session_user] END LOOP
            IF pg_has_role(who, 'buildtrace_tenant', 'MEMBER')
               AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = who) THEN
                RAISE EXCEPTION 'buildtrace.tenant is not set' USING ERRCODE = 'insufficient_privilege',
                    DETAIL = format('Role "%s" is a member of a tenant and must say which tenant it acts for.',
                                    who),
                    HINT = 'SET buildtrace.tenant to the name of the tenant role.';
            END IF;
        END LOOP;
        RETURN '';
    END IF;
    -- A direct member: a tenant's users are members of buildtrace_tenant
    -- through it, and must not pass for tenants of their own.
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.member
                   JOIN pg_roles t ON t.oid = m.roleid
                   WHERE r.rolname = tenant AND t.rolname = 'buildtrace_tenant') THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant USING ERRCODE = 'undefined_object',
            DETAIL = 'A tenant is a role that is a direct member of buildtrace_tenant.';
    END IF;
    IF NOT pg_has_role(current_user, tenant, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied for tenant "%"', tenant USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('Role "%s" is not a member of role "%s".', current_user, tenant);
    END IF;
    RETURN tenant;
END
$$;
COMMENT ON FUNCTION buildtrace.current_tenant() IS
    'The tenant the current role acts for (buildtrace.tenant, checked against its memberships); '''' for the default tenant.';

-- One policy per table, for every command: a role sees, writes, changes and
-- deletes the rows of its current tenant only. The sub-select runs the check
-- once per statement, not per row.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['pairs', 'versions', 'changes', 'anomalies', 'drawing_state',
                             'hourly_rollups', 'upload_expectations'] LOOP
        EXECUTE format('ALTER TABLE buildtrace.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON buildtrace.%I
                            USING (tenant = (SELECT buildtrace.current_tenant()))', t);
    END LOOP;
END
$$;

-- The reader reads the tables, and the views and functions over them with
-- its own rights: the policies show it its tenant's rows.
GRANT SELECT ON buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
                buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.upload_expectations
    TO buildtrace_reader;
