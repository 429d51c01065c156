-- Shape of the pipeline: tables, keys, constraints, triggers, function
-- properties.
BEGIN;
SELECT plan(52);

SELECT has_table('buildtrace', t, 'table buildtrace.' || t)
FROM unnest(ARRAY['pairs', 'versions', 'changes', 'anomalies', 'drawing_state']) t;
SELECT has_view('buildtrace', v, 'view buildtrace.' || v)
FROM unnest(ARRAY['hourly_changes', 'dead_letters', 'open_anomalies']) v;

SELECT col_is_pk('buildtrace', 'pairs', 'pair_id', 'pairs keyed by pair_id');
SELECT col_is_pk('buildtrace', 'changes', 'pair_id', 'one changes row per pair');
SELECT fk_ok('buildtrace', 'changes', 'pair_id', 'buildtrace', 'pairs', 'pair_id');
SELECT col_not_null('buildtrace', 'pairs', c, 'pairs.' || c || ' is NOT NULL')
FROM unnest(ARRAY['drawing_id', 'version_a', 'version_b', 'status', 'submitted_at']) c;
SELECT has_index('buildtrace', 'versions', 'versions_drawing_upload_idx',
                 ARRAY['drawing_id', 'uploaded_at', 'version_id'], 'predecessor lookup index');
SELECT has_index('buildtrace', 'changes', 'changes_drawing_idx',
                 ARRAY['drawing_id', 'computed_at', 'pair_id'], 'latest change set index');

-- pairs: a BEFORE ROW trigger diffs, an AFTER ROW trigger marks the rows
-- really inserted, a statement trigger stores the results, and the same
-- three on work()'s UPDATE of status; versions: a statement trigger with a
-- transition table.
SELECT has_trigger('buildtrace', 'pairs', t, 'pairs has trigger ' || t)
FROM unnest(ARRAY['pairs_diff', 'pairs_inserted', 'pairs_process']) t;
SELECT has_trigger('buildtrace', 'versions', 'versions_pair', 'versions has trigger versions_pair');
SELECT results_eq($$SELECT tgname::text COLLATE "default", tgtype & 1 = 1 AS per_row, tgtype & 2 = 2 AS before,
                           tgnewtable IS NOT NULL AS new_table
                    FROM pg_trigger
                    WHERE tgrelid IN ('buildtrace.pairs'::regclass, 'buildtrace.versions'::regclass)
                      AND NOT tgisinternal ORDER BY tgname$$,
                  $$VALUES ('pairs_diff', true, true, false), ('pairs_inserted', true, false, false),
                           ('pairs_process', false, false, false), ('pairs_work_diff', true, true, false),
                           ('pairs_work_processed', true, false, false), ('pairs_work_store', false, false, false),
                           ('versions_pair', false, false, true)$$,
                  'trigger timing, level and transition tables');

-- SECURITY DEFINER exactly where a comment says why.
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
                JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'buildtrace'
                WHERE p.prosecdef ORDER BY p.proname::text COLLATE "C"),
          ARRAY['_claim_drawings', '_cron_jobs', '_cron_runs', '_pairs_store_one', '_pairs_store_results',
                '_versions_after_insert', 'prometheus_samples'],
          'the only SECURITY DEFINER functions are the triggers'' (stores, a deferred pair''s claim), pg_cron''s jobs and runs and the samples of every tenant');
SELECT volatility_is('buildtrace', 'process', ARRAY['jsonb'], 'volatile');
SELECT volatility_is('buildtrace', 'changes', ARRAY['text'], 'stable');
SELECT volatility_is('buildtrace', 'report', ARRAY['text', 'integer'], 'stable');
SELECT function_returns('buildtrace', 'process', ARRAY['jsonb'], 'jsonb');
SELECT function_returns('buildtrace', 'report', ARRAY['text', 'integer'], 'text');

-- Every anomaly kind other issues need is accepted; an unknown one is not.
SELECT lives_ok($$INSERT INTO buildtrace.anomalies (kind, severity)
                  SELECT k, 'low' FROM unnest(ARRAY['change_spike', 'invalid_input', 'missing_upload',
                      'delayed_upload', 'stale_pending', 'volume_spike', 'processing_failed']) k$$,
                 'all anomaly kinds accepted');
