-- The JSON API: process() with both seed shapes, changes(), report().
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state RESTART IDENTITY CASCADE;

-- Seed 000's curl body: versions as JSON text inside JSON strings.
SELECT buildtrace.process($${
    "job_id": "seed-000",
    "version_pairs": [
      {
        "drawing_id": "test-drawing-1",
        "version_a": "[{\"id\": \"A1\", \"type\": \"wall\", \"x\": 10, \"y\": 5, \"width\": 8, \"height\": 1}]",
        "version_b": "[{\"id\": \"A1\", \"type\": \"wall\", \"x\": 10, \"y\": 5, \"width\": 8, \"height\": 1}, {\"id\": \"W1\", \"type\": \"window\", \"x\": 3, \"y\": 1, \"width\": 2, \"height\": 1}]"
      }
    ]
}$$);
SELECT jsonb_typeof(version_a) AS a_type, jsonb_array_length(version_b) AS b_objects, status
FROM buildtrace.pairs WHERE job_id = 'seed-000';
SELECT c - 'computed_at' - 'summary' AS changes,
       jsonb_typeof(c -> 'summary') AS summary, jsonb_typeof(c -> 'computed_at') AS computed_at
FROM buildtrace.changes('test-drawing-1') c;

-- The same with JSON values, several pairs, one invalid (kept, failed), and
-- a string that is not JSON text (kept as a string, so it fails validation).
-- Without a job_id one is generated.
SELECT r ->> 'message' AS message, r -> 'tasks_created' AS tasks_created,
       r ->> 'job_id' ~ '^[0-9a-f-]{36}$' AS generated_job_id
FROM buildtrace.process($${"version_pairs": [
    {"drawing_id": "p1", "version_a": [], "version_b": [{"id": "D1", "type": "door", "x": 1, "y": 1, "width": 1, "height": 2}]},
    {"drawing_id": "p1", "version_a": [{"id": "D1", "type": "door", "x": 1, "y": 1, "width": 1, "height": 2}],
                         "version_b": [{"id": "D1", "type": "door", "x": 4, "y": 1, "width": 1, "height": 2}]},
    {"drawing_id": "p2", "version_a": [], "version_b": "{not json"}
]}$$) r;
SELECT drawing_id, status, version_b FROM buildtrace.pairs WHERE drawing_id = 'p2';
-- The latest change set of p1 is its second pair: D1 moved.
SELECT c -> 'pair_id' AS pair_id, c -> 'counts' AS counts, c -> 'moved' -> 0 ->> 'id' AS moved
FROM buildtrace.changes('p1') c;
-- The drawing's state names its latest change set; if that one is deleted by
-- hand, the newest by computed_at (ties by pair_id) is the latest.
BEGIN;
DELETE FROM buildtrace.changes c USING buildtrace.drawing_state s
WHERE s.drawing_id = 'p1' AND c.pair_id = s.last_pair_id;
SELECT c -> 'pair_id' AS pair_id, c -> 'added' -> 0 ->> 'id' AS added
FROM buildtrace.changes('p1') c;
ROLLBACK;

-- Seed 003's job states: a map of file paths to content hashes plus
-- metadata. Each state is a version of the "default" drawing; the first has
-- nothing to compare with.
SELECT r - 'job_id' AS response FROM buildtrace.process($$[
    {"job_id": "122", "timestamp": "2024-05-01T10:00:00Z", "latency_ms": 800,
     "src/a.c": "9f2c", "src/b.c": "11aa", "README": "77"},
    {"job_id": "123", "timestamp": "2024-05-01T11:00:00Z", "latency_ms": 950,
     "src/a.c": "9f2d", "src/c.c": "3b3b", "README": "77"}
]$$) r;
-- {"jobs": [...]} with the objects under "objects", after the others in time.
SELECT buildtrace.process($${"job_id": "batch-2", "jobs": [
    {"job_id": "124", "timestamp": "2024-05-01T12:00:00Z", "latency_ms": 700,
     "objects": {"src/a.c": "9f2d", "src/c.c": "3b3c"}}
]}$$);
SELECT job_id, from_version, to_version, status FROM buildtrace.pairs
WHERE drawing_id = 'default' ORDER BY pair_id;
SELECT buildtrace.report('122');
SELECT buildtrace.report('123');
SELECT buildtrace.report('124');
SELECT buildtrace.report('seed-000') LIKE E'BuildTrace report for job seed-000\n1 pair: 1 done, 0 failed, 0 pending.\n%\nDrawing test-drawing-1, pair 1:\n%  Added: 1 (W1)\n%' AS seed_report;
-- A failed pair's report says why.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
VALUES ('bad', 'job-bad', '[]', '[{"id": "Q", "x": "far"}]', 12.5);
SELECT buildtrace.report('job-bad');

