-- buildtrace.keep_freed_memory: set, a backend keeps the memory a diff
-- freed for its next statements, so the same diff sent again takes almost
-- no page faults; at 0, once a value was set, each statement faults its
-- pages in anew, and setting it back to 0 restores that. Counted as this
-- backend's minor page faults (/proc/self/stat), over five statements of a
-- 10,000-object diff with 30 % of the objects moved.
BEGIN;
SELECT plan(4);
-- the setting's hook runs only once the module is loaded
LOAD 'buildtrace';

CREATE TABLE fm_pair (a jsonb, b jsonb);
INSERT INTO fm_pair
SELECT (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall', 'x', i % 317, 'y', i / 317,
                                            'width', 1, 'height', 0.25, 'layer', 'L' || i % 12))
        FROM generate_series(1, 10000) i),
       (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall',
                                            'x', i % 317 + CASE WHEN i % 10 < 3 THEN 2.5 ELSE 0 END, 'y', i / 317,
                                            'width', 1, 'height', 0.25, 'layer', 'L' || i % 12))
        FROM generate_series(1, 10000) i);
CREATE FUNCTION pg_temp.faults() RETURNS bigint LANGUAGE sql AS
$$ SELECT split_part(pg_read_file('/proc/self/stat'), ' ', 10)::bigint $$;

-- glibc raises its thresholds as a session frees large blocks (building
-- the pair above did), after which even 0 may keep what a diff frees. A
-- value set and then 0 fixes them at glibc's initial ones, whatever came
-- before.
SET LOCAL buildtrace.keep_freed_memory = '64MB';
SET LOCAL buildtrace.keep_freed_memory = 0;
SELECT (buildtrace.bt_diff(a, b) -> 'counts' ->> 'moved')::int AS moved FROM fm_pair \gset
\set faults_into at_0
\ir include/diff_faults.psql

SET LOCAL buildtrace.keep_freed_memory = '64MB';
\set faults_into kept
\ir include/diff_faults.psql

SET LOCAL buildtrace.keep_freed_memory = 0;
\set faults_into again
\ir include/diff_faults.psql

SELECT is(:moved, 3000, 'the diff is of 3,000 moved objects');
SELECT cmp_ok(:at_0::bigint, '>', 100::bigint,
              'at 0, set after a value, each diff faults its pages in anew (' || :at_0 || ' a statement)');
SELECT cmp_ok(:kept::bigint * 10, '<', :at_0::bigint,
              'at 64MB, a tenth of the faults or fewer (' || :kept || ' a statement)');
SELECT cmp_ok(:again::bigint, '>', :kept::bigint * 10,
              'back at 0, the faults return (' || :again || ' a statement)');

SELECT * FROM finish();
ROLLBACK;
