-- The pair pipeline: statement-level processing, bulk inserts, COPY with a
-- mix of valid and invalid pairs, reject mode, dead letters and retry.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

\i test/data/walls.sql

-- One statement, 1,200 pairs over 40 drawings: every pair is processed in
-- the statement, and the per-kind counts are the ones built in.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT 'bulk-' || (i % 40), 'bulk', pg_temp.walls(10), pg_temp.walls(10 + i % 3, i % 4), i
FROM generate_series(1, 1200) i;

SELECT status, count(*) FROM buildtrace.pairs GROUP BY status ORDER BY status;
SELECT count(*) AS changes_rows,
       sum(added) AS added, sum(moved) AS moved, sum(removed) AS removed,
       bool_and(total = added + moved) AS totals_add_up,
       bool_and(processing_us >= 0) AS timed,
       count(DISTINCT drawing_id) AS drawings
FROM buildtrace.changes;
-- expected: added = sum(i % 3) = 400 * (0+1+2) = 1200; moved = sum(i % 4) = 300 * 6 = 1800
SELECT count(*) AS pairs_without_changes
FROM buildtrace.pairs p WHERE NOT EXISTS (SELECT 1 FROM buildtrace.changes c WHERE c.pair_id = p.pair_id);
-- The drawing state holds the last processed pair of each drawing.
SELECT count(*) AS drawings, bool_and(s.last_pair_id = m.max_pair) AS last_pair_right
FROM buildtrace.drawing_state s
JOIN (SELECT drawing_id, max(pair_id) AS max_pair FROM buildtrace.pairs GROUP BY 1) m USING (drawing_id);
SELECT sum(pairs) AS pairs, sum(added) AS added, sum(moved) AS moved
FROM buildtrace.hourly_changes;