SELECT throws_ok($$INSERT INTO buildtrace.anomalies (kind, severity) VALUES ('gremlins', 'low')$$,
                 '23514', NULL, 'unknown anomaly kind refused');
-- The pipeline sets status itself (see pipeline_handover.sql); the CHECK
-- still guards every other writer.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('s', '[]', '[]');
SELECT throws_ok($$UPDATE buildtrace.pairs SET status = 'lost' WHERE drawing_id = 's'$$,
                 '23514', NULL, 'unknown status refused');

-- The other CHECKs guard every writer too, the owner's UPDATEs included.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
VALUES ('s-ok', '[]', '[]', 1), ('s-bad', '[]', '7', 1);
SELECT throws_ok($$UPDATE buildtrace.pairs SET error = NULL WHERE drawing_id = 's-bad'$$,
                 '23514', NULL, 'a failed pair keeps its error');
SELECT throws_ok($$UPDATE buildtrace.pairs SET error = '[]' WHERE drawing_id = 's-ok'$$,
                 '23514', NULL, 'a pair that did not fail has no error');
SELECT throws_ok($$UPDATE buildtrace.pairs SET processed_at = NULL WHERE drawing_id = 's-ok'$$,
                 '23514', NULL, 'a processed pair keeps its processed_at');
SELECT throws_ok($$UPDATE buildtrace.pairs SET latency_ms = 'Infinity' WHERE drawing_id = 's-ok'$$,
                 '23514', NULL, 'a done pair''s latency is finite');
SELECT throws_ok($$UPDATE buildtrace.pairs SET attempts = -1 WHERE drawing_id = 's-ok'$$,
                 '23514', NULL, 'a pair''s attempts are never negative');
SELECT throws_ok($$UPDATE buildtrace.anomalies SET resolved_at = detected_at - interval '1 second'
                   WHERE drawing_id = 's-bad'$$,
                 '23514', NULL, 'an anomaly is not resolved before it was detected');
SELECT throws_ok($$INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('', '[]')$$,
                 '23514', NULL, 'a version''s drawing id is not empty');
CREATE FUNCTION pg_temp.negative_count(col text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE buildtrace.changes SET %I = -1 WHERE drawing_id = %L', col, 's-ok');
    RETURN col || ' accepted';
EXCEPTION WHEN check_violation THEN
    RETURN col || ' refused';
END $$;
SELECT is(ARRAY(SELECT pg_temp.negative_count(c) FROM unnest(ARRAY['added', 'removed', 'moved', 'resized', 'retyped',
              'modified', 'unchanged', 'processing_us', 'rotated', 'reidentified', 'shifted']) c),
          ARRAY['added refused', 'removed refused', 'moved refused', 'resized refused', 'retyped refused',
                'modified refused', 'unchanged refused', 'processing_us refused', 'rotated refused',
                'reidentified refused', 'shifted refused'],
          'no count of a change set, nor its processing time, is negative');

-- Deletes (the owner's, or purge's): a pair's change set and anomalies go
-- with it; a retry outlives the pair it retried, and a pair the versions
-- it was made from, with the reference NULL and the rest of the row kept.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
SELECT 's-bad', '[]', '[]', pair_id FROM buildtrace.pairs WHERE drawing_id = 's-bad';
DELETE FROM buildtrace.pairs WHERE drawing_id IN ('s-ok', 's-bad') AND retry_of IS NULL;
SELECT results_eq($$SELECT drawing_id, retry_of, status FROM buildtrace.pairs WHERE drawing_id IN ('s-ok', 's-bad')$$,
                  $$VALUES ('s-bad'::text, NULL::bigint, 'done'::text)$$,
                  'a deleted pair''s retry stays, with retry_of NULL');
SELECT is((SELECT count(*) FROM buildtrace.anomalies WHERE drawing_id = 's-bad'), 0::bigint,
          'a deleted pair''s anomalies go with it');
SELECT is((SELECT count(*) FROM buildtrace.changes WHERE drawing_id = 's-ok'), 0::bigint,
          'a deleted pair''s change set goes with it');
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('s-v', '[]'), ('s-v', '[]');
DELETE FROM buildtrace.versions
WHERE version_id = (SELECT from_version FROM buildtrace.pairs WHERE drawing_id = 's-v');
SELECT results_eq($$SELECT drawing_id, from_version IS NULL, to_version IS NULL, status FROM buildtrace.pairs
                    WHERE drawing_id = 's-v'$$,
                  $$VALUES ('s-v'::text, true, false, 'done'::text)$$,
                  'deleting a pair''s first version leaves the pair, with from_version NULL');
DELETE FROM buildtrace.versions WHERE drawing_id = 's-v';
SELECT results_eq($$SELECT drawing_id, from_version IS NULL, to_version IS NULL FROM buildtrace.pairs
                    WHERE drawing_id = 's-v'$$,
                  $$VALUES ('s-v'::text, true, true)$$,
                  'and deleting its second leaves it with to_version NULL');

-- A COPY-sized statement: 2,000 pairs in one INSERT, all processed, with one
-- change set each and the invalid tenth of them failed.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'tap-' || (i % 7), '[]',
       CASE WHEN i % 10 = 0 THEN '[{"id":"A","x":"?"}]'::jsonb
            ELSE jsonb_build_array(jsonb_build_object('id', 'A', 'type', 'wall', 'x', i, 'y', 0,
                                                      'width', 1, 'height', 1)) END
FROM generate_series(1, 2000) i;
SELECT results_eq($$SELECT status, count(*) FROM buildtrace.pairs WHERE drawing_id LIKE 'tap-%'
                    GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('done', 1800::bigint), ('failed', 200::bigint)$$, '2,000 pairs processed in one statement');
SELECT is((SELECT count(*) FROM buildtrace.changes WHERE drawing_id LIKE 'tap-%'), 1800::bigint,
          'one changes row per done pair');
SELECT is((SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'invalid_input' AND drawing_id LIKE 'tap-%'),
          200::bigint, 'one invalid_input anomaly per failed pair');

-- A failed pair is retried at most once (a partial unique index: the many
-- pairs with retry_of NULL above did not collide).
SELECT lives_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
                  SELECT drawing_id, '[]', '[]', pair_id FROM buildtrace.pairs
                  WHERE drawing_id LIKE 'tap-%' AND status = 'failed' ORDER BY pair_id LIMIT 1$$,
                'a failed pair can be retried');
