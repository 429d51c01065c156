-- The pairs triggers hand results from the BEFORE ROW trigger (diff, status)
-- to the statement trigger (changes, anomalies) through a per-transaction
-- table (src/pipeline.c). Rows that are not inserted after all, aborted
-- subtransactions and nested statements must neither lose a result nor
-- give one to the wrong row.
BEGIN;
SELECT plan(35);

CREATE FUNCTION pg_temp.valid(x int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_array(jsonb_build_object('id', 'W', 'type', 'wall', 'x', x, 'y', 0,
                                                'width', 1, 'height', 1))
$$;

-- A status the inserter writes is replaced by the pipeline's.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, status, error)
VALUES ('ho-status', pg_temp.valid(0), pg_temp.valid(5), 'failed', '["forged"]');
SELECT results_eq($$SELECT status, error IS NULL, processed_at IS NOT NULL FROM buildtrace.pairs
                    WHERE drawing_id = 'ho-status'$$,
                  $$VALUES ('done', true, true)$$, 'the pipeline sets status, error and processed_at');
SELECT is((SELECT moved FROM buildtrace.changes WHERE drawing_id = 'ho-status'), 1,
          'and stores the change set of that row');
-- Deferred, the pair is stored pending whatever its inserter wrote, and
-- work() processes it.
SET LOCAL buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, status, processed_at, error)
VALUES ('ho-status-deferred', pg_temp.valid(0), pg_temp.valid(5), 'done', now(), NULL),
       ('ho-status-deferred', pg_temp.valid(5), '"bad"', 'failed', now(), '[]');
SELECT results_eq($$SELECT status, error IS NULL, processed_at IS NULL FROM buildtrace.pairs
                    WHERE drawing_id = 'ho-status-deferred' ORDER BY pair_id$$,
                  $$VALUES ('pending', true, true), ('pending', true, true)$$,
                  'deferred, a status the inserter writes is replaced by pending');
RESET buildtrace.processing;
-- work()'s processing step (it commits, so it is not called here)
UPDATE buildtrace.pairs SET status = 'done' WHERE drawing_id = 'ho-status-deferred' AND status = 'pending';
SELECT results_eq($$SELECT p.status, c.moved, jsonb_array_length(p.error)
                    FROM buildtrace.pairs p LEFT JOIN buildtrace.changes c USING (pair_id)
                    WHERE p.drawing_id = 'ho-status-deferred' ORDER BY p.pair_id$$,
                  $$VALUES ('done', 1, NULL::int), ('failed', NULL, 1)$$,
                  'and processing it diffs it: its change set, or its problem');

-- ON CONFLICT DO NOTHING skips a row after the BEFORE trigger diffed it:
-- the skipped row leaves no changes, the inserted one gets its own.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('ho-retry', '[]', '7');
SELECT is((SELECT count(*) FROM buildtrace.retry_failed(drawing => 'ho-retry')), 1::bigint,
          'a failed pair is retried once');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
SELECT 'ho-retry', pg_temp.valid(0), pg_temp.valid(9), p.pair_id
FROM buildtrace.pairs p WHERE p.drawing_id = 'ho-retry' AND p.retry_of IS NULL
ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING;
SELECT is((SELECT count(*) FROM buildtrace.pairs WHERE drawing_id = 'ho-retry'), 2::bigint,
          'the conflicting second retry is skipped');
-- Its handover goes at the statement's end, not at commit: a transaction
-- of many such statements would hold each one's memory and files.
SELECT is((SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'buildtrace handover'),
          0::bigint, 'a statement whose rows were all skipped frees its handover');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('ho-after', pg_temp.valid(0), pg_temp.valid(3));
SELECT results_eq($$SELECT p.drawing_id, c.moved FROM buildtrace.pairs p
                    LEFT JOIN buildtrace.changes c USING (pair_id)
                    WHERE p.drawing_id IN ('ho-retry', 'ho-after') AND p.status = 'done'$$,
                  $$VALUES ('ho-after'::text, 1)$$,
                  'the skipped row''s result goes to no later statement');

