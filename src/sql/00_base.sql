-- buildtrace install script. Built by the Makefile from src/sql/*.sql in name
-- order; each part owns one concept.
--
-- Security (PostgreSQL docs, "Security Considerations for Extensions"): the
-- schema is fixed (buildtrace, not relocatable), every object is created with a
-- qualified name, every SQL-language or PL/pgSQL function pins search_path,
-- and no function is SECURITY DEFINER unless a comment beside it says why.

\echo Use "CREATE EXTENSION buildtrace" to load this file. \quit

-- CREATE EXTENSION installs into schema buildtrace even when someone else
-- made it beforehand. Whoever owns the schema, or may create in it, could
-- then add an overload that a SECURITY DEFINER function of ours would call
-- with the installer's rights, or replace our objects. So the schema must
-- be the installing role's (or another superuser's), nobody else may create
-- in it, and it must be empty.
DO $$
DECLARE
    schema_owner name;
    creators     text;
    objects      bigint;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner),
           (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)), ', ')
            FROM pg_catalog.aclexplode(n.nspacl) a
            WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
              AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner)
    INTO schema_owner, creators
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname OPERATOR(pg_catalog.=) 'buildtrace';
    IF schema_owner OPERATOR(pg_catalog.<>) current_user
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) schema_owner) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.format('schema "buildtrace" is owned by role %I, not by the installing role %I',
                                        schema_owner, current_user),
            DETAIL = 'Its owner could replace what buildtrace installs there, or add functions that buildtrace would run with the installing role''s rights.',
            HINT = 'Drop schema buildtrace (it must be empty), or make the installing role its owner, then run CREATE EXTENSION buildtrace again.';
    END IF;
    IF creators IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'other roles may create objects in schema "buildtrace"',
            DETAIL = pg_catalog.format('CREATE on the schema is granted to %s.', creators),
            HINT = 'REVOKE CREATE ON SCHEMA buildtrace from them, then run CREATE EXTENSION buildtrace again.';
    END IF;
    SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) n.oid)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) n.oid)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_collation l WHERE l.collnamespace OPERATOR(pg_catalog.=) n.oid)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_conversion v WHERE v.connamespace OPERATOR(pg_catalog.=) n.oid)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_opfamily f WHERE f.opfnamespace OPERATOR(pg_catalog.=) n.oid)
    INTO objects
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname OPERATOR(pg_catalog.=) 'buildtrace';
    IF objects OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'schema "buildtrace" is not empty',
            DETAIL = pg_catalog.format('It holds %s object%s that buildtrace did not create.',
                                       objects, CASE WHEN objects OPERATOR(pg_catalog.=) 1 THEN '' ELSE 's' END),
            HINT = 'Drop or move them, or drop schema buildtrace, then run CREATE EXTENSION buildtrace again.';
    END IF;
END
$$;

REVOKE ALL ON SCHEMA buildtrace FROM PUBLIC;

-- current_setting() for buildtrace.* parameters that loads the module first.
CREATE FUNCTION buildtrace.setting(name text)
RETURNS text
AS 'MODULE_PATHNAME', 'bt_setting'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.setting(text) IS
    'The current value of a buildtrace.* setting (loading the module first, so its default and checks apply).';
