-- A statement that inserts one pair is stored by _pairs_store_one (a few
-- statements planned for one row) or, in the common case, directly (see
-- pipeline_direct_store), any other by _pairs_store_results (one set-wise
-- statement). The same pairs sent one per INSERT and in
-- multi-row INSERTs must leave the same pairs, changes, anomalies, rollups
-- and drawing state, each way really taking its path.
BEGIN;
SELECT plan(9);

SET LOCAL track_functions = 'pl';
SET LOCAL buildtrace.spike_min_changes = 1;

-- n walls, the first "moved" of them 3 to the right
CREATE FUNCTION pg_temp.walls(n int, moved int DEFAULT 0) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', 'W' || i, 'type', 'wall',
                                                 'x', i * 10 + CASE WHEN i <= moved THEN 3 ELSE 0 END, 'y', 0,
                                                 'width', 1, 'height', 1)), '[]')
    FROM generate_series(1, n) i
$$;

-- The pairs in the order sent, in two statements when sent set-wise.
-- Drawing a: 5 changes, then 50 (a medium spike), then 10 moves. b: a
-- failed pair, retried in the second statement. c: 1 change, then 21 (a
-- high spike: at least twice the factor).
CREATE TEMP TABLE sent (ord int, stmt int, drawing text, a jsonb, b jsonb, latency_ms float8,
                        job_id text, retry boolean);
INSERT INTO sent VALUES
    (1, 1, 'a', '[]', pg_temp.walls(5), 12, 'j1', false),
    (2, 1, 'b', '[]', '7', 3, NULL, false),
    (3, 1, 'a', pg_temp.walls(5), pg_temp.walls(55), NULL, 'j1', false),
    (4, 1, 'c', '[]', pg_temp.walls(1), 40, 'j2', false),
    (5, 2, 'a', pg_temp.walls(55), pg_temp.walls(55, 10), 7, NULL, false),
    (6, 2, 'b', '[]', pg_temp.walls(2), 9, NULL, true),
    (7, 2, 'c', pg_temp.walls(1), pg_temp.walls(21), 11, 'j2', false);

-- Calls of each store function in this transaction since the last mark.
CREATE TEMP TABLE calls_mark (one bigint, set bigint);
CREATE FUNCTION pg_temp.store_calls() RETURNS TABLE (one bigint, set bigint) LANGUAGE sql AS $$
    SELECT coalesce(pg_stat_get_xact_function_calls('buildtrace._pairs_store_one()'::regprocedure), 0),
           coalesce(pg_stat_get_xact_function_calls('buildtrace._pairs_store_results()'::regprocedure), 0)
$$;
CREATE FUNCTION pg_temp.mark_calls() RETURNS void LANGUAGE sql AS $$
    DELETE FROM calls_mark;
    INSERT INTO calls_mark SELECT * FROM pg_temp.store_calls();
$$;
CREATE FUNCTION pg_temp.calls_since_mark() RETURNS TABLE (one bigint, set bigint) LANGUAGE sql AS $$
    SELECT c.one - m.one, c.set - m.set FROM pg_temp.store_calls() c, calls_mark m
$$;

-- One INSERT per pair (statements of a PL/pgSQL block each fire the
-- statement trigger).
SELECT pg_temp.mark_calls();
DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT * FROM sent ORDER BY ord LOOP
        INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms, job_id, retry_of)
        VALUES ('one-' || s.drawing, s.a, s.b, s.latency_ms, s.job_id,
                CASE WHEN s.retry THEN (SELECT p.pair_id FROM buildtrace.pairs p
                                        WHERE p.drawing_id = 'one-' || s.drawing
                                          AND p.status = 'failed') END);
    END LOOP;
END
$$;
-- All but the third pair of a (10 moves after 50: no spike, its drawing's
-- rows in place), which is stored directly.
SELECT results_eq('SELECT * FROM pg_temp.calls_since_mark()',
                  $$VALUES (6::bigint, 0::bigint)$$,
                  'an INSERT of one pair is stored by _pairs_store_one');

-- The same pairs in two multi-row INSERTs.
SELECT pg_temp.mark_calls();
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms, job_id)
SELECT 'set-' || s.drawing, s.a, s.b, s.latency_ms, s.job_id FROM sent s WHERE s.stmt = 1 ORDER BY s.ord;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms, job_id, retry_of)
SELECT 'set-' || s.drawing, s.a, s.b, s.latency_ms, s.job_id,
       CASE WHEN s.retry THEN (SELECT p.pair_id FROM buildtrace.pairs p
                               WHERE p.drawing_id = 'set-' || s.drawing AND p.status = 'failed') END
FROM sent s WHERE s.stmt = 2 ORDER BY s.ord;
SELECT results_eq('SELECT * FROM pg_temp.calls_since_mark()',
                  $$VALUES (0::bigint, 2::bigint)$$,
                  'an INSERT of several pairs is stored by _pairs_store_results');

-- A statement whose rows were all skipped (ON CONFLICT DO NOTHING) calls
-- neither.
SELECT pg_temp.mark_calls();
INSERT INTO buildtrace.pairs (pair_id, drawing_id, version_a, version_b) OVERRIDING SYSTEM VALUE
SELECT p.pair_id, p.drawing_id, '[]', '[]' FROM buildtrace.pairs p WHERE p.drawing_id LIKE 'set-%'
ON CONFLICT (pair_id) DO NOTHING;
SELECT results_eq('SELECT * FROM pg_temp.calls_since_mark()',
                  $$VALUES (0::bigint, 0::bigint)$$,
                  'a statement that inserted no pair stores nothing');

