-- The README names everything of buildtrace that a user reaches: every
-- function (as name(...)), table and view (as `name`) and setting (as
-- `buildtrace.name`), so that one added without its reference fails here.
-- Left out: names that start with an underscore (internal), and the support
-- functions of buildtrace's types and aggregates (input, output, transition,
-- final ...), which users reach through the type or aggregate itself.
-- Run from the repository's root, as the suite does.
\set readme `cat README.md`
BEGIN;
SELECT plan(5);

-- the settings exist once the library is loaded
LOAD 'buildtrace';
CREATE TEMP TABLE readme AS SELECT :'readme'::text AS body;

CREATE TEMP VIEW members AS
    SELECT d.classid, d.objid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND e.extname = 'buildtrace';

SELECT cmp_ok((SELECT length(body) FROM readme), '>', 100000,
              'the README was read');

SELECT is_empty($$
    SELECT DISTINCT p.proname
    FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    WHERE p.proname !~ '^_'
      AND NOT EXISTS (SELECT 1 FROM pg_aggregate a
                      WHERE p.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
                                      a.aggserialfn, a.aggdeserialfn, a.aggmtransfn,
                                      a.aggminvtransfn, a.aggmfinalfn))
      AND NOT EXISTS (SELECT 1 FROM pg_type t
                      WHERE p.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend))
      AND (SELECT body FROM readme) !~ ('\m' || p.proname || '\(')
$$, 'the README names every function, as name(...)');

SELECT is_empty($$
    SELECT c.relname
    FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
    WHERE c.relkind IN ('r', 'p', 'v', 'm') AND c.relname !~ '^_'
      AND (SELECT body FROM readme) !~ ('`(buildtrace\.)?' || c.relname || '[` (]')
$$, 'the README names every table and view, as `name`');

SELECT ok(EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE 'buildtrace.%'),
          'buildtrace''s settings are loaded');

SELECT is_empty($$
    SELECT s.name FROM pg_settings s
    WHERE s.name LIKE 'buildtrace.%'
      AND position('`' || s.name || '`' IN (SELECT body FROM readme)) = 0
$$, 'the README names every setting, as `buildtrace.name`');

SELECT * FROM finish();
ROLLBACK;