-- A BEFORE trigger of the user's that sorts after pairs_diff and skips rows.
CREATE FUNCTION pg_temp.skip_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE WHEN NEW.drawing_id = 'ho-skip' THEN NULL ELSE NEW END;
END $$;
CREATE TRIGGER pairs_zz_skip BEFORE INSERT ON buildtrace.pairs
    FOR EACH ROW EXECUTE FUNCTION pg_temp.skip_row();
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('ho-skip', pg_temp.valid(0), pg_temp.valid(4)), ('ho-kept', pg_temp.valid(0), pg_temp.valid(4));
SELECT results_eq($$SELECT p.drawing_id, c.moved FROM buildtrace.pairs p
                    JOIN buildtrace.changes c USING (pair_id)
                    WHERE p.drawing_id IN ('ho-skip', 'ho-kept')$$,
                  $$VALUES ('ho-kept'::text, 1)$$, 'a row skipped by a later trigger gets nothing');
DROP TRIGGER pairs_zz_skip ON buildtrace.pairs;

-- A statement that fails after some of its rows were diffed and marked
-- (here the second row's foreign key): under a savepoint, its results go
-- with it, and the next statement stores only its own.
SAVEPOINT before_bad;
SELECT throws_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, from_version)
                   VALUES ('ho-bad', pg_temp.valid(0), pg_temp.valid(2), NULL),
                          ('ho-bad', pg_temp.valid(0), pg_temp.valid(2), -1)$$,
                 '23503', NULL, 'a foreign key violation fails the statement');
ROLLBACK TO SAVEPOINT before_bad;
SELECT lives_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
                  VALUES ('ho-good', pg_temp.valid(0), pg_temp.valid(6))$$,
                'the next statement runs');
SELECT results_eq($$SELECT p.drawing_id, count(c.pair_id) FROM buildtrace.pairs p
                    LEFT JOIN buildtrace.changes c USING (pair_id)
                    WHERE p.drawing_id IN ('ho-bad', 'ho-good') GROUP BY 1$$,
                  $$VALUES ('ho-good'::text, 1::bigint)$$, 'and stores its own result only');

-- A query of two INSERTs whose second skips its only row leaves that
-- INSERT's handover until commit. The trigger array it was found by is freed
-- with the query, and a later query's may take its address: that query
-- must not take the left-over handover (its store refused under a
-- savepoint, it would then store nothing, and skip the tenant check, for
-- every later statement at that address).
CREATE TEMP TABLE ho_rounds (refused int, stored int);
INSERT INTO buildtrace.drawing_state (drawing_id, tenant) VALUES ('ho-theirs', 'ho-other');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('ho-leftover', '[]', '7');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
SELECT 'ho-leftover', pg_temp.valid(0), pg_temp.valid(1), min(pair_id)
FROM buildtrace.pairs WHERE drawing_id = 'ho-leftover';
DO $$
DECLARE
    q text := $q$WITH a AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
                            VALUES ('ho-around', pg_temp.valid(0), pg_temp.valid(1)))
                 INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
                 VALUES ($1, pg_temp.valid(0), pg_temp.valid(1), $2)
                 ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING$q$;
    failed bigint := (SELECT min(pair_id) FROM buildtrace.pairs WHERE drawing_id = 'ho-leftover');
    refused int := 0;
BEGIN
    FOR i IN 1..12 LOOP
        EXECUTE q USING 'ho-leftover', failed;
        BEGIN
            EXECUTE q USING 'ho-theirs', NULL::bigint;
        EXCEPTION WHEN insufficient_privilege THEN
            refused := refused + 1;
        END;
        EXECUTE q USING 'ho-victim-' || i, NULL::bigint;
    END LOOP;
    INSERT INTO ho_rounds
    SELECT refused, count(*) FROM buildtrace.changes WHERE drawing_id LIKE 'ho-victim-%';
