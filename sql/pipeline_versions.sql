-- Versions: each new version pairs with its predecessor by upload order
-- (uploaded_at, then version_id), never by "id - 1".
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state RESTART IDENTITY CASCADE;
SET timezone = 'UTC';

-- v(k): a drawing with k doors.
CREATE FUNCTION pg_temp.v(k integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', 'D' || i, 'type', 'door', 'x', i, 'y', 0,
                                                 'width', 1, 'height', 2) ORDER BY i), '[]')
    FROM generate_series(1, k) i
$$;

-- The first version of a drawing creates no pair.
INSERT INTO buildtrace.versions (version_id, drawing_id, payload, uploaded_at)
VALUES (100, 'chain', pg_temp.v(1), '2024-01-01 00:00');
SELECT count(*) AS pairs FROM buildtrace.pairs;

-- Gaps and out-of-order ids, several versions of one drawing in one
-- statement, interleaved with another drawing: upload order decides.
INSERT INTO buildtrace.versions (version_id, drawing_id, job_id, payload, uploaded_at) VALUES
    (500, 'chain', 'j3', pg_temp.v(4), '2024-01-01 03:00'),
    (101, 'other', 'o1', pg_temp.v(1), '2024-01-01 01:00'),
    (300, 'chain', 'j1', pg_temp.v(2), '2024-01-01 01:00'),
    (200, 'chain', 'j2', pg_temp.v(3), '2024-01-01 02:00'),
    (102, 'other', 'o2', pg_temp.v(5), '2024-01-01 02:00');
SELECT p.pair_id, p.drawing_id, p.job_id, p.from_version, p.to_version, p.status, c.added
FROM buildtrace.pairs p JOIN buildtrace.changes c USING (pair_id)
ORDER BY p.drawing_id, p.to_version;

-- Same uploaded_at: version_id breaks the tie (ids given out of order).
INSERT INTO buildtrace.versions (version_id, drawing_id, payload, uploaded_at) VALUES
    (902, 'tie', pg_temp.v(3), '2024-02-01'),
    (900, 'tie', pg_temp.v(1), '2024-02-01'),
    (901, 'tie', pg_temp.v(2), '2024-02-01');
SELECT from_version, to_version FROM buildtrace.pairs WHERE drawing_id = 'tie' ORDER BY to_version;

-- Generated ids and the default uploaded_at (now()): several rows in one
-- statement pair in insertion (id) order.
INSERT INTO buildtrace.versions (drawing_id, payload)
SELECT 'gen', pg_temp.v(k) FROM generate_series(1, 4) k ORDER BY k;
SELECT v_a.payload = pg_temp.v(k - 1) AND v_b.payload = pg_temp.v(k) AS consecutive, count(*)
FROM buildtrace.pairs p
JOIN buildtrace.versions v_a ON v_a.version_id = p.from_version
JOIN buildtrace.versions v_b ON v_b.version_id = p.to_version
CROSS JOIN LATERAL (SELECT jsonb_array_length(v_b.payload) AS k) x
WHERE p.drawing_id = 'gen' GROUP BY 1;

