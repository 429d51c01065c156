-- check_uploads() at fixed as_of times: overdue, on time, late, resolved,
-- escalation, no duplicates; stale pending pairs; volume spikes; schedule()
-- without pg_cron; health() status rules.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET timezone = 'UTC';

-- Two drawings expected hourly with 10 minutes' grace from 08:00.
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since) VALUES
    ('mon-A', '1 hour', '10 minutes', '2026-01-05 08:00+00'),
    ('mon-B', '1 hour', '10 minutes', '2026-01-05 08:00+00');
-- A uploads on time at 08:50; B uploads nothing.
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
VALUES ('mon-A', '[]', '2026-01-05 08:50+00');

CREATE FUNCTION mon_anomalies() RETURNS TABLE (kind text, severity text, drawing_id text,
    detected_at timestamptz, resolved_at timestamptz, details jsonb)
LANGUAGE sql SET search_path = pg_catalog AS $$
    SELECT kind, severity, drawing_id, detected_at, resolved_at, details - 'grace'
    FROM buildtrace.anomalies WHERE drawing_id LIKE 'mon-%' OR kind = 'volume_spike'
    ORDER BY anomaly_id $$;

-- 09:05: B is due at 09:00 but within grace; nothing.
SELECT buildtrace.check_uploads('2026-01-05 09:05+00');
-- 09:11: B is overdue (09:00 + 10 min grace); A's next is due 09:50.
SELECT buildtrace.check_uploads('2026-01-05 09:11+00');
-- Again at 09:30: no duplicate open anomaly.
SELECT buildtrace.check_uploads('2026-01-05 09:30+00');
SELECT * FROM mon_anomalies();

-- 10:15: B is a whole period further overdue: escalated to high, still one.
SELECT buildtrace.check_uploads('2026-01-05 10:15+00');
-- A uploaded at 10:20, 20 minutes after its 10:00 + grace... due 09:50,
-- late after 10:00: a delayed upload of 30 minutes. It was also overdue at
-- 10:15 (missing), resolved by this upload.
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
VALUES ('mon-A', '[]', '2026-01-05 10:20+00');
-- B finally uploads at 10:40.
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
VALUES ('mon-B', '[]', '2026-01-05 10:40+00');
SELECT buildtrace.check_uploads('2026-01-05 10:45+00');
SELECT buildtrace.check_uploads('2026-01-05 10:45+00');  -- idempotent
SELECT * FROM mon_anomalies();

-- Stale pending pairs: a pending pair cannot be made through the trigger, so
-- one is inserted with the triggers bypassed, as a crashed loader would leave.
SET session_replication_role = replica;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, submitted_at)
VALUES ('mon-P', '[]', '[]', '2026-01-05 10:00+00');
SET session_replication_role = DEFAULT;
SET buildtrace.pending_max_age = '30min';
SELECT buildtrace.check_uploads('2026-01-05 10:20+00') ->> 'stale_pending' AS stale_at_1020;
-- At exactly pending_max_age it is not stale yet: only older than that.
SELECT buildtrace.check_uploads('2026-01-05 10:30+00') ->> 'stale_pending' AS stale_at_1030;
SELECT buildtrace.check_uploads('2026-01-05 10:31+00') ->> 'stale_pending' AS stale_at_1031;
SELECT buildtrace.check_uploads('2026-01-05 10:40+00') ->> 'stale_pending' AS stale_again;
SELECT kind, severity, drawing_id, details - 'submitted_at' AS details, resolved_at IS NULL AS open
FROM buildtrace.anomalies WHERE kind = 'stale_pending';
RESET buildtrace.pending_max_age;

-- Bad arguments.
SELECT buildtrace.check_uploads(NULL);
SELECT buildtrace.check_uploads('infinity');
SELECT buildtrace.check_uploads('4714-11-24 00:00:00+00 BC');
SELECT buildtrace.check_uploads('10000-01-01 00:00:00+00');

-- Expectations whose sums of times would go back or out of range, which
-- made every check fail: refused.
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('bad-1', '1 month -29 days', '0', '2026-02-01 00:00+00');
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('bad-2', '1 hour', '100000000 years', '2026-01-01 00:00+00');
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('bad-3', '1 hour', '0', '-infinity');
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('bad-4', '1 day -1 second', '0', '2026-01-01 00:00+00');
SELECT buildtrace._is_period(i) AS is_period, i
FROM unnest(ARRAY['0', '1 month', '1 month 2 days 03:04:05', '100 years', '100 years 1 second',
                  '1 month -1 day', '-1 month 40 days', '1 day -00:00:01', '-1 second']::interval[]) i;