END
$$;
SELECT is((SELECT refused FROM ho_rounds), 12,
          'another tenant''s drawing is refused in every round after a left-over handover');
SELECT is((SELECT stored FROM ho_rounds), 12, 'and every round''s pair gets its change set');

-- A trigger of the user's that adds a trigger to pairs in mid-statement:
-- the statement's copy of the triggers no longer matches the table's, which
-- the hand-over must survive (it once read memory by a position taken from
-- the table's list, and crashed the server).
CREATE FUNCTION pg_temp.add_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'a_added') THEN
        EXECUTE 'CREATE TRIGGER a_added BEFORE INSERT ON buildtrace.pairs
                 FOR EACH ROW EXECUTE FUNCTION pg_temp.skip_none()';
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION pg_temp.skip_none() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER a_adds BEFORE INSERT ON buildtrace.pairs FOR EACH ROW EXECUTE FUNCTION pg_temp.add_trigger();
SELECT lives_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
                  VALUES ('ho-ddl', pg_temp.valid(0), pg_temp.valid(3)), ('ho-ddl', pg_temp.valid(3), pg_temp.valid(5))$$,
                'a statement whose row adds a trigger to pairs runs');
SELECT is((SELECT count(*) FROM buildtrace.changes WHERE drawing_id = 'ho-ddl'), 2::bigint,
          'and stores both rows'' change sets');
DROP TRIGGER a_adds ON buildtrace.pairs;
DROP TRIGGER a_added ON buildtrace.pairs;

-- The same inside a PL/pgSQL exception block (a subtransaction).
DO $$
BEGIN
    BEGIN
        INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, from_version)
        VALUES ('ho-sub', '[]', '[]', NULL), ('ho-sub', '[]', '[]', -1);
    EXCEPTION WHEN foreign_key_violation THEN
        NULL;
    END;
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('ho-sub2', '[]', '[]');
END $$;
SELECT results_eq($$SELECT drawing_id, count(*) FROM buildtrace.changes
                    WHERE drawing_id LIKE 'ho-sub%' GROUP BY 1$$,
                  $$VALUES ('ho-sub2'::text, 1::bigint)$$, 'an exception block drops its results');

-- Nested: versions' statement trigger inserts pairs inside the versions
-- statement; each pairs statement stores exactly its own rows.
INSERT INTO buildtrace.versions (drawing_id, payload)
VALUES ('ho-nest', pg_temp.valid(0)), ('ho-nest', pg_temp.valid(1)), ('ho-nest', pg_temp.valid(2));
SELECT results_eq($$SELECT count(*), sum(c.moved) FROM buildtrace.pairs p
                    JOIN buildtrace.changes c USING (pair_id) WHERE p.drawing_id = 'ho-nest'$$,
                  $$VALUES (2::bigint, 2::bigint)$$, 'pairs made by the versions trigger are stored');

-- One query that inserts into pairs twice (data-modifying WITH clauses):
-- the row and statement triggers of both fire at the end of the query, and
-- each statement stores its own rows, whichever began last.
WITH a AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
           VALUES ('ho-with-1', pg_temp.valid(0), pg_temp.valid(2))),
     b AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
           VALUES ('ho-with-2', '[]', '"not a drawing"'))
SELECT 1;
SELECT results_eq($$SELECT p.drawing_id, p.status, c.moved, a.kind FROM buildtrace.pairs p
                    LEFT JOIN buildtrace.changes c USING (pair_id)
                    LEFT JOIN buildtrace.anomalies a USING (pair_id)
                    WHERE p.drawing_id IN ('ho-with-1', 'ho-with-2') ORDER BY 1$$,
                  $$VALUES ('ho-with-1'::text, 'done'::text, 1, NULL::text),
                           ('ho-with-2', 'failed', NULL, 'invalid_input')$$,
                  'two INSERTs of one query each store their own result');
