-- The edges of the pipeline's decisions, each with the smallest input that
-- shows it: the latency it accepts, deferred processing's checks, repeated
-- pair ids, and the move amounts it stores.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

-- A latency of 0 ms is a latency (a negative one fails its pair).
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
VALUES ('lat-zero', '[]', '[]', 0), ('lat-negative', '[]', '[]', -1);
SELECT drawing_id, status, latency_ms FROM buildtrace.pairs ORDER BY pair_id;

-- Deferred, a bad latency is refused as inline: the pair is stored failed,
-- not the statement refused by the table's check.
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
VALUES ('deferred-negative', '[]', '[]', -1);
SELECT drawing_id, status FROM buildtrace.pairs WHERE drawing_id = 'deferred-negative';

-- A pending pair with invalid input is processed by work() whatever the
-- worker's on_invalid: it was accepted when inserted, and is stored failed.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('deferred-invalid', '[{"id":"A","x":0,"y":0,"width":1,"height":1}]',
        '[{"id":"A","x":0,"y":"up","width":1,"height":1}]');
RESET buildtrace.processing;
SET buildtrace.on_invalid = reject;
CALL buildtrace.work();
RESET buildtrace.on_invalid;
SELECT drawing_id, status FROM buildtrace.pairs WHERE drawing_id LIKE 'deferred-%' ORDER BY pair_id;

-- One pair_id given to two rows of an INSERT is refused, wherever the two
-- rows are in it.
INSERT INTO buildtrace.pairs (pair_id, drawing_id, version_a, version_b) OVERRIDING SYSTEM VALUE
VALUES (50, 'dup', '[]', '[]'), (100, 'dup', '[]', '[]'), (100, 'dup', '[]', '[]')
ON CONFLICT DO NOTHING;

-- The stored change set has the exact move, in whole units too.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('whole-units', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1},
                         {"id":"B","type":"wall","x":9,"y":0,"width":1,"height":1}]',
                       '[{"id":"A","type":"wall","x":3,"y":0,"width":1,"height":1},
                         {"id":"B","type":"wall","x":9,"y":0,"width":1,"height":1}]');
SELECT c.diff -> 'moved' -> 0 -> 'dx' AS dx, c.diff -> 'moved' -> 0 -> 'distance' AS distance, c.summary
FROM buildtrace.changes c JOIN buildtrace.pairs p USING (pair_id) WHERE p.drawing_id = 'whole-units';

-- A numeric id is limited to 200 characters as written, as a string id is.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('long-number-id', '[]',
        format('[{"id":%s,"x":0,"y":0,"width":1,"height":1}]', '10' || repeat('0', 196) || '.25')::jsonb);
SELECT status, error -> 0 ->> 'message' AS message FROM buildtrace.pairs WHERE drawing_id = 'long-number-id';

-- Claiming a pair: one that has had buildtrace.max_attempts attempts fails
-- into dead_letters; the others are not due again before a backoff of
-- 2^attempts seconds, and never more than an hour, so a pair that keeps
-- failing for a passing reason is still tried every hour.
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('backoff-3', '[]', '[]'), ('backoff-10', '[]', '[]'), ('backoff-12', '[]', '[]'),
       ('backoff-20', '[]', '[]');
RESET buildtrace.processing;
UPDATE buildtrace.pairs SET attempts = substr(drawing_id, 9)::int WHERE drawing_id LIKE 'backoff-%';
SET buildtrace.max_attempts = 20;
BEGIN;
SELECT cardinality(buildtrace._work_claim(array_agg(pair_id))) AS claimed
FROM buildtrace.pairs WHERE drawing_id LIKE 'backoff-%';
SELECT drawing_id, status, attempts, next_attempt_at - now() AS backoff,
       error -> 0 ->> 'message' AS problem
FROM buildtrace.pairs WHERE drawing_id LIKE 'backoff-%' ORDER BY pair_id;
-- The pair given up on is flagged, with its problem, until a retry of it is
-- processed.
SELECT a.drawing_id, a.kind, a.severity, a.details = jsonb_build_object('problems', p.error) AS has_problem,
       a.resolved_at IS NULL AS open
FROM buildtrace.anomalies a JOIN buildtrace.pairs p USING (pair_id)
WHERE p.drawing_id LIKE 'backoff-%';
SELECT r.status FROM buildtrace.retry_failed(NULL, 'backoff-20') r;
SELECT p.retry_of IS NULL AS given_up_pair, p.status, a.kind,
       a.anomaly_id IS NOT NULL AND a.resolved_at IS NULL AS open_anomaly
FROM buildtrace.pairs p LEFT JOIN buildtrace.anomalies a USING (pair_id)
WHERE p.drawing_id = 'backoff-20' ORDER BY p.pair_id;
ROLLBACK;
RESET buildtrace.max_attempts;
DELETE FROM buildtrace.pairs WHERE drawing_id LIKE 'backoff-%';

-- A worker takes a drawing's pending pairs in order up to the first one that
-- is not due: a newer pair that backs off (or that another worker claimed)
-- is not taken along with an older one that is due.
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('due-order', '[]', '[]'), ('due-order', '[]', '[]'), ('due-order', '[]', '[]');
RESET buildtrace.processing;
UPDATE buildtrace.pairs SET next_attempt_at = now() + interval '1 hour'
WHERE pair_id = (SELECT min(pair_id) + 1 FROM buildtrace.pairs WHERE drawing_id = 'due-order');
BEGIN;
SELECT t.pair_id - (SELECT min(pair_id) FROM buildtrace.pairs WHERE drawing_id = 'due-order') AS nth_taken
FROM buildtrace._work_take(10) t WHERE t.drawing_id = 'due-order';
ROLLBACK;
DELETE FROM buildtrace.pairs WHERE drawing_id = 'due-order';

-- work()'s UPDATE is diffed and stored as the row it writes: with what a
-- BEFORE UPDATE trigger of the user's that fires first set on it.
CREATE FUNCTION pg_temp.tag_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.job_id := 'tagged-by-work';
    RETURN NEW;
END $$;
CREATE TRIGGER pairs_a_tag BEFORE UPDATE OF status ON buildtrace.pairs
    FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status = 'done')
    EXECUTE FUNCTION pg_temp.tag_job();
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('work-tagged', '[]', '[{"id":"W","type":"wall","x":0,"y":0,"width":1,"height":1}]');
RESET buildtrace.processing;
CALL buildtrace.work();
DROP TRIGGER pairs_a_tag ON buildtrace.pairs;
SELECT p.status, p.job_id, c.job_id AS change_job_id, c.added
FROM buildtrace.pairs p LEFT JOIN buildtrace.changes c USING (pair_id) WHERE p.drawing_id = 'work-tagged';
