-- The pairs and versions the load's pgbench scripts insert (pairs.pgbench,
-- versions.pgbench), generated before any clock starts, so that a run times
-- the pipeline, not the simulator: 1,000 pairs of 60 objects (10 % changed,
-- 5 % malformed), and six versions of each of 16 drawings. Used by the load
-- test and the crash test.
CREATE TABLE load_pairs AS
SELECT pair_no AS n, version_a, version_b FROM buildtrace.generate_pairs(1000, 60, 0.1, 42, 0.05);
ALTER TABLE load_pairs ADD PRIMARY KEY (n);
CREATE TABLE load_versions AS
SELECT d, v.version_no AS v, v.payload
FROM generate_series(1, 16) d, buildtrace.generate_versions(1, 6, 60, 0.1, d * 7) v;
ALTER TABLE load_versions ADD PRIMARY KEY (d, v);