-- The outer INSERT reads the rows the inner one returns, so the two
-- statements' rows alternate.
WITH a AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
           VALUES ('ho-with-3', pg_temp.valid(0), pg_temp.valid(1)),
                  ('ho-with-3', pg_temp.valid(1), pg_temp.valid(2))
           RETURNING version_b)
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'ho-with-4', a.version_b, pg_temp.valid(9) FROM a;
SELECT results_eq($$SELECT d, (SELECT count(*) FROM buildtrace.changes c WHERE c.drawing_id = d),
                           (SELECT sum(h.pairs) FROM buildtrace.hourly_rollups h WHERE h.drawing_id = d)::bigint
                    FROM (VALUES ('ho-with-3'), ('ho-with-4')) v(d) ORDER BY 1$$,
                  $$VALUES ('ho-with-3'::text, 2::bigint, 2::bigint), ('ho-with-4', 2, 2)$$,
                  'rows of two INSERTs in alternation each reach their change set and rollup');

-- Versions that INSERT ... SELECT reads from another table's TOAST storage
-- are fetched once, by the row trigger, and stored as fetched. The stored
-- pairs must hold exactly those versions, whether the source kept them
-- compressed (a) or not (b, STORAGE EXTERNAL), and keep them when the
-- source's storage is gone.
CREATE FUNCTION pg_temp.big(shifted int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_object('id', 'O' || i, 'type', 'wall',
                                        'x', i + CASE WHEN i <= shifted THEN 3 ELSE 0 END,
                                        'y', i % 17, 'width', 1, 'height', 1,
                                        'note', repeat(md5(i::text), 4)) ORDER BY i)
    FROM generate_series(1, 400) i
$$;
CREATE TEMP TABLE ho_src (k int, a jsonb, b jsonb);
ALTER TABLE ho_src ALTER COLUMN b SET STORAGE EXTERNAL;
INSERT INTO ho_src VALUES (1, pg_temp.big(0), pg_temp.big(5)),
                          (2, pg_temp.big(0), pg_temp.big(0) || '[{"id": "O7"}]');
SELECT ok((SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class WHERE oid = 'ho_src'::regclass),
          'the source versions are stored out of line');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'ho-toast-' || k, a, b FROM ho_src ORDER BY k;
SELECT results_eq($$SELECT p.drawing_id, p.status, p.version_a = s.a AND p.version_b = s.b, c.moved
                    FROM buildtrace.pairs p JOIN ho_src s ON p.drawing_id = 'ho-toast-' || s.k
                    LEFT JOIN buildtrace.changes c USING (pair_id) ORDER BY 1$$,
                  $$VALUES ('ho-toast-1'::text, 'done'::text, true, 5), ('ho-toast-2', 'failed', true, NULL)$$,
                  'out-of-line versions are diffed and stored unchanged');
SELECT ok((SELECT error @> '[{"index": 400, "id": "O7", "key": "x"}]' FROM buildtrace.pairs
           WHERE drawing_id = 'ho-toast-2'),
          'an invalid out-of-line version is flagged where it is wrong');
TRUNCATE ho_src;
SELECT results_eq($$SELECT drawing_id, version_a = pg_temp.big(0), version_b = pg_temp.big(5)
                    FROM buildtrace.pairs WHERE drawing_id = 'ho-toast-1'$$,
                  $$VALUES ('ho-toast-1'::text, true, true)$$,
                  'the stored versions outlive the source''s storage');

