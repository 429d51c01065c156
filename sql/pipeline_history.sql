-- History and outputs that fit a screen: history(), drawing_history,
-- changes(drawing_id, pair_id), dead_letters without payloads and
-- dead_letter_payloads(), report() opening with totals and bounded.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;
SET search_path = buildtrace, public;

-- Drawing H-1: a wall added, then moved, then a pair that fails; H-2: one
-- pair; all of one job.
INSERT INTO pairs (drawing_id, job_id, version_a, version_b, latency_ms) VALUES
    ('H-1', 'h-job', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]', 10),
    ('H-1', 'h-job', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]',
                     '[{"id":"A","type":"wall","x":5,"y":0,"width":1,"height":1}]', 11),
    ('H-1', 'h-job', '[]', '[{"id":"B","x":"far"}]', 12),
    ('H-2', 'h-job', '[]', '[]', NULL);

SELECT pair_id, job_id, status, from_version, added, removed, moved, unchanged, total, summary
FROM history('H-1');
SELECT count(*) AS in_the_last_hour FROM history('H-1', now() - interval '1 hour');
SELECT count(*) AS before_an_hour_ago FROM history('H-1', NULL, now() - interval '1 hour');
SELECT count(*) AS unknown_drawing FROM history('H-9');
SELECT drawing_id, count(*) FROM drawing_history GROUP BY 1 ORDER BY 1;
SELECT * FROM history('H-1', '2026-01-02', '2026-01-01');

-- One past change set, in the shape of changes(drawing_id).
SELECT changes('H-1', 1) - 'computed_at' - 'summary' AS first_change_set;
SELECT changes('H-1', 2) ->> 'summary' AS second;
SELECT changes('H-1', 2) = changes('H-1') AS latest_is_changes;
SELECT changes('H-1', 3);
SELECT changes('H-2', 1);

-- Dead letters print their problems and sizes; the payloads come on request.
SELECT pair_id, drawing_id, problem_count, version_a_bytes, version_b_bytes > 20 AS version_b_sized
FROM dead_letters;
SELECT * FROM dead_letter_payloads(3);
SELECT * FROM dead_letter_payloads(1);

-- report(): totals first, then at most max_pairs pairs and a pointer.
SELECT report('h-job', 2);
SELECT report('h-job') LIKE '%Drawing H-2, pair 4:%' AND report('h-job') NOT LIKE '%more pair%' AS all_shown;
SELECT report('h-job', 0);

-- For the reader role.
CREATE ROLE history_reader IN ROLE buildtrace_reader;
SET ROLE history_reader;
SELECT count(*) AS reader_history FROM history('H-1');
SELECT changes('H-1', 2) ->> 'pair_id' AS reader_change_set;
SELECT version_b FROM dead_letter_payloads(3);
SELECT pair_id, problem_count FROM dead_letters;
RESET ROLE;
DROP ROLE history_reader;

-- history() is the half-open window [since, until), oldest first by
-- processing time: a pair processed at "since" is in it, one at "until" is
-- not, so back-to-back windows neither miss nor repeat a pair, and equal
-- bounds are an empty window, not an error. Here the pair made first was
-- processed last.
INSERT INTO pairs (drawing_id, job_id, version_a, version_b) VALUES
    ('H-3', 'h3-job', '[]', '[]'), ('H-3', 'h3-job', '[]', '[]'), ('H-3', 'h3-job', '[]', '[]');
UPDATE pairs p SET processed_at = timestamptz '2026-03-01 12:00+00' - (p.pair_id - f.first_id) * interval '1 hour'
FROM (SELECT min(pair_id) AS first_id FROM pairs WHERE drawing_id = 'H-3') f
WHERE p.drawing_id = 'H-3';
SELECT string_agg(to_char(processed_at AT TIME ZONE 'UTC', 'HH24:MI'), ' ') AS oldest_first
FROM history('H-3');
SELECT string_agg(to_char(processed_at AT TIME ZONE 'UTC', 'HH24:MI'), ' ') AS from_11_to_12
FROM history('H-3', '2026-03-01 11:00+00', '2026-03-01 12:00+00');
SELECT count(*) AS equal_bounds FROM history('H-3', '2026-03-01 11:00+00', '2026-03-01 11:00+00');

-- A pair still waiting for deferred processing has no history yet and is
-- no dead letter, even if it will fail.
SET buildtrace.processing = deferred;
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('H-4', '[]', '[{"id":"Z","x":"far"}]');
RESET buildtrace.processing;
SELECT status FROM pairs WHERE drawing_id = 'H-4';
SELECT count(*) AS pending_in_history FROM history('H-4');
SELECT count(*) AS pending_in_drawing_history FROM drawing_history WHERE drawing_id = 'H-4';
SELECT count(*) AS pending_dead_letters FROM dead_letters WHERE drawing_id = 'H-4';

-- open_anomalies lists the anomalies not yet resolved, and no other.
INSERT INTO anomalies (kind, severity, drawing_id, details, resolved_at) VALUES
    ('missing_upload', 'medium', 'H-5', '{}', NULL),
    ('missing_upload', 'medium', 'H-5', '{}', now());
SELECT count(*) AS open_of_two FROM open_anomalies WHERE drawing_id = 'H-5';
