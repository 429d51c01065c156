-- One bad pair never costs a statement its good ones: a latency that is no
-- duration, a coordinate beyond double precision, a result beyond jsonb's size
-- each fail their own pair, with a problem and an anomaly, while the other
-- rows are stored.  Nesting beyond the stack is no failure.
-- retry_of and the version links are checked.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

\i test/data/walls.sql

-- One statement: good pairs around each kind of bad one.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
VALUES ('good', 'mixed', pg_temp.walls(3), pg_temp.walls(3, 1), 12),
       ('nan', 'mixed', pg_temp.walls(3), pg_temp.walls(3, 1), 'NaN'),
       ('inf', 'mixed', pg_temp.walls(3), pg_temp.walls(3, 1), 'Infinity'),
       ('minus-inf', 'mixed', pg_temp.walls(3), pg_temp.walls(3, 1), '-Infinity'),
       ('negative', 'mixed', pg_temp.walls(3), pg_temp.walls(3, 1), -0.5),
       ('huge', 'mixed', '[{"id":"C","type":"column","x":9e131071,"y":0,"width":1,"height":1}]',
                         '[{"id":"C","type":"column","x":-9e131071,"y":0,"width":1,"height":1}]', 3),
       ('good', 'mixed', pg_temp.walls(3, 1), pg_temp.walls(3, 2), NULL);
SELECT p.pair_id, p.drawing_id, p.status, p.latency_ms,
       p.error -> 0 ->> 'sqlstate' AS sqlstate, p.error -> 0 ->> 'key' AS key,
       p.error -> 0 ->> 'message' AS message, p.error -> 0 ->> 'detail' AS detail
FROM buildtrace.pairs p ORDER BY p.pair_id;
SELECT c.pair_id, c.summary FROM buildtrace.changes c ORDER BY c.pair_id;
SELECT a.kind, a.drawing_id, a.pair_id FROM buildtrace.anomalies a ORDER BY a.pair_id;
SELECT r.drawing_id, r.pairs, r.failed, r.moved, buildtrace.bt_sketch_count(r.reported_latency_ms) AS latencies
FROM buildtrace.hourly_rollups r ORDER BY r.drawing_id;
SELECT drawing_id, problem_count FROM buildtrace.dead_letters ORDER BY pair_id;

-- COPY keeps its good rows too.
COPY buildtrace.pairs (drawing_id, version_a, version_b, latency_ms) FROM stdin;
copy-good	[]	[{"id":"N","type":"note","x":1,"y":1,"width":1,"height":1}]	4
copy-nan	[]	[]	NaN
copy-good	[{"id":"N","type":"note","x":1,"y":1,"width":1,"height":1}]	[]	5
\.
SELECT p.drawing_id, p.status, p.error -> 0 ->> 'key' AS key
FROM buildtrace.pairs p WHERE p.drawing_id LIKE 'copy-%' ORDER BY p.pair_id;

-- Nesting deeper than the stack allows to recurse: the diff copies nested
-- values as they are stored, so the pair is diffed, under a small stack too.
-- (The versions parse at the normal limit; the diff runs under a small one.)
CREATE TEMP TABLE deep AS
SELECT format('[{"id":"1","type":"w","x":0,"y":0,"width":1,"height":1,"a":%s}]',
              repeat('[', 5000) || repeat(']', 5000))::jsonb AS a,
       format('[{"id":"1","type":"w","x":0,"y":0,"width":1,"height":1,"a":%s}]',
              repeat('[', 5001) || repeat(']', 5001))::jsonb AS b;
SET max_stack_depth = '100kB';
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'deep', a, b FROM deep UNION ALL SELECT 'after-deep', '[]', '[]';
RESET max_stack_depth;
SELECT p.drawing_id, p.status, p.error -> 0 ->> 'sqlstate' AS sqlstate,
       p.error -> 0 ->> 'message' AS message
FROM buildtrace.pairs p WHERE p.drawing_id IN ('deep', 'after-deep') ORDER BY p.pair_id;
SELECT c.diff -> 'counts' ->> 'modified' AS modified,
       c.diff -> 'modified' -> 0 -> 'changed' -> 'a' -> 'to' = d.b -> 0 -> 'a' AS nested_value_kept
FROM buildtrace.changes c JOIN buildtrace.pairs p USING (pair_id), deep d
WHERE p.drawing_id = 'deep';

-- A result beyond jsonb's size limit (256 MB) from valid versions of 45 MB
-- each: one object whose long type is named in five lists.  bt_diff raises
-- a clean error; in the pipeline the pair fails alone.
CREATE TEMP TABLE long_type AS
SELECT jsonb_build_array(jsonb_build_object('id', '1', 'type', 'A' || repeat('t', 45000000),
                         'x', 0, 'y', 0, 'width', 1, 'height', 1, 'rotation', 0, 'a', 1)) AS a,
       jsonb_build_array(jsonb_build_object('id', '1', 'type', 'B' || repeat('t', 45000000),
                         'x', 5, 'y', 0, 'width', 2, 'height', 1, 'rotation', 90, 'a', 2)) AS b;
SELECT buildtrace.bt_diff(a, b) IS NULL FROM long_type;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'too-large', a, b FROM long_type UNION ALL SELECT 'after-too-large', '[]', '[]';
SELECT p.drawing_id, p.status, p.error -> 0 ->> 'sqlstate' AS sqlstate,
       p.error -> 0 ->> 'message' AS message
FROM buildtrace.pairs p WHERE p.drawing_id IN ('too-large', 'after-too-large') ORDER BY p.pair_id;
DROP TABLE long_type;

-- In reject mode the bad latency is raised, with the pair named.
SET buildtrace.on_invalid = 'reject';
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
VALUES ('reject', '[]', '[]', 'NaN');
RESET buildtrace.on_invalid;

-- retry_of names a failed pair of the same drawing, once.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of) VALUES ('good', '[]', '[]', 1);
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of) VALUES ('good', '[]', '[]', 2);
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of) VALUES ('nan', '[]', '[]', 999);
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms, retry_of)
VALUES ('nan', pg_temp.walls(3), pg_temp.walls(3, 1), 12, 2)
RETURNING pair_id, status, retry_of;
SELECT a.pair_id, a.resolved_at IS NOT NULL AS resolved
FROM buildtrace.anomalies a WHERE a.pair_id = 2;
SELECT drawing_id FROM buildtrace.dead_letters ORDER BY pair_id;

-- from_version and to_version are versions of the pair's own drawing.
INSERT INTO buildtrace.versions (version_id, drawing_id, payload) VALUES (101, 'v1', '[]'), (102, 'v2', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, from_version, to_version)
VALUES ('v2', '[]', '[]', 101, 102);
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, to_version)
VALUES ('v2', '[]', '[]', 102)
RETURNING drawing_id, status, to_version;

-- A statement whose rows insert pairs themselves: each statement stores its
-- own results.
CREATE FUNCTION pg_temp.inner_pair(n integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
    VALUES ('inner', pg_temp.walls(2), pg_temp.walls(2, n));
    RETURN pg_temp.walls(4, n);
END
$$;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'outer', pg_temp.walls(4), pg_temp.inner_pair(i) FROM generate_series(1, 2) i;
SELECT p.drawing_id, p.status, c.moved
FROM buildtrace.pairs p JOIN buildtrace.changes c USING (pair_id)
WHERE p.drawing_id IN ('inner', 'outer') ORDER BY p.pair_id;