-- A late upload (uploaded_at before the drawing's latest version) pairs with
-- its predecessor at that time; the pairs already made are kept as they are.
INSERT INTO buildtrace.versions (version_id, drawing_id, job_id, payload, uploaded_at)
VALUES (250, 'chain', 'late', pg_temp.v(7), '2024-01-01 02:30');
SELECT p.job_id, p.from_version, p.to_version, c.added, c.removed
FROM buildtrace.pairs p JOIN buildtrace.changes c USING (pair_id)
WHERE p.drawing_id = 'chain' ORDER BY p.pair_id;

-- The payloads are copied into the pair, so the pair keeps its input.
SELECT bool_and(p.version_a = va.payload AND p.version_b = vb.payload) AS payloads_copied
FROM buildtrace.pairs p
JOIN buildtrace.versions va ON va.version_id = p.from_version
JOIN buildtrace.versions vb ON vb.version_id = p.to_version;

-- An invalid version gives a failed pair (flag mode) and, in reject mode,
-- fails the version insert.
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('other', '"not a drawing"');
SELECT status, error -> 0 ->> 'version' AS bad_version
FROM buildtrace.pairs WHERE drawing_id = 'other' ORDER BY pair_id DESC LIMIT 1;
SET buildtrace.on_invalid = 'reject';
\set SHOW_CONTEXT never
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('chain', '[{"id":"D1","x":"?"}]');
\set SHOW_CONTEXT errors
RESET buildtrace.on_invalid;
SELECT count(*) AS chain_versions FROM buildtrace.versions WHERE drawing_id = 'chain';

\set VERBOSITY terse
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES (NULL, '[]');
\set VERBOSITY default
-- A version is stored as sent; a latency that is no duration fails the pair
-- made from it, not the statement that uploads it and other versions.
INSERT INTO buildtrace.versions (drawing_id, payload, latency_ms)
VALUES ('x', '[]', 1), ('x', '[]', -1), ('y', '[]', 2), ('y', '[]', 3);
SELECT p.drawing_id, p.status, p.latency_ms, p.error -> 0 ->> 'key' AS problem_key
FROM buildtrace.pairs p WHERE p.drawing_id IN ('x', 'y') ORDER BY p.pair_id;

-- A time later than the statement (a client's clock ahead) is kept as sent;
-- only versions stamped during their own transaction are re-stamped in lock
-- order.
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES ('ahead', '[]', '2100-01-02');
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES ('ahead', '[]', '2100-01-01');
SELECT uploaded_at FROM buildtrace.versions WHERE drawing_id = 'ahead' ORDER BY version_id;
-- A version of the future re-stamps no later upload: with nothing committed
-- meanwhile, two versions stamped during their own transaction keep the
-- times they were sent with, and are paired in that order.
INSERT INTO buildtrace.versions (drawing_id, job_id, payload, uploaded_at)
VALUES ('ahead-then', 'old', '[]', now() - interval '1 day');
INSERT INTO buildtrace.versions (drawing_id, job_id, payload, uploaded_at)
VALUES ('ahead-then', 'future', '[]', '2100-01-01');
BEGIN;
INSERT INTO buildtrace.versions (drawing_id, job_id, payload, uploaded_at)
VALUES ('ahead-then', 'B', '[]', now() + interval '1 microsecond'), ('ahead-then', 'A', '[]', now());
SELECT v.job_id, v.uploaded_at - now() AS after_start, f.job_id AS paired_after
FROM buildtrace.pairs p
JOIN buildtrace.versions v ON v.version_id = p.to_version
JOIN buildtrace.versions f ON f.version_id = p.from_version
WHERE p.drawing_id = 'ahead-then' AND v.job_id IN ('A', 'B') ORDER BY v.job_id;
COMMIT;
-- Many versions of one drawing in one statement: the latest other version is
-- found once per drawing (it was once per new version, each time reading all
-- of the statement's versions: 3,000 read 9 million rows, 12,000 took 25 s).
BEGIN;
INSERT INTO buildtrace.versions (version_id, drawing_id, payload)
SELECT 100000 + g, 'many', '[]' FROM generate_series(1, 3000) g;
SELECT sum(coalesce(t.seq_tup_read, 0) + coalesce(t.idx_tup_fetch, 0)) < 100000 AS versions_read_linearly,
       (SELECT count(*) FROM buildtrace.pairs WHERE drawing_id = 'many') AS pairs
FROM pg_stat_xact_user_tables t
WHERE t.schemaname = 'buildtrace' AND t.relname = 'versions';
COMMIT;
-- Two uploads of one drawing in one transaction carry the same default time
-- (the transaction's start): the later statement's version comes after the
-- earlier one's, whatever ids the client chose.
BEGIN;
INSERT INTO buildtrace.versions (version_id, drawing_id, payload) VALUES (7002, 'same-txn', pg_temp.v(1));
INSERT INTO buildtrace.versions (version_id, drawing_id, payload) VALUES (7001, 'same-txn', pg_temp.v(2));
COMMIT;
SELECT from_version, to_version FROM buildtrace.pairs WHERE drawing_id = 'same-txn';
