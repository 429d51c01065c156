-- A statement that inserts one pair of the common case (processed, no
-- retry, no spike, the drawing's state and hour's rollup rows in place) is
-- stored without the executor (src/store_direct.c); any other case, and
-- tables that are not as the extension made them, by _pairs_store_one. The
-- direct store must write what the SQL writes, with every index entry, and
-- must give way whenever a trigger, constraint, column, owner, access
-- method or policy of the owner's would be passed by.
BEGIN;
SELECT plan(35);

SET LOCAL track_functions = 'pl';
SET LOCAL buildtrace.spike_min_changes = 1;
-- 1 -> 2 -> 3 changes are no spike, 3 -> 9 is.
SET LOCAL buildtrace.spike_factor = 2.5;
-- Walls moved alike are moves, not a shift of the whole drawing.
SET LOCAL buildtrace.shift_min_share = 1;
CREATE EXTENSION IF NOT EXISTS amcheck;

-- pg_temp.walls(n, shift): n walls, the first shift of them moved
\ir ../data/walls.sql

-- Inserts one pair of drawing d (10 walls, moved of them moved) and
-- returns how many times _pairs_store_one ran for it: 0 when the direct
-- store stored it.
CREATE FUNCTION pg_temp.sql_stores(d text, moved int DEFAULT 1, latency float8 DEFAULT 5,
                                   job text DEFAULT NULL, retry_of bigint DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    before bigint := coalesce(pg_stat_get_xact_function_calls('buildtrace._pairs_store_one()'::regprocedure), 0);
BEGIN
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms, job_id, retry_of)
    VALUES (d, pg_temp.walls(10), pg_temp.walls(10, moved), latency, job, retry_of);
    RETURN coalesce(pg_stat_get_xact_function_calls('buildtrace._pairs_store_one()'::regprocedure), 0) - before;
END
$$;

-- The common case, and what is not.
SELECT is(pg_temp.sql_stores('d'), 1::bigint, 'the first pair of a drawing is stored by SQL');
SELECT is(pg_temp.sql_stores('d', 2, 7, 'job-1'), 0::bigint, 'the next one is stored directly');
SELECT is(pg_temp.sql_stores('d', 3, NULL), 0::bigint, 'so is one without a latency');
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a change spike is stored by SQL');
SELECT is((SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'change_spike' AND drawing_id = 'd'),
          1::bigint, 'and flagged');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('d', '[]', '7');
SELECT is(pg_temp.sql_stores('d', 9, 5, NULL,
                             (SELECT max(pair_id) FROM buildtrace.pairs WHERE status = 'failed')),
          1::bigint, 'a retry is stored by SQL');
-- What the direct store wrote is what the SQL writes: the same pairs sent
-- again as one statement (stored set-wise) give the same rows.
CREATE TEMP TABLE sent AS
SELECT p.pair_id, p.version_a, p.version_b, p.latency_ms, p.job_id
FROM buildtrace.pairs p WHERE p.drawing_id = 'd' AND p.status = 'done' ORDER BY p.pair_id;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms, job_id)
SELECT 'set', s.version_a, s.version_b, s.latency_ms, s.job_id FROM sent s ORDER BY s.pair_id;
SELECT results_eq(
    $$SELECT c.job_id, c.diff, c.summary, c.added, c.removed, c.moved, c.resized, c.retyped,
             c.modified, c.unchanged, c.rotated, c.reidentified, c.shifted, c.total, c.tenant,
             c.computed_at
      FROM buildtrace.changes c WHERE c.drawing_id = 'd' ORDER BY c.pair_id$$,
    $$SELECT c.job_id, c.diff, c.summary, c.added, c.removed, c.moved, c.resized, c.retyped,
             c.modified, c.unchanged, c.rotated, c.reidentified, c.shifted, c.total, c.tenant,
             c.computed_at
      FROM buildtrace.changes c WHERE c.drawing_id = 'set' ORDER BY c.pair_id$$,
    'the changes rows stored directly are those stored by SQL');
SELECT results_eq(
    $$SELECT s.last_total, s.updated_at, s.tenant,
             s.last_pair_id = (SELECT max(c.pair_id) FROM buildtrace.changes c WHERE c.drawing_id = 'd')
      FROM buildtrace.drawing_state s WHERE s.drawing_id = 'd'$$,
    $$SELECT s.last_total, s.updated_at, s.tenant,
             s.last_pair_id = (SELECT max(c.pair_id) FROM buildtrace.changes c WHERE c.drawing_id = 'set')
      FROM buildtrace.drawing_state s WHERE s.drawing_id = 'set'$$,
    'so is the drawing''s state');
