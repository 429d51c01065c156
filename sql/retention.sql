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
-- the same with nothing to remove (both kept forever)
BEGIN;
CALL buildtrace.purge();
ROLLBACK;
-- A calling procedure's SET LOCAL holds for the whole purge: purge() reads
-- both settings before its first commit ends the caller's transaction. The
-- caller keeps every pair (for 1000 days: a batch runs and commits) and every
-- version; the session's own settings would remove an old pair and an old
-- version of R-9 (neither is its drawing's latest).
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('R-9', '[]', '[]'), ('R-9', '[]', '[]');
UPDATE buildtrace.pairs SET processed_at = now() - interval '40 days'
WHERE pair_id = (SELECT min(pair_id) FROM buildtrace.pairs WHERE drawing_id = 'R-9');
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES
    ('R-9', '[]', now() - interval '40 days'), ('R-9', '[]', now());
SET buildtrace.keep_pairs = '30d';
SET buildtrace.keep_versions = '30d';
CREATE PROCEDURE purge_keeping_all(INOUT removed_pairs bigint DEFAULT NULL,
                                   INOUT removed_versions bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE a bigint; r bigint;
BEGIN
    SET LOCAL buildtrace.keep_pairs = '1000d';
    SET LOCAL buildtrace.keep_versions = '0';
    CALL buildtrace.purge(10000, removed_pairs, removed_versions, a, r);
END $$;
CALL purge_keeping_all();
SELECT (SELECT count(*) FROM buildtrace.pairs WHERE drawing_id = 'R-9') AS r9_pairs,
       (SELECT count(*) FROM buildtrace.versions WHERE drawing_id = 'R-9') AS r9_versions;
DROP PROCEDURE purge_keeping_all;
RESET buildtrace.keep_pairs;
RESET buildtrace.keep_versions;

-- A dead letter waits to be retried: purge() keeps it, and removes it once
-- a retry of it is there. rebuild_rollups() keeps the rollups of the hours
-- whose pairs purge() removed. Versions: the latest of a drawing uploaded by
-- now stays, though a later one is dated in the future, so that the next
-- upload is paired with it.
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.purge_horizon
         RESTART IDENTITY CASCADE;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES
    ('H-1', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('H-1', '[]', '[{"id":"B"}]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('H-2', '[]', '[]');
-- H-1's pairs, and their rollup, as if processed 100 days ago.
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '100 days',
                            submitted_at = submitted_at - interval '100 days'
WHERE drawing_id = 'H-1';
UPDATE buildtrace.changes SET computed_at = computed_at - interval '100 days' WHERE drawing_id = 'H-1';
UPDATE buildtrace.anomalies SET detected_at = detected_at - interval '100 days' WHERE drawing_id = 'H-1';
UPDATE buildtrace.hourly_rollups SET hour = hour - interval '100 days' WHERE drawing_id = 'H-1';
CREATE TEMP TABLE rollups_kept AS SELECT * FROM buildtrace.hourly_rollups;
SET buildtrace.keep_pairs = '30d';
SET buildtrace.keep_versions = '1h';
CALL buildtrace.purge();
SELECT pair_id, drawing_id, status FROM buildtrace.pairs ORDER BY pair_id;
SELECT pairs_processed_until < now() - interval '99 days' AS horizon_is_the_purged_pair
FROM buildtrace.purge_horizon;
SELECT buildtrace.rebuild_rollups() AS rollup_rows_written;
SELECT count(*) AS rollup_rows_changed
FROM (SELECT r::text FROM buildtrace.hourly_rollups r EXCEPT SELECT k::text FROM rollups_kept k) d;
SELECT failed_pair_id, retry_pair_id, status FROM buildtrace.retry_failed();
CALL buildtrace.purge();
SELECT pair_id, drawing_id, status, retry_of FROM buildtrace.pairs ORDER BY pair_id;

INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES
    ('F', '[]', now() - interval '2 days'), ('F', '[]', now() - interval '1 day'),
    ('F', '[]', '2999-01-01');
CALL buildtrace.purge();
SELECT version_id, uploaded_at > now() AS in_future FROM buildtrace.versions ORDER BY version_id;
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('F', '[]');
SELECT from_version, to_version FROM buildtrace.pairs WHERE to_version = 4;

-- A pair made from versions stays no upload when purge() removes its
-- versions first (keep_versions shorter than keep_pairs), and goes once
-- keep_pairs ends it: none is kept as its drawing's last upload. The first
-- two are the versions trigger's, the others inserted with a link by hand,
-- the last one deferred (marked as it is inserted).
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES
    ('M', '[]', now() - interval '100 days'), ('M', '[]', now() - interval '99 days');
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('M', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, from_version)
SELECT 'M', '[]', '[]', min(version_id) FROM buildtrace.versions WHERE drawing_id = 'M';
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, to_version)
SELECT 'M', '[]', '[]', max(version_id) FROM buildtrace.versions WHERE drawing_id = 'M';
RESET buildtrace.processing;
CALL buildtrace.work();
CALL buildtrace.purge();
SELECT pair_id, from_version IS NULL AS from_gone, to_version IS NULL AS to_gone, made_from_versions
FROM buildtrace.pairs WHERE drawing_id = 'M' ORDER BY pair_id;
SELECT count(*) AS m_pairs_read_as_uploads FROM buildtrace.uploads WHERE drawing_id = 'M' AND pair_id IS NOT NULL;
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '100 days',
                            submitted_at = submitted_at - interval '100 days'
WHERE drawing_id = 'M';
CALL buildtrace.purge();
SELECT count(*) AS m_pairs_left FROM buildtrace.pairs WHERE drawing_id = 'M';
-- The retry of a failed pair made from versions is marked too, though the
-- versions are gone and it has no link of its own.
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('MR', '[]');
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('MR', '[{"id":"B"}]');
DELETE FROM buildtrace.versions WHERE drawing_id = 'MR';
SELECT count(*) AS retried FROM buildtrace.retry_failed(
    (SELECT array_agg(pair_id) FROM buildtrace.pairs WHERE drawing_id = 'MR'));
SELECT status, retry_of IS NOT NULL AS is_retry, from_version, to_version, made_from_versions
FROM buildtrace.pairs WHERE drawing_id = 'MR' ORDER BY pair_id;

-- A drawing's latest pair sent directly stays (its last upload, which the
-- upload check measures the next one against), however old. A retried dead
-- letter goes with its retries once every one is old enough, and not before:
-- a retry whose dead letter went would read as an upload of its own.
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.purge_horizon
         RESTART IDENTITY CASCADE;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('U-1', '[]', '[]'), ('U-1', '[]', '[]');                  -- 1, 2
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('R-1', '[]', '[{"id":"B"}]'), ('R-2', '[]', '[{"id":"B"}]'); -- 3, 4 failed
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
VALUES ('R-1', '[]', '[]', 3);                                      -- 5 retries 3
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
VALUES ('R-2', '[]', '[]', 4);                                      -- 6 retries 4
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '100 days',
                            submitted_at = submitted_at - interval '100 days'
WHERE pair_id <> 6;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('R-1', '[]', '[]'), ('R-2', '[]', '[]');                    -- 7, 8 newer uploads
-- a dead letter whose retry is still pending (deferred) stays with it
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('R-3', '[]', '[{"id":"B"}]'); -- 9
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '100 days',
                            submitted_at = submitted_at - interval '100 days' WHERE pair_id = 9;
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of) VALUES ('R-3', '[]', '[]', 9); -- 10
RESET buildtrace.processing;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('R-3', '[]', '[]'); -- 11
SET buildtrace.keep_pairs = '30d';
CALL buildtrace.purge();
SELECT pair_id, drawing_id, status, retry_of FROM buildtrace.pairs ORDER BY pair_id;

RESET buildtrace.keep_pairs;
RESET buildtrace.keep_versions;

-- Dead letters go once buildtrace.keep_dead_letters allows, and no earlier
-- than keep_pairs: a dead letter no retry fixed (never retried, or every
-- retry failed as well) once it and its retries are older than both; not one
-- whose retry failed recently or is pending, not its drawing's latest pair
-- sent directly (its last upload), not a recent one.
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.purge_horizon
         RESTART IDENTITY CASCADE;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'D-' || d, '[]', '[{"id":"B"}]' FROM generate_series(1, 6) d;  -- 1..6 failed
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
VALUES ('D-2', '[]', '[{"id":"B"}]', 2), ('D-3', '[]', '[{"id":"B"}]', 3);  -- 7, 8 fail again
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
VALUES ('D-4', '[]', '[{"id":"B"}]', 4);                              -- 9 pending
RESET buildtrace.processing;
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '100 days',
                            submitted_at = submitted_at - interval '100 days'
WHERE pair_id NOT IN (6, 8, 9);
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '10 days' WHERE pair_id = 8;
-- a newer upload of each drawing but D-5, whose dead letter is its last
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'D-' || d, '[]', '[]' FROM generate_series(1, 6) d WHERE d <> 5;  -- 10..14
SELECT pair_id, drawing_id FROM buildtrace.dead_letters ORDER BY pair_id;
SET buildtrace.keep_pairs = '30d';
CALL buildtrace.purge();
SELECT count(*) AS dead_letters_kept_by_default FROM buildtrace.dead_letters;
SET buildtrace.keep_dead_letters = '60d';
RESET buildtrace.keep_pairs;
CALL buildtrace.purge();
SELECT count(*) AS dead_letters_kept_while_pairs_are FROM buildtrace.dead_letters;
SET buildtrace.keep_pairs = '30d';
CALL buildtrace.purge();
SELECT pair_id, drawing_id, status, retry_of FROM buildtrace.pairs ORDER BY pair_id;
SELECT count(*) AS anomalies_of_purged_pairs FROM buildtrace.anomalies WHERE pair_id IN (1, 2, 7);
-- keep_dead_letters shorter than keep_pairs: keep_pairs holds for a dead
-- letter and for each of its retries. D-3's retry failed 10 days ago, D-6
-- 20 days ago: both stay until they are older than keep_pairs too.
UPDATE buildtrace.pairs SET processed_at = now() - interval '20 days',
                            submitted_at = now() - interval '20 days' WHERE pair_id = 6;
SET buildtrace.keep_dead_letters = '1d';
SET buildtrace.keep_pairs = '15d';
CALL buildtrace.purge();
SELECT pair_id FROM buildtrace.dead_letters ORDER BY pair_id;
SET buildtrace.keep_pairs = '5d';
CALL buildtrace.purge();
SELECT pair_id FROM buildtrace.dead_letters ORDER BY pair_id;
SELECT pairs_processed_until < now() - interval '9 days' AS horizon_not_past_keep_pairs
FROM buildtrace.purge_horizon;
RESET buildtrace.keep_pairs;
RESET buildtrace.keep_dead_letters;
-- The settings' spans are counted back in UTC, as the metrics' windows are:
-- a day kept is 24 hours also from a session in New York (of these spans,
-- at least one crosses a change of its clocks, whatever the date).
SET TimeZone = 'America/New_York';
SELECT bool_and(buildtrace._utc_ago(k) = now() - extract(day FROM k) * interval '24 hours')
       AS cutoffs_in_utc_days
FROM unnest(ARRAY[interval '120 days', interval '200 days', interval '300 days']) k;
RESET TimeZone;

-- Rollups go once buildtrace.keep_rollups allows, and only those of hours
-- before the purge horizon's hour, whose pairs purge() removed (a later
-- hour's could be rebuilt from its pairs). K-mid's first pair, 50 days old,
-- is the newest purged; K-70's only pair stays (its last upload), but its
-- hour is before the horizon's. K-mid's own hour is the horizon's: it stays.
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.purge_horizon
         RESTART IDENTITY CASCADE;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('K-old', '[]', '[]'), ('K-old', '[]', '[]'), ('K-70', '[]', '[]'),
       ('K-55', '[]', '[]'), ('K-55', '[]', '[]'),
       ('K-mid', '[]', '[]'), ('K-mid', '[]', '[]'), ('K-new', '[]', '[]');
CREATE TEMP TABLE ages (drawing_id text, age interval);
INSERT INTO ages VALUES ('K-old', '100 days'), ('K-70', '70 days'), ('K-55', '55 days'),
                        ('K-mid', '50 days');
UPDATE buildtrace.pairs p SET processed_at = processed_at - a.age, submitted_at = submitted_at - a.age
FROM ages a WHERE a.drawing_id = p.drawing_id;
UPDATE buildtrace.changes c SET computed_at = computed_at - a.age FROM ages a WHERE a.drawing_id = c.drawing_id;
UPDATE buildtrace.hourly_rollups r SET hour = hour - a.age FROM ages a WHERE a.drawing_id = r.drawing_id;
-- without a horizon (no pair purged yet) every hour's rollups stay
SET buildtrace.keep_rollups = '1h';
CALL buildtrace.purge();
SELECT count(*) AS rollups_kept_without_horizon FROM buildtrace.hourly_rollups;
SET buildtrace.keep_pairs = '30d';
RESET buildtrace.keep_rollups;
CALL buildtrace.purge();
SELECT drawing_id, pairs FROM buildtrace.hourly_rollups ORDER BY hour;
SET buildtrace.keep_rollups = '60d';
CALL buildtrace.purge();
SELECT drawing_id, pairs FROM buildtrace.hourly_rollups ORDER BY hour;
SET buildtrace.keep_rollups = '1h';
CALL buildtrace.purge(1);
SELECT drawing_id, pairs FROM buildtrace.hourly_rollups ORDER BY hour;
-- and rebuild_rollups() writes none of them again
SELECT buildtrace.rebuild_rollups() AS rollup_rows_written;
SELECT drawing_id, pairs FROM buildtrace.hourly_rollups ORDER BY hour;
RESET buildtrace.keep_pairs;
RESET buildtrace.keep_rollups;

-- A drawing's last upload sent directly is its latest pair dated by now: a
-- later one dated in the future (a client's clock ahead) does not let purge()
-- take it. And a pair purge() keeps keeps its anomalies, resolved or not.
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.purge_horizon
         RESTART IDENTITY CASCADE;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('FUT', '[]', '[]');  -- 1
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('FUT', '[]', '[]');  -- 2
UPDATE buildtrace.pairs SET processed_at = now() - interval '100 days',
                            submitted_at = now() - interval '100 days' WHERE pair_id = 1;
UPDATE buildtrace.pairs SET submitted_at = '2999-01-01' WHERE pair_id = 2;
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, detected_at, resolved_at)
VALUES ('change_spike', 'medium', 'FUT', 1, now() - interval '100 days', now() - interval '99 days');
SET buildtrace.keep_pairs = '30d';
CALL buildtrace.purge();
SELECT pair_id, drawing_id FROM buildtrace.pairs ORDER BY pair_id;
SELECT kind, pair_id, resolved_at IS NOT NULL AS resolved FROM buildtrace.anomalies ORDER BY anomaly_id;
RESET buildtrace.keep_pairs;
