-- Retention: purge() removes pairs (with their change sets and anomalies),
-- versions (never the latest of a drawing) and resolved anomalies older than
-- the settings, in committed batches; rollups stay.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

-- Three pairs of R-1 (the first two 100 days old, the second failed), three
-- versions of R-v (two old) and one old version of R-w, one old resolved
-- anomaly of no pair.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES
    ('R-1', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]'),
    ('R-1', '[]', '[{"id":"B"}]'),
    ('R-1', '[]', '[]');
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES
    ('R-v', '[]', now() - interval '102 days'), ('R-v', '[]', now() - interval '101 days'),
    ('R-v', '[]', now()), ('R-w', '[]', now() - interval '100 days');
UPDATE buildtrace.pairs SET processed_at = now() - interval '100 days' WHERE pair_id IN (1, 2);
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, detected_at, resolved_at)
VALUES ('missing_upload', 'medium', 'R-1', now() - interval '100 days', now() - interval '99 days'),
       ('missing_upload', 'medium', 'R-1', now() - interval '100 days', NULL);
SELECT (SELECT count(*) FROM buildtrace.pairs) AS pairs, (SELECT count(*) FROM buildtrace.changes) AS changes,
       (SELECT count(*) FROM buildtrace.anomalies) AS anomalies, (SELECT count(*) FROM buildtrace.versions) AS versions;
CREATE TEMP TABLE rollups_before AS SELECT * FROM buildtrace.hourly_rollups;

-- Nothing goes by default.
CALL buildtrace.purge();

SET buildtrace.keep_pairs = '30d';
SET buildtrace.keep_versions = '30d';
CALL buildtrace.purge(1);
SELECT pair_id, status FROM buildtrace.pairs ORDER BY pair_id;
SELECT pair_id FROM buildtrace.changes ORDER BY pair_id;
SELECT kind, pair_id, resolved_at IS NULL AS open FROM buildtrace.anomalies ORDER BY anomaly_id;
SELECT version_id, drawing_id FROM buildtrace.versions ORDER BY version_id;
SELECT count(*) AS rollup_rows_changed
FROM (SELECT r::text FROM buildtrace.hourly_rollups r EXCEPT SELECT b::text FROM rollups_before b) d;
CALL buildtrace.purge();

-- Bad arguments; and it commits, so it cannot run inside a transaction block.
CALL buildtrace.purge(0);
BEGIN;
CALL buildtrace.purge();
ROLLBACK;
RESET buildtrace.keep_pairs;
RESET buildtrace.keep_versions;