-- The drawing's rollup row, added to by both ways, is what
-- rebuild_rollups() makes of its stored pairs.
CREATE TEMP TABLE rollup_before AS SELECT * FROM buildtrace.hourly_rollups WHERE drawing_id = 'd';
SELECT buildtrace.rebuild_rollups(NULL);
SELECT results_eq(
    $$SELECT hour, pairs, failed, added, removed, moved, resized, retyped, modified, unchanged,
             rotated, reidentified, processing_ms::text, reported_latency_ms::text, tenant
      FROM buildtrace.hourly_rollups WHERE drawing_id = 'd'$$,
    $$SELECT hour, pairs, failed, added, removed, moved, resized, retyped, modified, unchanged,
             rotated, reidentified, processing_ms::text, reported_latency_ms::text, tenant
      FROM rollup_before$$,
    'the rollup row added to directly is what rebuild_rollups() makes of the pairs');
SELECT is((SELECT array[pairs, failed, buildtrace.bt_sketch_count(reported_latency_ms)] FROM rollup_before),
          array[5, 1, 4]::bigint[], 'it counts the done pairs, the failed one and the latencies reported');

DELETE FROM buildtrace.hourly_rollups WHERE drawing_id = 'd';
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a pair of an hour without its rollup row is stored by SQL');
SELECT is(pg_temp.sql_stores('d', 9), 0::bigint, 'the hour''s next pair directly');
SET LOCAL buildtrace.store_directly = off;
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'with buildtrace.store_directly off, by SQL');
RESET buildtrace.store_directly;

-- Every heap row of the three tables has its index entries, and the
-- indexes find the rows.
SELECT lives_ok($$SELECT public.bt_index_check(i.indexrelid, true)
                  FROM pg_index i
                  WHERE i.indrelid IN ('buildtrace.changes'::regclass,
                                       'buildtrace.drawing_state'::regclass,
                                       'buildtrace.hourly_rollups'::regclass)$$,
               'amcheck finds every row of the written tables in each of their indexes');
SET LOCAL enable_seqscan = off;
SELECT is((SELECT count(*) FROM buildtrace.changes WHERE job_id = 'job-1'), 2::bigint,
          'the job''s index finds the changes stored directly');
RESET enable_seqscan;

-- Tables the owner changed: the SQL stores, and what the owner added acts.
CREATE TEMP TABLE seen (pair_id bigint);
CREATE FUNCTION pg_temp.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen VALUES (NEW.pair_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER owners AFTER INSERT ON buildtrace.changes FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a trigger of the owner''s on changes: stored by SQL');
SELECT is((SELECT count(*) FROM seen), 1::bigint, 'and the trigger fired');
DROP TRIGGER owners ON buildtrace.changes;
CREATE TRIGGER owners AFTER INSERT ON buildtrace.pairs FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a trigger of the owner''s on pairs: stored by SQL');
DROP TRIGGER owners ON buildtrace.pairs;
SELECT is(pg_temp.sql_stores('d', 9), 0::bigint, 'the triggers gone, directly again');

ALTER TABLE buildtrace.changes ADD CONSTRAINT owners_check CHECK (moved < 5) NOT VALID;
SELECT throws_ok($$SELECT pg_temp.sql_stores('d', 7)$$, '23514', NULL,
                 'a CHECK of the owner''s on changes is checked');
ALTER TABLE buildtrace.changes DROP CONSTRAINT owners_check;
ALTER TABLE buildtrace.drawing_state ADD CONSTRAINT owners_check CHECK (last_total < 5) NOT VALID;
SELECT throws_ok($$SELECT pg_temp.sql_stores('d', 7)$$, '23514', NULL,
                 'so is one on drawing_state');
ALTER TABLE buildtrace.drawing_state DROP CONSTRAINT owners_check;
ALTER TABLE buildtrace.hourly_rollups ADD COLUMN owners_note text DEFAULT 'noted';
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a column of the owner''s on hourly_rollups: stored by SQL');
ALTER TABLE buildtrace.hourly_rollups DROP COLUMN owners_note;
ALTER TABLE buildtrace.changes FORCE ROW LEVEL SECURITY;
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'forced row-level security on changes: stored by SQL');
ALTER TABLE buildtrace.changes NO FORCE ROW LEVEL SECURITY;
-- Columns and CHECKs as the extension made them, no rule, no foreign key
-- but to pairs, or the SQL stores: a column made NOT NULL, a default
-- changed, a CHECK swapped for another (as many as before), a rule, a
-- foreign key of the owner's from changes.
UPDATE buildtrace.changes SET job_id = '' WHERE job_id IS NULL;
ALTER TABLE buildtrace.changes ALTER job_id SET NOT NULL;
SELECT throws_ok($$SELECT pg_temp.sql_stores('d', 9)$$, '23502', NULL,
                 'a column of changes made NOT NULL is checked');