-- Cron expressions for cadences, and the ones refused.
SELECT e, buildtrace._cron_expression(e::interval)
FROM unnest(ARRAY['1 minute', '5 minutes', '15 minutes', '1 hour', '6 hours', '1 day']) e;
SELECT buildtrace._cron_expression('7 minutes');
SELECT buildtrace._cron_expression('90 seconds');
SELECT buildtrace._cron_expression('59.5 seconds');
SELECT buildtrace._cron_expression('5 minutes 0.4 seconds');
SELECT buildtrace._cron_expression(NULL);

-- This regression database has no pg_cron: a clear error with a hint.
SELECT * FROM buildtrace.schedule('5 minutes');
\echo :LAST_ERROR_SQLSTATE
SELECT buildtrace.unschedule();
\echo :LAST_ERROR_SQLSTATE
-- A role granted unschedule() that may not read the server's settings is
-- told that pg_cron is missing, not refused the settings.
CREATE ROLE mon_cron_caller;
GRANT USAGE ON SCHEMA buildtrace TO mon_cron_caller;
GRANT EXECUTE ON FUNCTION buildtrace.unschedule(), buildtrace._require_cron() TO mon_cron_caller;
SET ROLE mon_cron_caller;
SELECT buildtrace.unschedule();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP OWNED BY mon_cron_caller;
DROP ROLE mon_cron_caller;

-- health(), one rule at a time, from an empty pipeline.
DELETE FROM buildtrace.anomalies;
DELETE FROM buildtrace.pairs;
CREATE FUNCTION mon_health() RETURNS TABLE (status text, warnings jsonb)
LANGUAGE sql SET search_path = pg_catalog AS $$
    SELECT h ->> 'status', h -> 'warnings' FROM buildtrace.health() h $$;
