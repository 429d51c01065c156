
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
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_writer') THEN
        CREATE ROLE buildtrace_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_reader') THEN
        CREATE ROLE buildtrace_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_monitor') THEN
        CREATE ROLE buildtrace_monitor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_tenant') THEN
        CREATE ROLE buildtrace_tenant NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA buildtrace TO buildtrace_writer, buildtrace_reader, buildtrace_monitor;
