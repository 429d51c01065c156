-- buildtrace install script. Built by the Makefile from src/sql/*.sql in name
-- order; each part owns one concept.
--
-- Security (PostgreSQL docs, "Security Considerations for Extensions"): the
-- schema is fixed (buildtrace, not relocatable), every object is created with a
-- qualified name, every SQL-language or PL/pgSQL function pins search_path,
-- and no function is SECURITY DEFINER unless a comment beside it says why.

\echo Use "CREATE EXTENSION buildtrace" to load this file. \quit

REVOKE ALL ON SCHEMA buildtrace FROM PUBLIC;

-- current_setting() for buildtrace.* parameters that loads the module first.
CREATE FUNCTION buildtrace.setting(name text)
RETURNS text
AS 'MODULE_PATHNAME', 'bt_setting'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
