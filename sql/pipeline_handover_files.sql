-- A statement's results wait for its statement trigger in stores that spill
-- to temporary files past work_mem.  Those files must outlive the statement
-- that made them: an INSERT whose rows were all skipped, in a query of
-- several, leaves its results to be freed at commit.  And when two rows of
-- one statement share a pair_id, one of them skipped, nothing tells whose
-- result is the stored row's: the statement is refused.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

\i test/data/walls.sql

-- Pair 1 fails and pair 2 retries it, so a second retry of it is skipped.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('spill', '[]', '{"bad": 1}');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of) VALUES ('spill', '[]', '[]', 1);
CREATE TABLE bystander AS SELECT i, md5(i::text) AS h FROM generate_series(1, 20000) i;

-- The skipped INSERT's results (3 pairs of 2,000 objects) spill to disk.
SET work_mem = '64kB';
WITH big AS MATERIALIZED (SELECT pg_temp.walls(2000) AS v),
     kept AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
              VALUES ('spill', '[]', pg_temp.walls(2)) RETURNING pair_id),
     skipped AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
                 SELECT 'spill', '[]', big.v, 1 FROM big, generate_series(1, 3)
                 ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING RETURNING pair_id)
SELECT (SELECT count(*) FROM kept) AS kept, (SELECT count(*) FROM skipped) AS skipped;

-- The same in a transaction that opens another table's file (in a new
-- session, where it is not open yet) before its commit: the commit frees the
-- left-over results, and writes nothing of theirs into that file.
\c
\i test/data/walls.sql
SET work_mem = '64kB';
BEGIN;
WITH big AS MATERIALIZED (SELECT pg_temp.walls(2000) AS v),
     kept AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
              VALUES ('spill', '[]', pg_temp.walls(3)) RETURNING pair_id),
     skipped AS (INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
                 SELECT 'spill', '[]', big.v, 1 FROM big, generate_series(1, 3)
                 ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING RETURNING pair_id)
SELECT (SELECT count(*) FROM kept) AS kept, (SELECT count(*) FROM skipped) AS skipped;
SELECT count(*) FROM bystander;
COMMIT;

-- With the statement trigger disabled (an owner's bulk load), every
-- statement's results are left over until commit.
ALTER TABLE buildtrace.pairs DISABLE TRIGGER pairs_process;
BEGIN;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'unprocessed', '[]', pg_temp.walls(2000) FROM generate_series(1, 3);
SELECT count(*) FROM buildtrace.versions;
COMMIT;
ALTER TABLE buildtrace.pairs ENABLE TRIGGER pairs_process;
RESET work_mem;
SELECT pg_relation_size('bystander') % current_setting('block_size')::int AS partial_page_bytes;
SELECT count(*), sum(i), bool_and(h = md5(i::text)) AS intact FROM bystander;

SELECT p.pair_id, p.status, c.added, c.summary
FROM buildtrace.pairs p LEFT JOIN buildtrace.changes c USING (pair_id)
WHERE p.drawing_id = 'spill'
ORDER BY p.pair_id;
SELECT p.status, count(*) FROM buildtrace.pairs p WHERE p.drawing_id = 'unprocessed' GROUP BY 1;
SELECT drawing_id, pairs, failed FROM buildtrace.hourly_rollups ORDER BY drawing_id;

-- Two rows given pair_id 500 (as an owner's import may), the first skipped
-- as a second retry of pair 1.
INSERT INTO buildtrace.pairs (pair_id, drawing_id, version_a, version_b, retry_of)
OVERRIDING SYSTEM VALUE
VALUES (500, 'spill', '[]', pg_temp.walls(3), 1), (500, 'spill', '[]', pg_temp.walls(6), NULL)
ON CONFLICT DO NOTHING;
SELECT count(*) AS pairs_of_dup FROM buildtrace.pairs WHERE pair_id >= 500;
-- Given once each, they are stored with their own results.
INSERT INTO buildtrace.pairs (pair_id, drawing_id, version_a, version_b, retry_of)
OVERRIDING SYSTEM VALUE
VALUES (501, 'spill', '[]', pg_temp.walls(3), 1), (500, 'spill', '[]', pg_temp.walls(6), NULL)
ON CONFLICT DO NOTHING;
SELECT p.pair_id, p.status, c.added FROM buildtrace.pairs p JOIN buildtrace.changes c USING (pair_id)
WHERE p.pair_id >= 500 ORDER BY p.pair_id;

DROP TABLE bystander;