-- Bad requests and unknown names.
\set SHOW_CONTEXT never
SELECT buildtrace.process('{"storage_path": "gs://bucket/drawings"}');
SELECT buildtrace.process('{"pairs": []}');
SELECT buildtrace.process('"hello"');
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "x", "version_a": []}]}');
SELECT buildtrace.process('{"version_pairs": [{"version_a": [], "version_b": []}]}');
SELECT buildtrace.process('{"version_pairs": [17]}');
SELECT buildtrace.process('{"job_id": {"a": 1}, "version_pairs": []}');
SELECT buildtrace.process('[{"job_id": "9", "timestamp": "yesterday-ish"}]');
SELECT buildtrace.process('[{"job_id": "9", "timestamp": "2024-05-01 10:00 Mars/Base"}]');
SELECT buildtrace.process('[{"job_id": "9", "timestamp": "2024-05-01 10:00+99:00"}]');
SELECT buildtrace.process('{"drawing_id": "", "jobs": [{"job_id": "9", "objects": []}]}');
SELECT buildtrace.process('{"drawing_id": ["x"], "jobs": [{"job_id": "9", "objects": []}]}');
-- A latency that is no number, or beyond double precision, is named; one
-- that is no duration is stored, and its pair fails in the pipeline.
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "x", "version_a": [], "version_b": []},
                                              {"drawing_id": "y", "version_a": [], "version_b": [], "latency_ms": "fast"}]}');
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "x", "version_a": [], "version_b": [], "latency_ms": 1e400}]}');
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "x", "version_a": [], "version_b": [], "latency_ms": {"a": 1}}]}');
SELECT buildtrace.process('[{"objects": []}, {"job_id": "8", "objects": [], "latency_ms": "slow"}]');
SELECT buildtrace.process('[{"job_id": "7", "drawing_id": "", "objects": []}]');
SELECT buildtrace.process('{"job_id": "api-neg", "version_pairs": [{"drawing_id": "api-neg", "version_a": [], "version_b": [], "latency_ms": -3},
                                              {"drawing_id": "api-neg", "version_a": [], "version_b": [], "latency_ms": "4.5"}]}');
-- A version string that cannot be stored as JSON (a NUL character, nesting
-- beyond the stack) is kept as the string, and its pair fails.
SELECT buildtrace.process(jsonb_build_object('job_id', 'api-bad-json', 'version_pairs', jsonb_build_array(
    jsonb_build_object('drawing_id', 'api-nul', 'version_a', '[]', 'version_b', '[{"id":"\u0000"}]'),
    jsonb_build_object('drawing_id', 'api-deep', 'version_a', '[]', 'version_b', repeat('[', 200000)))));
SELECT drawing_id, status, latency_ms, error -> 0 ->> 'key' AS key, left(error -> 0 ->> 'message', 40) AS message
FROM buildtrace.pairs WHERE drawing_id IN ('api-neg', 'api-nul', 'api-deep') ORDER BY pair_id;
SELECT buildtrace.changes('no-such-drawing');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT buildtrace.changes('bad');
SELECT buildtrace.report('no-such-job');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
\set SHOW_CONTEXT errors
-- An empty list is a valid, empty request.
SELECT buildtrace.process('{"job_id": "empty", "version_pairs": []}');
SELECT buildtrace.changes(NULL) IS NULL AS strict;

-- A job state whose paths include one named "state" keeps all its paths; a
-- state of only "objects" is that map.
SELECT buildtrace.process('{"job_id": "paths", "drawing_id": "api-paths", "jobs": [
    {"job_id": "p1", "src/a.c": "9f2c", "state": "77aa"},
    {"job_id": "p2", "objects": {"src/a.c": "9f2d"}}]}') ->> 'tasks_created' AS states;
SELECT job_id, payload FROM buildtrace.versions WHERE drawing_id = 'api-paths' ORDER BY version_id;
\set SHOW_CONTEXT never
-- Pairs and job states in one request are refused, not half taken.
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "b1", "version_a": [], "version_b": []}],
                            "jobs": [{"drawing_id": "b2", "x": "1"}]}');