-- What a way stored, as lines without ids or times: pairs by drawing and
-- number within it.
CREATE FUNCTION pg_temp.stored(prefix text) RETURNS SETOF text LANGUAGE sql AS $$
    WITH p AS (
        SELECT p.pair_id, p.status, substr(p.drawing_id, length(prefix) + 1) AS d,
               row_number() OVER (PARTITION BY p.drawing_id ORDER BY p.pair_id) AS n
        FROM buildtrace.pairs p WHERE p.drawing_id LIKE prefix || '%'
    )
    SELECT format('pair %s#%s %s', p.d, p.n, p.status) FROM p
    UNION ALL
    SELECT format('change %s#%s total %s %s %s job %s', p.d, p.n, c.total,
                  row(c.added, c.removed, c.moved, c.resized, c.retyped, c.modified, c.unchanged,
                      c.rotated, c.reidentified, c.shifted), c.diff, c.job_id)
    FROM buildtrace.changes c JOIN p USING (pair_id)
    UNION ALL
    SELECT format('anomaly %s %s %s#%s after #%s resolved %s %s', a.kind, a.severity, p.d, p.n,
                  (SELECT q.n FROM p q WHERE q.pair_id = (a.details ->> 'previous_pair_id')::bigint),
                  a.resolved_at IS NOT NULL, a.details - 'previous_pair_id')
    FROM buildtrace.anomalies a JOIN p USING (pair_id)
    UNION ALL
    SELECT format('rollup %s %s latency %s processed %s', substr(r.drawing_id, length(prefix) + 1),
                  row(r.pairs, r.failed, r.added, r.removed, r.moved, r.resized, r.retyped,
                      r.modified, r.unchanged, r.rotated, r.reidentified),
                  r.reported_latency_ms, buildtrace.bt_sketch_count(r.processing_ms))
    FROM buildtrace.hourly_rollups r WHERE r.drawing_id LIKE prefix || '%'
    UNION ALL
    SELECT format('state %s total %s last #%s', substr(s.drawing_id, length(prefix) + 1),
                  s.last_total, (SELECT p.n FROM p WHERE p.pair_id = s.last_pair_id))
    FROM buildtrace.drawing_state s WHERE s.drawing_id LIKE prefix || '%'
    ORDER BY 1
$$;

SELECT results_eq($$SELECT * FROM pg_temp.stored('one-')$$, $$SELECT * FROM pg_temp.stored('set-')$$,
                  'one pair per INSERT stores what multi-row INSERTs store');

-- And what they store is the pipeline's rules at work.
SELECT results_eq($$SELECT a.kind, a.severity, substr(a.drawing_id, 5), a.resolved_at IS NOT NULL,
                          (a.details ->> 'previous_changes')::int, (a.details ->> 'changes')::int
                   FROM buildtrace.anomalies a WHERE a.drawing_id LIKE 'one-%' ORDER BY a.pair_id$$,
                  $$VALUES ('invalid_input', 'high', 'b', true, NULL::int, NULL::int),
                           ('change_spike', 'medium', 'a', false, 5, 50),
                           ('change_spike', 'high', 'c', false, 1, 20)$$,
                  'spikes by the rule, the retried pair''s anomaly resolved');
SELECT results_eq($$SELECT substr(s.drawing_id, 5), s.last_total FROM buildtrace.drawing_state s
                   WHERE s.drawing_id LIKE 'one-%' ORDER BY 1$$,
                  $$VALUES ('a', 10), ('b', 2), ('c', 20)$$,
                  'each drawing''s state is its last done pair''s total');
SELECT results_eq($$SELECT substr(r.drawing_id, 5), r.pairs, r.failed, r.added, r.moved,
                          buildtrace.bt_sketch_count(r.processing_ms),
                          buildtrace.bt_sketch_count(r.reported_latency_ms)
                   FROM buildtrace.hourly_rollups r WHERE r.drawing_id LIKE 'one-%' ORDER BY 1$$,
                  $$VALUES ('a', 3::bigint, 0::bigint, 55::bigint, 10::bigint, 3::bigint, 2::bigint),
                           ('b', 1, 1, 2, 0, 1, 1),
                           ('c', 2, 0, 21, 0, 2, 2)$$,
                  'rollups add up every pair of the hour');

-- A one-pair INSERT naming another tenant's drawing is refused like a
-- multi-row one.
INSERT INTO buildtrace.drawing_state (drawing_id, tenant) VALUES ('one-foreign', 'someone else');
SELECT throws_like($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
                     VALUES ('one-foreign', '[]', '[]')$$,
                   'drawing "one-foreign" belongs to another tenant',
                   'a one-pair INSERT into another tenant''s drawing is refused');
SELECT throws_like($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
                     VALUES ('one-foreign', '[]', '[]'), ('one-a', '[]', '[]')$$,
                   'drawing "one-foreign" belongs to another tenant',
                   'and so is a multi-row one');

SELECT * FROM finish();
ROLLBACK;