ALTER TABLE buildtrace.changes ALTER job_id DROP NOT NULL;
ALTER TABLE buildtrace.changes ALTER computed_at SET DEFAULT '2001-01-01';
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a default of the owner''s on changes: stored by SQL');
ALTER TABLE buildtrace.changes ALTER computed_at SET DEFAULT now();
ALTER TABLE buildtrace.changes DROP CONSTRAINT changes_shifted_check,
    ADD CONSTRAINT changes_shifted_check CHECK (job_id <> 'bad');
SELECT throws_ok($$SELECT pg_temp.sql_stores('d', 9, 5, 'bad')$$, '23514', NULL,
                 'a CHECK swapped for another is checked');
ALTER TABLE buildtrace.changes DROP CONSTRAINT changes_shifted_check,
    ADD CONSTRAINT changes_shifted_check CHECK (shifted >= 0);
CREATE TEMP TABLE ruled (pair_id bigint);
CREATE RULE owners AS ON INSERT TO buildtrace.changes DO ALSO INSERT INTO ruled VALUES (NEW.pair_id);
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'a rule of the owner''s on changes: stored by SQL');
SELECT is((SELECT count(*) FROM ruled), 1::bigint, 'and the rule acted');
DROP RULE owners ON buildtrace.changes;
CREATE TABLE public.bt_direct_store_jobs (job_id text PRIMARY KEY);
ALTER TABLE buildtrace.changes ADD CONSTRAINT owners_fkey
    FOREIGN KEY (job_id) REFERENCES public.bt_direct_store_jobs NOT VALID;
SELECT throws_ok($$SELECT pg_temp.sql_stores('d', 9, 5, 'no-such-job')$$, '23503', NULL,
                 'a foreign key of the owner''s from changes is checked');
ALTER TABLE buildtrace.changes DROP CONSTRAINT owners_fkey;
-- Owned by another role than the store functions' definer, the table's
-- rights and policies are that role's business: the SQL writes.
CREATE ROLE bt_direct_store_owner;
CREATE FUNCTION pg_temp.set_owner(t regclass, r name) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s OWNER TO %I', t, r);
END
$$;
SELECT pg_temp.set_owner('buildtrace.drawing_state', 'bt_direct_store_owner');
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'drawing_state of another owner: stored by SQL');
SELECT pg_temp.set_owner('buildtrace.drawing_state',
                         (SELECT p.proowner::regrole::name FROM pg_proc p
                          WHERE p.oid = 'buildtrace._pairs_store_one()'::regprocedure));
-- A table of another access method, even a copy of heap's.
CREATE ACCESS METHOD bt_direct_store_heap TYPE TABLE HANDLER heap_tableam_handler;
ALTER TABLE buildtrace.changes SET ACCESS METHOD bt_direct_store_heap;
SELECT is(pg_temp.sql_stores('d', 9), 1::bigint, 'changes of another table access method: stored by SQL');
ALTER TABLE buildtrace.changes SET ACCESS METHOD heap;
-- A published table without a replica identity refuses the update, as the
-- executor refuses it.
SET LOCAL client_min_messages = error;
CREATE PUBLICATION bt_direct_store_pub FOR TABLE buildtrace.hourly_rollups;
ALTER TABLE buildtrace.hourly_rollups REPLICA IDENTITY NOTHING;
SELECT throws_ok($$SELECT pg_temp.sql_stores('d', 9)$$, '55000', NULL,
                 'a published rollup table without a replica identity refuses the direct store''s update');
ALTER TABLE buildtrace.hourly_rollups REPLICA IDENTITY DEFAULT;
DROP PUBLICATION bt_direct_store_pub;
RESET client_min_messages;
SELECT is(pg_temp.sql_stores('d', 9), 0::bigint, 'a dropped column is no obstacle');
SELECT is((SELECT count(*) FROM buildtrace.changes WHERE drawing_id = 'd'), 18::bigint,
          'every pair sent has its changes row');

-- A pair deleted in its own statement, by a trigger of another table in
-- the query: its changes row is refused, as the SQL store's foreign key
-- refuses it. (Last: a transaction that deleted pairs is stored by SQL.)
CREATE TABLE public.bt_direct_store_cancel (pair_id bigint);
CREATE FUNCTION pg_temp.cancel_pair() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM buildtrace.pairs WHERE pair_id = NEW.pair_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER cancel AFTER INSERT ON public.bt_direct_store_cancel
    FOR EACH ROW EXECUTE FUNCTION pg_temp.cancel_pair();
SELECT throws_ok($$WITH p AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
                              VALUES ('d', pg_temp.walls(10), pg_temp.walls(10, 9)) RETURNING pair_id)
                   INSERT INTO public.bt_direct_store_cancel SELECT pair_id FROM p$$, '23503', NULL,
                 'a pair its statement deleted gets no changes row');

SELECT * FROM finish();
ROLLBACK;
