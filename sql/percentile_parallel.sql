-- bt_percentile / bt_sketch under a forced parallel plan (combine, serialize,
-- deserialize) give the serial answer; a table of sketches survives
-- pg_dump | pg_restore.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = public, buildtrace;
SET extra_float_digits = 0;

-- Not a temp table: parallel workers cannot read those.
CREATE TABLE bt_par AS
SELECT g, CASE WHEN g % 5 = 0 THEN -1 ELSE 1 END * exp((hashint4(g)::float8 + 2147483649) / 4294967298 * 12) AS x
FROM generate_series(1, 200000) g;
INSERT INTO bt_par VALUES (0, 0), (-1, NULL);
ANALYZE bt_par;

CREATE TABLE bt_serial AS
SELECT bt_percentile(x, 0.99) AS p99, bt_percentile(x, ARRAY[0.5, 0.95, 0.99]) AS ps,
       bt_sketch(x)::text AS sk, bt_percentile(x, 0.5, 0.001) AS p50_fine
FROM bt_par;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT bt_percentile(x, 0.99), bt_percentile(x, ARRAY[0.5, 0.95, 0.99]), bt_sketch(x), bt_percentile(x, 0.5, 0.001)
FROM bt_par;
SELECT p.p99 = s.p99 AS scalar_same, p.ps = s.ps AS array_same, p.sk = s.sk AS sketch_same,
       p.p50_fine = s.p50_fine AS fine_same
FROM bt_serial s,
     (SELECT bt_percentile(x, 0.99) AS p99, bt_percentile(x, ARRAY[0.5, 0.95, 0.99]) AS ps,
             bt_sketch(x)::text AS sk, bt_percentile(x, 0.5, 0.001) AS p50_fine
      FROM bt_par) p;

-- Grouped and merged in parallel: per-group sketches, then a parallel merge.
CREATE TABLE bt_rollup AS SELECT g % 24 AS hour, bt_sketch(x) AS s FROM bt_par GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT bt_sketch_merge(s) FROM bt_rollup;
SELECT bt_sketch_merge(s)::text = (SELECT sk FROM bt_serial) AS rollup_merge_equals_whole FROM bt_rollup;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- Dump and restore: pg_dump -Fc of the rollup table, TRUNCATE, pg_restore,
-- and the sketches (text out -> in) are unchanged.
CREATE TABLE bt_rollup_before AS SELECT hour, s::text AS t FROM bt_rollup;
\setenv BT_DB :DBNAME
\! f=$(mktemp) && pg_dump -Fc --data-only --table=public.bt_rollup "$BT_DB" > "$f" && psql -qX -c 'TRUNCATE public.bt_rollup' "$BT_DB" && pg_restore --data-only -d "$BT_DB" "$f"; rm -f "$f"
SELECT count(*) AS restored_rows,
       count(*) FILTER (WHERE b.t IS NOT DISTINCT FROM r.s::text) AS identical
FROM bt_rollup r JOIN bt_rollup_before b USING (hour);

DROP TABLE bt_par, bt_serial, bt_rollup, bt_rollup_before;
