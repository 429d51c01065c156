
-- ---------------------------------------------------------------------------
-- The roles: buildtrace_writer submits input, buildtrace_reader reads
-- results, buildtrace_monitor is the monitoring's login (the Prometheus
-- samples of every tenant), and the members of buildtrace_tenant are the
-- tenants (see 69_tenants.sql). Each part grants them what it creates.
-- ---------------------------------------------------------------------------

-- Roles. Roles are cluster-wide, not part of the extension: they are created
-- here only if missing, survive DROP EXTENSION, and may be shared by several
-- databases. All are NOLOGIN; grant them to login roles.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['buildtrace_writer', 'buildtrace_reader', 'buildtrace_monitor',
                             'buildtrace_tenant'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA buildtrace TO buildtrace_writer, buildtrace_reader, buildtrace_monitor;
