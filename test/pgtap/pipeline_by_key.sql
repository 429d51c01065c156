-- What an INSERT into pairs costs must not grow with what is stored: both
-- store functions read drawing_state and anomalies by key, never by
-- scanning them (a set-wise statement planned for thousands of rows
-- hash-joined all of drawing_state on every INSERT). Checked with the
-- transaction's counters of rows read, among 20,000 stored drawings and
-- 5,000 open anomalies: a handful, not thousands.
BEGIN;
SELECT plan(4);

INSERT INTO buildtrace.drawing_state (drawing_id, last_total)
SELECT 'bk-stored-' || i, i % 50 FROM generate_series(1, 20000) i;
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details)
SELECT 'missing_upload', 'medium', 'bk-stored-' || i, '{}' FROM generate_series(1, 5000) i;
ANALYZE buildtrace.drawing_state, buildtrace.anomalies;

\ir include/rows_read.psql

-- One pair per INSERT: a new drawing, the same drawing again, a failed
-- pair and its retry.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('bk-a', '[]', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('bk-a', '[]', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('bk-b', '[]', '7');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
SELECT 'bk-b', '[]', '[]', p.pair_id FROM buildtrace.pairs p WHERE p.drawing_id = 'bk-b';
SELECT is((SELECT count(*) FROM buildtrace.anomalies WHERE drawing_id = 'bk-b' AND resolved_at IS NOT NULL),
          1::bigint, 'the retried pair''s anomaly is resolved');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('drawing_state', 'anomalies') AND n >= 100$$,
                'one-pair INSERTs read a handful of rows of drawing_state and anomalies');

-- Several pairs per INSERT, a retry among them.
SELECT pg_temp.rows_read_mark();
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('bk-c', '[]', '7'), ('bk-d', '[]', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
SELECT 'bk-c', '[]'::jsonb, '[]'::jsonb, p.pair_id FROM buildtrace.pairs p WHERE p.drawing_id = 'bk-c'
UNION ALL SELECT 'bk-a', '[]', '[]', NULL;
SELECT is((SELECT count(*) FROM buildtrace.anomalies WHERE drawing_id = 'bk-c' AND resolved_at IS NOT NULL),
          1::bigint, 'the retried pair''s anomaly is resolved');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('drawing_state', 'anomalies') AND n >= 100$$,
                'multi-row INSERTs read a handful of rows of drawing_state and anomalies');

SELECT * FROM finish();
ROLLBACK;