-- An element's job_id is a string or a number, as the request's is.
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "j1", "job_id": {"a": 1}, "version_a": [], "version_b": []}]}');
SELECT buildtrace.process('[{"job_id": [1], "objects": []}]');
-- An id longer than the tables take (2000 bytes) is refused with where it
-- is, before the element's other checks quote it; a number counts by its
-- digits, a value of another type is no id.
SELECT buildtrace.process(jsonb_build_object('version_pairs', jsonb_build_array(
    jsonb_build_object('drawing_id', 'long-ok', 'version_a', '[]'::jsonb, 'version_b', '[]'::jsonb),
    jsonb_build_object('drawing_id', 'long-1', 'job_id', repeat('j', 3000), 'version_a', '[]'::jsonb, 'version_b', '[]'::jsonb))));
SELECT buildtrace.process(jsonb_build_object('version_pairs', jsonb_build_array(
    jsonb_build_object('drawing_id', repeat('d', 2001), 'version_a', '[]'::jsonb, 'version_b', '[]'::jsonb))));
SELECT buildtrace.process('[{"job_id": "long-2", "drawing_id": 1e2500, "objects": []}]');
SELECT buildtrace.process(jsonb_build_object('job_id', repeat('j', 2001), 'jobs', '[{"objects": []}]'::jsonb));
SELECT buildtrace.process(jsonb_build_array(jsonb_build_object('job_id', repeat('J', 100000), 'drawing_id', '')));
SELECT buildtrace.process(jsonb_build_object('version_pairs', jsonb_build_array(jsonb_build_object(
    'drawing_id', 'd1', 'job_id', jsonb_build_array(repeat('x', 2500)), 'version_a', '[]'::jsonb, 'version_b', '[]'::jsonb))));
-- an id of up to 2000 bytes is quoted in other details as an excerpt
SELECT buildtrace.process(jsonb_build_array(jsonb_build_object('drawing_id', 'ok', 'job_id', repeat('j', 2000), 'latency_ms', 'x')));
-- 2000 bytes exactly is an id like any other
SELECT buildtrace.process(jsonb_build_object('version_pairs', jsonb_build_array(
    jsonb_build_object('drawing_id', repeat('e', 2000), 'version_a', '[]'::jsonb, 'version_b', '[]'::jsonb)))) ->> 'message' AS at_2000;
-- A request that is no request says what it got, its keys cut short.
SELECT buildtrace.process('{}');
SELECT buildtrace.process(NULL);
SELECT buildtrace.process(jsonb_build_object(repeat('k', 100000), 1));
-- an array of strings is a list of job states with bad elements, not a
-- request with both keys
SELECT buildtrace.process('["jobs", "version_pairs"]');
\set SHOW_CONTEXT errors
-- The checks run in an exception block (a subtransaction), which parallel
-- mode forbids: forced parallel plans leave process() working.
SET force_parallel_mode = on;
SELECT buildtrace.process('{"version_pairs": [{"drawing_id": "par-1", "version_a": [], "version_b": [], "latency_ms": 5}]}') ->> 'message' AS pairs;
SELECT buildtrace.process('[{"drawing_id": "par-2", "objects": [], "latency_ms": "5"}]') ->> 'message' AS states;
-- The same for the readers' functions that check their window.
SELECT buildtrace.health() ? 'status' AS health, buildtrace.metrics() ? 'pairs' AS metrics,
       buildtrace.report_html() LIKE '<!DOCTYPE html>%' AS report_html;
RESET force_parallel_mode;

-- report() with max_pairs equal to the job's pairs shows them all, with no
-- pointer to more.
SELECT buildtrace.report('seed-000', 1) NOT LIKE '%more pair%' AS all_shown_at_max_pairs;
-- With the latest change set deleted by hand, the newest of the rest is the
-- one of the highest pair_id among those of one computed_at (three pairs of
-- one statement).
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES
    ('api-tie', '[]', '[{"id": "T1", "type": "door", "x": 1, "y": 1, "width": 1, "height": 2}]'),
    ('api-tie', '[]', '[{"id": "T2", "type": "door", "x": 1, "y": 1, "width": 1, "height": 2}]'),
    ('api-tie', '[]', '[{"id": "T3", "type": "door", "x": 1, "y": 1, "width": 1, "height": 2}]');