-- COPY: valid and invalid pairs in one statement. All rows are kept, the
-- invalid ones are failed with their problems and an invalid_input anomaly.
TRUNCATE buildtrace.pairs, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state RESTART IDENTITY CASCADE;
COPY buildtrace.pairs (drawing_id, job_id, version_a, version_b) FROM stdin WITH (FORMAT csv, QUOTE '''');
c1,copy,'[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]','[{"id":"A","type":"wall","x":3,"y":0,"width":1,"height":1}]'
c2,copy,'[{"id":"A","type":"wall","x":"left","y":0,"width":1,"height":1}]','[]'
c1,copy,'[]','[{"id":"B","type":"door","x":1,"y":1,"width":1,"height":2}]'
c3,copy,'42','[]'
c3,copy,'[]','[]'
\.
SELECT pair_id, drawing_id, status, jsonb_array_length(error) AS problems,
       error -> 0 ->> 'version' AS version, error -> 0 ->> 'sqlstate' AS sqlstate
FROM buildtrace.pairs ORDER BY pair_id;
SELECT pair_id, added, removed, moved FROM buildtrace.changes ORDER BY pair_id;
SELECT kind, severity, drawing_id, pair_id, details -> 'problems' -> 0 ->> 'version' AS version
FROM buildtrace.anomalies ORDER BY anomaly_id;
SELECT pair_id, drawing_id, problem_count, retry_of FROM buildtrace.dead_letters ORDER BY pair_id;
SELECT kind, pair_id FROM buildtrace.open_anomalies ORDER BY anomaly_id;

-- reject: the same invalid input now fails the statement with the problem's
-- SQLSTATE, message and where, and nothing of the statement is stored.
SET buildtrace.on_invalid = 'reject';
\set SHOW_CONTEXT never
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES
    ('r1', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]'),
    ('r2', '[]', '[{"id":"A","type":"wall","x":0,"y":"up","width":1,"height":1}]');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
\set SHOW_CONTEXT errors
SELECT count(*) AS r_pairs FROM buildtrace.pairs WHERE drawing_id LIKE 'r%';
-- Valid pairs still go through in reject mode.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('r1', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]');
SELECT drawing_id, status FROM buildtrace.pairs WHERE drawing_id LIKE 'r%';
RESET buildtrace.on_invalid;

-- Retry: dead letters are retried as new pairs pointing at the failed ones.
-- With unchanged data they fail again; the retry becomes the dead letter and
-- the old anomaly is resolved (history kept).
SELECT * FROM buildtrace.retry_failed(ARRAY[2]);
SELECT pair_id, retry_of, status FROM buildtrace.pairs WHERE pair_id = 2 OR retry_of = 2;
SELECT pair_id, retry_of FROM buildtrace.dead_letters ORDER BY pair_id;
SELECT kind, pair_id, resolved_at IS NOT NULL AS resolved FROM buildtrace.anomalies ORDER BY anomaly_id;
-- Retrying a pair that has been retried already does nothing.
SELECT * FROM buildtrace.retry_failed(ARRAY[2]);
-- Corrected data: a writer inserts the fixed pair with retry_of.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
VALUES ('c3', '[]', '[]', 4);
SELECT pair_id, retry_of, status FROM buildtrace.pairs WHERE retry_of = 4;
SELECT pair_id FROM buildtrace.dead_letters ORDER BY pair_id;
-- retry_failed() by drawing retries the latest dead letter of the chain.
SELECT * FROM buildtrace.retry_failed(drawing => 'c2');
SELECT pair_id, drawing_id, retry_of, status FROM buildtrace.pairs ORDER BY pair_id;
SELECT kind, pair_id, resolved_at IS NOT NULL AS resolved FROM buildtrace.anomalies ORDER BY anomaly_id;
SELECT pair_id, retry_of FROM buildtrace.dead_letters ORDER BY pair_id;

-- Users cannot fake a status: the trigger decides it.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, status, processed_at)
VALUES ('fake', '"x"', '[]', 'done', now());
SELECT status, error IS NOT NULL AS has_error FROM buildtrace.pairs WHERE drawing_id = 'fake';
-- Constraints.
\set VERBOSITY terse
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('', '[]', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('x', NULL, '[]');
INSERT INTO buildtrace.anomalies (kind, severity) VALUES ('weird', 'low');
INSERT INTO buildtrace.anomalies (kind, severity) VALUES ('volume_spike', 'urgent');
-- Ids of at most 2000 bytes: a longer one is a check violation that names
-- its column, not btree's index row error, however well it compresses.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES (repeat('d', 2001), '[]', '[]');
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b) VALUES ('x', repeat('j', 2001), '[]', '[]');
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES (repeat('é', 1001), '[]');
INSERT INTO buildtrace.versions (drawing_id, job_id, payload) VALUES ('x', repeat('j', 2001), '[]');
INSERT INTO buildtrace.upload_expectations (drawing_id, every) VALUES (repeat('d', 2001), '1 day');
\set VERBOSITY sqlstate
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT string_agg(md5(g::text), ''), '[]', '[]' FROM generate_series(1, 300) g;
\set VERBOSITY default
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b)
VALUES (repeat('d', 2000), repeat('j', 2000), '[]', '[]');
INSERT INTO buildtrace.versions (drawing_id, job_id, payload)
VALUES (repeat('v', 2000), repeat('j', 2000), '[]');
SELECT octet_length(drawing_id), octet_length(job_id), status FROM buildtrace.pairs
WHERE drawing_id = repeat('d', 2000);
SELECT octet_length(drawing_id) FROM buildtrace.versions WHERE drawing_id = repeat('v', 2000);

-- Large versions that INSERT ... SELECT reads from another table's TOAST
-- storage, compressed (a) or not (b): diffed and stored exactly as read.
CREATE TEMP TABLE big_src (k int, a jsonb, b jsonb);
ALTER TABLE big_src ALTER COLUMN b SET STORAGE EXTERNAL;
INSERT INTO big_src
SELECT k, jsonb_agg(o ORDER BY i), jsonb_agg(o || CASE WHEN i <= k THEN '{"x": -1}'::jsonb ELSE '{}'::jsonb END ORDER BY i)
FROM generate_series(1, 2) k,
     LATERAL (SELECT i, jsonb_build_object('id', 'O' || i, 'type', 'wall', 'x', i, 'y', 0, 'width', 1,
                                           'height', 1, 'note', repeat(md5(i::text), 4)) AS o
              FROM generate_series(1, 300) i) objs
GROUP BY k;
SELECT pg_relation_size(reltoastrelid) > 0 AS out_of_line FROM pg_class WHERE oid = 'big_src'::regclass;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'big' || k, a, b FROM big_src ORDER BY k;
SELECT p.drawing_id, p.status, c.moved, p.version_a = s.a AS same_a, p.version_b = s.b AS same_b
FROM buildtrace.pairs p JOIN big_src s ON p.drawing_id = 'big' || s.k
JOIN buildtrace.changes c USING (pair_id) ORDER BY 1;
