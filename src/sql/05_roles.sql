
-- ---------------------------------------------------------------------------
-- The two roles: buildtrace_writer submits input, buildtrace_reader reads
-- results. Each part grants them what it creates.
-- ---------------------------------------------------------------------------

-- Roles. Roles are cluster-wide, not part of the extension: they are created
-- here only if missing, survive DROP EXTENSION, and may be shared by several
-- databases. Both are NOLOGIN; grant them to login roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_writer') THEN
        CREATE ROLE buildtrace_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_reader') THEN
        CREATE ROLE buildtrace_reader NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA buildtrace TO buildtrace_writer, buildtrace_reader;
