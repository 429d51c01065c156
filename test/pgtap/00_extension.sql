-- The extension's shape: schema, privileges, function hygiene.
BEGIN;
SELECT plan(6);

SELECT has_schema('buildtrace');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'buildtrace'),
          false, 'buildtrace is not relocatable');
SELECT ok(NOT has_schema_privilege('public', 'buildtrace', 'CREATE'),
          'PUBLIC cannot create objects in schema buildtrace');

-- Every function the extension owns is C, or pins search_path; the
-- exceptions are purge() and work(), procedures that commit, which
-- PostgreSQL does not allow a SET clause: their bodies qualify every name
-- instead.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text
    FROM pg_proc p
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'buildtrace'
    JOIN pg_language l ON l.oid = p.prolang
    WHERE l.lanname NOT IN ('c', 'internal')
      AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
      AND p.oid NOT IN ('buildtrace.purge(integer, bigint, bigint, bigint, bigint)'::regprocedure,
                        'buildtrace.work(integer, integer, integer, bigint)'::regprocedure)
$$, 'every SQL and PL/pgSQL function pins search_path');

-- An exception block starts a subtransaction, which a parallel worker
-- cannot: no function that reaches one, itself or through the functions it
-- calls, may be PARALLEL SAFE (a forced parallel plan would then fail).
SELECT is_empty($$
    WITH RECURSIVE f AS (
        SELECT p.oid, p.proname, p.proparallel, p.prosrc FROM pg_proc p
        JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'buildtrace'),
    reaches AS (
        SELECT f.oid, f.proname FROM f WHERE f.prosrc ~* '\mEXCEPTION\s+WHEN\M'
        UNION
        SELECT g.oid, g.proname FROM f g JOIN reaches r ON g.prosrc ~ ('buildtrace\.' || r.proname || '\('))
    SELECT f.oid::regprocedure FROM reaches r JOIN f USING (oid) WHERE f.proparallel = 's'
$$, 'no PARALLEL SAFE function reaches an exception block');

-- psql's \df+, \dd and \d+ describe every function, procedure, aggregate,
-- table, view and type, the aggregates' and the type's support functions
-- included.
SELECT is_empty($$
    SELECT pg_describe_object(d.classid, d.objid, 0)
    FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'buildtrace'
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
    LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
    WHERE d.deptype = 'e'
      AND coalesce(p.proname, c.relname, t.typname) !~ '^_'
      AND (p.oid IS NOT NULL OR c.relkind IN ('r', 'v', 'm', 'p') OR t.typtype = 'b')
      AND obj_description(d.objid, d.classid::regclass::name) IS NULL
$$, 'every function, procedure, aggregate, table, view and type not named _… has a description');

SELECT * FROM finish();
ROLLBACK;