SELECT throws_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
                   SELECT drawing_id, '[]', '[]', pair_id FROM buildtrace.pairs
                   WHERE drawing_id LIKE 'tap-%' AND status = 'failed' ORDER BY pair_id LIMIT 1$$,
                 '23505', 'duplicate key value violates unique constraint "pairs_retry_of_key"',
                 'a second retry of the same pair is refused');

-- Drawings and diffs are stored with lz4 where the server has it (it does
-- on Debian), pglz elsewhere.
CREATE FUNCTION pg_temp.has_lz4() RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (SELECT 1 FROM pg_settings
                   WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))
$$;
SELECT results_eq($$SELECT format('%s.%s', c.relname, a.attname) COLLATE "default", a.attcompression::text
                    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                    WHERE c.relnamespace = 'buildtrace'::regnamespace
                      AND (c.relname, a.attname) IN (('versions', 'payload'), ('pairs', 'version_a'),
                                                     ('pairs', 'version_b'), ('changes', 'diff'))
                    ORDER BY 1$$,
                  format($$VALUES ('changes.diff', %1$L), ('pairs.version_a', %1$L),
                                  ('pairs.version_b', %1$L), ('versions.payload', %1$L)$$,
                         CASE WHEN pg_temp.has_lz4() THEN 'l' ELSE '' END),
                  'versions, pairs and diffs are set to lz4 compression where the server has it');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'tap-lz4', v::text::jsonb, v::text::jsonb
FROM (SELECT jsonb_agg(jsonb_build_object('id', 'O' || i, 'type', 'wall', 'x', i, 'y', 0,
                                          'width', 1, 'height', 1)) AS v
      FROM generate_series(1, 500) i) s;
SELECT results_eq($$SELECT pg_column_compression(version_a), pg_column_compression(version_b)
                    FROM buildtrace.pairs WHERE drawing_id = 'tap-lz4'$$,
                  format($$VALUES (%1$L, %1$L)$$, CASE WHEN pg_temp.has_lz4() THEN 'lz4' ELSE 'pglz' END),
                  'a pair sent as JSON text is stored with that compression');

SELECT * FROM finish();
ROLLBACK;