SELECT * FROM mon_health();                                   -- healthy
-- A low-severity open anomaly is only a warning.
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id) VALUES ('delayed_upload', 'low', 'mon-L');
SELECT * FROM mon_health();                                   -- healthy, 1 warning
SELECT buildtrace.health() -> 'anomalies' -> 0 ->> 'type' AS listed_anomaly;
-- A medium one degrades.
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id) VALUES ('volume_spike', 'medium', 'mon-M');
SELECT * FROM mon_health();                                   -- degraded
-- A high one detected within the window makes it unhealthy; one detected
-- before the window only degrades.
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, detected_at)
VALUES ('change_spike', 'high', 'mon-H', now() - interval '2 hours');
SELECT * FROM mon_health();                                   -- degraded (old high)
SELECT buildtrace.health('3 hours') ->> 'status' AS within_3h; -- unhealthy
SELECT buildtrace.resolve_anomalies(array_agg(anomaly_id), 'handled') AS resolved
FROM buildtrace.anomalies WHERE resolved_at IS NULL;
SELECT buildtrace.resolve_anomalies(array_agg(anomaly_id)) AS resolved_again
FROM buildtrace.anomalies;
SELECT * FROM mon_health();                                   -- healthy again
-- An open high-severity anomaly detected before the window, alone, still
-- degrades: it is open, only not recent.
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, detected_at)
VALUES ('change_spike', 'high', 'mon-O', now() - interval '2 hours');
SELECT status FROM mon_health();                              -- degraded
DELETE FROM buildtrace.anomalies WHERE drawing_id = 'mon-O';
-- A dead letter degrades.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('mon-D', '[1]', '[]');
DELETE FROM buildtrace.anomalies;
SELECT * FROM mon_health();                                   -- degraded
DELETE FROM buildtrace.pairs;
-- A fresh pending pair is a warning, whatever the caller's processing
-- setting (the writers' decides whether a backlog is expected); a stale one
-- makes it unhealthy.
SET session_replication_role = replica;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('mon-P', '[]', '[]');
SET session_replication_role = DEFAULT;
SELECT status, (SELECT count(*) FROM jsonb_array_elements_text(warnings) w
                WHERE w LIKE '1 pair pending, the oldest since %') AS pending_warnings
FROM mon_health();                                            -- healthy, a warning
SET buildtrace.processing = deferred;
SELECT status FROM mon_health();                              -- the same
RESET buildtrace.processing;
SET buildtrace.pending_max_age = 1;
SELECT pg_sleep(1.1);
SELECT status FROM mon_health();                              -- unhealthy
RESET buildtrace.pending_max_age;

-- An upload stamped before a check ran and committed after it (its
-- transaction was still open) is checked for lateness by the next check.
DELETE FROM buildtrace.upload_expectations;
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('mon-C', '1 hour', '10 minutes', '2026-01-07 08:00+00');
SELECT buildtrace.check_uploads('2026-01-07 09:30+00') ->> 'missing_upload' AS missing;
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
VALUES ('mon-C', '[]', '2026-01-07 09:25+00');
SELECT buildtrace.check_uploads('2026-01-07 09:35+00') ->> 'delayed_upload' AS delayed;
SELECT buildtrace.check_uploads('2026-01-07 09:40+00') ->> 'delayed_upload' AS delayed_again;
SELECT kind, severity, resolved_at, details - 'grace' - 'version_id' AS details
FROM buildtrace.anomalies WHERE drawing_id = 'mon-C' ORDER BY anomaly_id;
-- One late period is recorded once: an upload seen late that comes before
-- one already recorded late for the same due time adds nothing.
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('mon-E', '1 hour', '0', '2026-01-08 00:00+00');
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
VALUES ('mon-E', '[]', '2026-01-08 01:00+00'), ('mon-E', '[]', '2026-01-08 02:25+00');
SELECT buildtrace.check_uploads('2026-01-08 02:30+00') ->> 'delayed_upload' AS delayed;
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
VALUES ('mon-E', '[]', '2026-01-08 02:20+00');
SELECT buildtrace.check_uploads('2026-01-08 03:00+00') ->> 'delayed_upload' AS delayed_again;
SELECT count(*) AS delayed_uploads FROM buildtrace.anomalies
WHERE drawing_id = 'mon-E' AND kind = 'delayed_upload';

-- An expectation removed: its drawing's open missing upload, which no
-- upload would ever resolve, is resolved by the next check (mon-E's, still
-- expected, stays open).
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('mon-F', '1 hour', '0', '2026-01-09 00:00+00');
SELECT buildtrace.check_uploads('2026-01-09 01:30+00') ->> 'missing_upload' AS missing;
DELETE FROM buildtrace.upload_expectations WHERE drawing_id = 'mon-F';
SELECT buildtrace.check_uploads('2026-01-09 01:35+00') ->> 'missing_upload_resolved' AS resolved;
SELECT resolved_at, details ->> 'resolved_because' AS resolved_because
FROM buildtrace.anomalies WHERE drawing_id = 'mon-F';

-- Periods are counted in UTC, whatever the session's time zone: a daily
-- upload expected from 05:00 UTC on the day New York's clocks went forward
-- (00:00 there) is due at 05:00 UTC the next day, not at 04:00 (00:00 there
-- again, 23 hours later).
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('mon-G', '1 day', '0', '2024-03-10 05:00+00');
SET timezone = 'America/New_York';
SELECT buildtrace.check_uploads('2024-03-11 04:45+00') ->> 'missing_upload' AS missing_seen_from_new_york;
SELECT buildtrace.check_uploads('2024-03-11 05:05+00') ->> 'missing_upload' AS missing_after_a_day;
SET timezone = 'UTC';

-- A drawing is missing an upload only once its due time plus grace has
-- passed: at that very moment it is not yet, a microsecond later it is.
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('mon-J', '1 hour', '10 minutes', '2026-01-10 00:00+00');
SELECT buildtrace.check_uploads('2026-01-10 01:10+00') ->> 'missing_upload' AS missing_at_late_at;
SELECT buildtrace.check_uploads('2026-01-10 01:10:00.000001+00') ->> 'missing_upload' AS missing_just_after;

-- Clean up so the rest of the suite starts empty.
DELETE FROM buildtrace.anomalies;
DELETE FROM buildtrace.pairs;
DELETE FROM buildtrace.versions;
DELETE FROM buildtrace.upload_expectations;
DROP FUNCTION mon_anomalies();
DROP FUNCTION mon_health();

-- An unknown sample family (or none) is 22023, saying what a family is.
SELECT * FROM buildtrace.prometheus_samples('pairs');
SELECT * FROM buildtrace.prometheus_samples(NULL);
-- Not in REPEATABLE READ: its snapshot, taken before the check's lock, would
-- not see what a check that ran meanwhile recorded, and would record it
-- again.
\set VERBOSITY default
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT buildtrace.check_uploads();
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT buildtrace.check_uploads() ? 'stale_pending' AS checked;
ROLLBACK;