-- retry_failed() retries each tenant's dead letters in one statement, or,
-- if that fails, one at a time under savepoints. A retry that a trigger of
-- the user's refuses: with an ordinary error the call goes on without it;
-- with an error of a passing condition (resources, system, serialization,
-- locks, shutdown) the whole call fails, so that calling it again retries
-- everything.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('ho-rt-a', '[]', '7'), ('ho-rt-raise', '[]', '7'), ('ho-rt-b', '[]', '7'), ('ho-rt-c', '[]', '7');
CREATE TEMP TABLE ho_rt AS
SELECT drawing_id, pair_id FROM buildtrace.pairs WHERE drawing_id LIKE 'ho-rt-%';
CREATE FUNCTION pg_temp.refuse_retry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.drawing_id = 'ho-rt-raise' AND NEW.retry_of IS NOT NULL THEN
        RAISE EXCEPTION 'retry refused by the test' USING ERRCODE = current_setting('ho.sqlstate');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pairs_zz_refuse BEFORE INSERT ON buildtrace.pairs
    FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_retry();
CREATE FUNCTION pg_temp.retry_error(code text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('ho.sqlstate', code, true);
    PERFORM buildtrace.retry_failed(drawing => 'ho-rt-raise');
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT is(ARRAY(SELECT pg_temp.retry_error(c)
                FROM unnest(ARRAY['53200', '58030', '40001', '40P01', '55P03', '57P01']) c),
          ARRAY['53200', '58030', '40001', '40P01', '55P03', '57P01'],
          'an error of a passing condition ends retry_failed() with that error');
SELECT ok(NOT EXISTS (SELECT 1 FROM buildtrace.pairs
                      WHERE retry_of = (SELECT pair_id FROM ho_rt WHERE drawing_id = 'ho-rt-raise')),
          'and leaves the dead letter to be retried again');
-- An ordinary error: the dead letter in the middle is refused, the ones
-- before and after it are retried, and the rows come in dead letter order.
SET LOCAL ho.sqlstate = 'P0001';
SET LOCAL client_min_messages = error;
SELECT results_eq($$SELECT p.drawing_id, r.retry_pair_id IS NOT NULL, r.status
                    FROM buildtrace.retry_failed((SELECT array_agg(pair_id) FROM ho_rt
                                                  WHERE drawing_id IN ('ho-rt-a', 'ho-rt-raise', 'ho-rt-b')))
                         WITH ORDINALITY r(failed_pair_id, retry_pair_id, status, n)
                    JOIN buildtrace.pairs p ON p.pair_id = r.failed_pair_id ORDER BY r.n$$,
                  $$VALUES ('ho-rt-a'::text, true, 'failed'::text), ('ho-rt-raise', false, 'refused'),
                           ('ho-rt-b', true, 'failed')$$,
                  'an ordinary error refuses that dead letter alone, and every other one is retried and reported');
RESET client_min_messages;
DROP TRIGGER pairs_zz_refuse ON buildtrace.pairs;
-- A dead letter that a concurrent call retried after this one listed it
-- is skipped (as _retry_dead_letters sees it here, called directly); so is
-- a pair that did not fail.
SELECT is(buildtrace._retry_dead_letters(ARRAY(SELECT pair_id FROM ho_rt WHERE drawing_id = 'ho-rt-a')),
          '{}'::bigint[], 'a dead letter retried meanwhile is skipped');
SELECT is(buildtrace._retry_dead_letters(ARRAY(SELECT pair_id FROM buildtrace.pairs
                                               WHERE drawing_id = 'ho-good')),
          '{}'::bigint[], 'a pair that did not fail is not retried');
-- By drawing: that drawing's dead letters only.
SELECT results_eq($$SELECT p.drawing_id FROM buildtrace.retry_failed(drawing => 'ho-rt-c') r
                    JOIN buildtrace.pairs p ON p.pair_id = r.failed_pair_id$$,
                  $$VALUES ('ho-rt-c'::text)$$, 'retry_failed(drawing) retries that drawing''s dead letters only');

-- A row's SELECT runs a query of two INSERTs whose second skips its row,
-- given the pair_id the outer statement has just inserted: the skipped
-- row's result is left over in its handover, and must not be taken for the
-- outer row of that pair_id when the outer statement marks its rows.
CREATE FUNCTION pg_temp.skipped_inside(id bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    WITH a AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
               VALUES ('ho-inside', pg_temp.valid(0), pg_temp.valid(1)))
    INSERT INTO buildtrace.pairs (pair_id, drawing_id, version_a, version_b) OVERRIDING SYSTEM VALUE
    VALUES (id, 'ho-outside', pg_temp.valid(0), '[]')
    ON CONFLICT (pair_id) DO NOTHING;
    RETURN pg_temp.valid(0);
END $$;
INSERT INTO buildtrace.pairs (pair_id, drawing_id, version_a, version_b) OVERRIDING SYSTEM VALUE
SELECT v.id, 'ho-outside', pg_temp.valid(0),
       CASE WHEN v.n = 1 THEN pg_temp.valid(3) ELSE pg_temp.skipped_inside(900000001) END
FROM (VALUES (1, 900000001), (2, 900000002)) v(n, id) ORDER BY v.n;
SELECT results_eq($$SELECT pair_id, moved, removed FROM buildtrace.changes
                    WHERE drawing_id = 'ho-outside' ORDER BY 1$$,
                  $$VALUES (900000001::bigint, 1, 0), (900000002, 0, 0)$$,
                  'a left-over handover of a nested query gives no result to the outer rows');

-- A subtransaction that ends in error inside a store (an exception block
-- in a trigger on changes) while an outer pairs statement is under way:
-- the outer statement's results must survive it.
CREATE FUNCTION pg_temp.catch_error() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_catch_error AFTER INSERT ON buildtrace.changes
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.catch_error();
CREATE FUNCTION pg_temp.pairs_inside() RETURNS jsonb LANGUAGE sql AS $$
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
    VALUES ('ho-catch-inside', pg_temp.valid(0), pg_temp.valid(1)),
           ('ho-catch-inside', pg_temp.valid(1), pg_temp.valid(2));
    SELECT pg_temp.valid(0);
$$;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'ho-catch', pg_temp.valid(0), CASE WHEN n = 1 THEN pg_temp.valid(4) ELSE pg_temp.pairs_inside() END
FROM generate_series(1, 2) n ORDER BY n;
DROP TRIGGER zz_catch_error ON buildtrace.changes;
SELECT results_eq($$SELECT drawing_id, count(*), sum(moved)::int FROM buildtrace.changes
                    WHERE drawing_id IN ('ho-catch', 'ho-catch-inside') GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('ho-catch'::text, 2::bigint, 1), ('ho-catch-inside', 2, 2)$$,
                  'an error caught inside a nested store costs the outer statement nothing');

-- Every pair of this test is done or failed, and every done pair has
-- exactly one change set: nothing was lost or given twice.
SELECT is((SELECT count(*) FROM buildtrace.pairs p
           WHERE p.drawing_id LIKE 'ho-%'
             AND (p.status = 'pending'
                  OR (p.status = 'done') <> EXISTS (SELECT 1 FROM buildtrace.changes c
                                                   WHERE c.pair_id = p.pair_id))), 0::bigint,
          'no pending pair, and a change set exactly for each done pair');
SELECT is((SELECT count(*) FROM buildtrace._pairs_take_results()), 0::bigint,
          'nothing marked is left behind');
SELECT results_eq($$SELECT p.pair_id FROM buildtrace.anomalies a JOIN buildtrace.pairs p USING (pair_id)
                    WHERE p.drawing_id LIKE 'ho-%' AND a.kind = 'invalid_input' ORDER BY 1$$,
                  $$SELECT pair_id FROM buildtrace.pairs WHERE drawing_id LIKE 'ho-%' AND status = 'failed'
                    ORDER BY 1$$,
                  'one invalid_input anomaly for each failed pair');

SELECT * FROM finish();
ROLLBACK;