BEGIN;
DELETE FROM buildtrace.changes c USING buildtrace.drawing_state s
WHERE s.drawing_id = 'api-tie' AND c.pair_id = s.last_pair_id;
SELECT buildtrace.changes('api-tie') -> 'added' -> 0 ->> 'id' AS latest_left;
ROLLBACK;

-- A pair's own job_id wins over the request's: one pair list can carry the
-- pairs of several jobs, and report(job_id) finds each.
SELECT buildtrace.process('{"job_id": "api-outer", "version_pairs": [
    {"drawing_id": "api-own", "job_id": "api-inner", "version_a": [], "version_b": []},
    {"drawing_id": "api-own", "version_a": [], "version_b": []}]}') ->> 'message' AS own_job;
SELECT job_id FROM buildtrace.pairs WHERE drawing_id = 'api-own' ORDER BY pair_id;
-- A job state's own drawing_id wins over the request's, which is only the
-- drawing of the states that name none; a state's timestamp is its upload
-- time.
SELECT buildtrace.process('{"job_id": "api-dr", "drawing_id": "api-req", "jobs": [
    {"job_id": "api-d1", "drawing_id": "api-elem", "timestamp": "2024-06-01T10:00:00Z", "objects": []},
    {"job_id": "api-d2", "timestamp": "2024-06-01T11:00:00Z", "objects": []}]}') ->> 'tasks_created' AS states;
SELECT job_id, drawing_id, uploaded_at AT TIME ZONE 'UTC' AS uploaded_utc
FROM buildtrace.versions WHERE job_id IN ('api-d1', 'api-d2') ORDER BY version_id;
-- A list under "objects" is the version's objects, as a map there is; next
-- to other paths, "objects" is one path of the map.
SELECT buildtrace.process('{"job_id": "api-obj", "jobs": [
    {"drawing_id": "api-obj-1", "objects": [{"id": "A", "type": "wall", "x": 0, "y": 0, "width": 1, "height": 1}]},
    {"drawing_id": "api-obj-2", "objects": {"src/a.c": "1"}, "src/b.c": "2"}]}') ->> 'message' AS objects;
SELECT drawing_id, payload FROM buildtrace.versions WHERE job_id = 'api-obj' ORDER BY version_id;
-- report() accounts for every state of a job: each first version of its
-- drawings, also beside pairs; a version no pair compares that is not the
-- first of its drawing (a state dated before it came later) is not called
-- the first.
SELECT buildtrace.process('{"job_id": "api-firsts", "jobs": [{"drawing_id": "api-f1", "a": "1"},
    {"drawing_id": "api-f2", "a": "1"}, {"drawing_id": "api-f3", "a": "1"}]}') ->> 'tasks_created' AS states;
SELECT regexp_replace(buildtrace.report('api-firsts'), 'version [0-9]+', 'version N', 'g') AS report;
SELECT buildtrace.process('{"job_id": "api-mixed", "jobs": [{"drawing_id": "api-f1", "a": "2"},
    {"drawing_id": "api-f4", "a": "1"}]}') ->> 'tasks_created' AS states;
SELECT buildtrace.report('api-mixed') ~ E'Drawing api-f1, pair [0-9]+:.*\nDrawing api-f4, version [0-9]+: first version of the drawing' AS pair_then_first;
SELECT buildtrace.process('{"drawing_id": "api-late", "jobs": [
    {"job_id": "api-l1", "timestamp": "2024-05-01T10:00Z", "a.c": "1"},
    {"job_id": "api-l2", "timestamp": "2024-05-01T09:00Z", "a.c": "2"}]}') ->> 'tasks_created' AS states;
SELECT buildtrace.process('{"drawing_id": "api-late", "jobs": [
    {"job_id": "api-l0", "timestamp": "2024-05-01T08:00Z", "a.c": "0"}]}') ->> 'tasks_created' AS states;
SELECT regexp_replace(buildtrace.report('api-l2'), 'version [0-9]+', 'version N', 'g') AS report;
-- An id longer than any stored one is named by its first characters.
SELECT buildtrace.report(repeat('x', 3000));
SELECT buildtrace.changes(repeat('y', 3000));
SELECT buildtrace.changes(repeat('z', 3000), 1);
-- "version_pairs" or "jobs" that is no list says so.
SELECT buildtrace.process('{"version_pairs": {}}');
SELECT buildtrace.process('{"jobs": "[]"}');
