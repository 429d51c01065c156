-- Benchmark of the change pipeline; run by test/bench/pipeline_bench.sh.
--
-- 10,000 pairs (psql variable n) of 100-object drawings in one INSERT ... SELECT
-- of parsed jsonb or of JSON text, or in one COPY FROM a file, into tables with
-- the same columns:
--   (a) plain    a table with the same columns and indexes, no triggers;
--   (b) pipeline buildtrace.pairs: C row trigger (diff, pair status) and a
--                statement trigger (changes, anomalies, rollups), all in
--                the inserting statement;
--   (c) peer     what a user would write without the extension: a PL/pgSQL
--                row trigger calling a plain-SQL diff and inserting the
--                result and a metrics row.
--   (d) floor    the plain insert, whose SELECT also computes
--                bt_diff(version_a, version_b) of every row and throws it
--                away: no trigger, nothing stored beyond (a). A pipeline
--                that diffs in the inserting statement does at least this,
--                less ~2 us: (d) and (e) fetch each out-of-line version
--                twice (bt_diff, then the toaster); the pipeline once.
--   (e) bare     (d), but the same statement also stores each diff in a
--                table with no key, index or trigger: the least any design
--                that stores change sets in the inserting statement costs.
--   (f) no keys  (b) with the foreign keys of pairs and changes dropped for
--                the run (restored after it): what they cost.
-- Each variant runs :reps times, interleaved, after a CHECKPOINT; medians are
-- reported. The drawings are generated here, deterministically, once, before
-- any timing.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- A drawing of 100 objects. The changed version (b) of seed s drops one
-- object, adds two, moves two, resizes one and recolours one.
CREATE FUNCTION bench.drawing(seed integer, changed boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_agg(o ORDER BY ord)
    FROM (
        SELECT i AS ord, jsonb_build_object(
                   'id', 'O' || i,
                   'type', (ARRAY['wall', 'door', 'window', 'column', 'beam'])[1 + i % 5],
                   'x', ((i * 37 + seed) % 1000) / 10.0
                        + CASE WHEN changed AND i % 50 = seed % 50 THEN 2.5 ELSE 0 END,
                   'y', ((i * 53 + seed) % 1000) / 10.0,
                   'width', 1 + i % 7,
                   'height', 1 + i % 3 + CASE WHEN changed AND i = 1 + (seed * 7) % 100 THEN 1 ELSE 0 END,
                   'layer', 'L' || i % 4,
                   'material', CASE WHEN changed AND i = 1 + (seed * 11) % 100 THEN 'steel' ELSE 'concrete' END) AS o
        FROM generate_series(1, 100) i
        WHERE NOT (changed AND i = 1 + (seed * 3) % 100)
        UNION ALL
        SELECT 100 + k, jsonb_build_object('id', 'N' || k, 'type', 'window', 'x', k, 'y', seed % 100,
                                           'width', 2, 'height', 1, 'layer', 'L0', 'material', 'glass')
        FROM generate_series(1, 2) k
        WHERE changed) s
$$;

CREATE UNLOGGED TABLE bench.src AS
SELECT 'drawing-' || (s % 500) AS drawing_id, bench.drawing(s, false) AS version_a,
       bench.drawing(s, true) AS version_b, s AS ord
FROM generate_series(1, :n) s;
ANALYZE bench.src;
-- The same pairs as JSON text, as a client or COPY sends them: the INSERT
-- then parses the JSON in every variant.
CREATE UNLOGGED TABLE bench.src_text AS
SELECT drawing_id, version_a::text AS version_a, version_b::text AS version_b, ord FROM bench.src;
-- And as a file for COPY FROM, bulk ingestion's way in (source 'copy'). COPY
-- writes it to the server's data directory (the benchmark runs as superuser
-- in a throwaway cluster); it is overwritten by the next run.
CREATE FUNCTION bench.copy_file() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT current_setting('data_directory') || '/buildtrace_bench_pairs.copy'
$$;
SELECT bench.copy_file() AS copy_file \gset
COPY (SELECT drawing_id, version_a, version_b FROM bench.src_text ORDER BY ord) TO :'copy_file';

-- (a) plain: the same columns, defaults, identity and indexes as pairs.
CREATE TABLE bench.plain (LIKE buildtrace.pairs INCLUDING ALL);

-- (d) floor: the plain insert plus computing (not storing) the diff.
CREATE TABLE bench.floor (LIKE buildtrace.pairs INCLUDING ALL);
-- (e) bare: (d)'s table for the pairs, and one for their diffs.
CREATE TABLE bench.bare (LIKE buildtrace.pairs INCLUDING ALL);
CREATE TABLE bench.bare_changes (ord integer, diff jsonb);

-- (f) no keys: the foreign keys that (f) drops, to put them back after.
CREATE TABLE bench.dropped_keys AS
SELECT conrelid::regclass AS rel, conname, pg_get_constraintdef(oid) AS def
FROM pg_constraint
WHERE contype = 'f' AND conrelid IN ('buildtrace.pairs'::regclass, 'buildtrace.changes'::regclass);

CREATE PROCEDURE bench.set_keys(present boolean)
LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT * FROM bench.dropped_keys LOOP
        IF present AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = k.rel AND conname = k.conname) THEN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.rel, k.conname, k.def);
        ELSIF NOT present THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', k.rel, k.conname);
        END IF;
    END LOOP;
END
$$;

\ir peer.sql

CREATE TABLE bench.timing (source text, variant text, rep integer, ms float8);

-- One timed run of a variant, from an empty target. source 'jsonb' reads
-- parsed jsonb (the pipeline's cost is then all there is beyond copying);
-- 'text' reads JSON text and parses it in the INSERT, like ingestion does.
CREATE PROCEDURE bench.run(source text, variant text, rep integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    src text := CASE source WHEN 'jsonb' THEN 'bench.src' ELSE 'bench.src_text' END;
    target text := CASE variant WHEN 'a plain' THEN 'bench.plain'
                                WHEN 'c peer' THEN 'bench.peer_pairs'
                                ELSE 'buildtrace.pairs' END;
    pairs_from text := format('(SELECT drawing_id, version_a::jsonb AS a, version_b::jsonb AS b, ord
                               FROM %s ORDER BY ord OFFSET 0) s', src);
BEGIN
    CASE variant
    WHEN 'a plain' THEN TRUNCATE bench.plain;
    WHEN 'c peer' THEN TRUNCATE bench.peer_pairs, bench.peer_changes, bench.peer_metrics;
    WHEN 'd floor' THEN TRUNCATE bench.floor;
    WHEN 'e bare' THEN TRUNCATE bench.bare, bench.bare_changes;
    ELSE TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
                  buildtrace.drawing_state CASCADE;
    END CASE;
    CALL bench.set_keys(variant <> 'f no keys');
    COMMIT;
    CHECKPOINT;
    t0 := clock_timestamp();
    CASE
    WHEN source = 'copy' THEN
        EXECUTE format('COPY %s (drawing_id, version_a, version_b) FROM %L', target, bench.copy_file());
    WHEN variant = 'd floor' THEN
        EXECUTE format('INSERT INTO bench.floor (drawing_id, version_a, version_b)
                        SELECT drawing_id, a, b FROM %s
                        WHERE buildtrace.bt_diff(a, b) IS NOT NULL', pairs_from);
    WHEN variant = 'e bare' THEN
        EXECUTE format('WITH d AS (SELECT drawing_id, a, b, ord, buildtrace.bt_diff(a, b) AS diff FROM %s),
                             stored AS (INSERT INTO bench.bare_changes SELECT ord, diff FROM d)
                        INSERT INTO bench.bare (drawing_id, version_a, version_b)
                        SELECT drawing_id, a, b FROM d', pairs_from);
    ELSE
        EXECUTE format('INSERT INTO %s (drawing_id, version_a, version_b) SELECT drawing_id, a, b FROM %s',
                       target, pairs_from);
    END CASE;
    COMMIT;
    INSERT INTO bench.timing VALUES (source, variant, rep, extract(epoch FROM clock_timestamp() - t0) * 1000);
    COMMIT;
    CALL bench.set_keys(true);
    COMMIT;
END
$$;

SELECT format('CALL bench.run(%L, %L, %s)', s, v, r)
FROM generate_series(1, :reps) r, unnest(ARRAY['jsonb', 'text', 'copy']) s,
     unnest(ARRAY['a plain', 'b pipeline', 'c peer', 'd floor', 'e bare', 'f no keys']) v
-- (d) and (e) compute in a SELECT, which COPY has not.
WHERE s <> 'copy' OR v IN ('a plain', 'b pipeline', 'c peer', 'f no keys')
ORDER BY r, s, v
\gexec

-- Every variant did its work (pipeline: the last run, of (f); (b) is the
-- same code with the keys in place), and the keys are back.
SELECT (SELECT count(*) FROM buildtrace.pairs WHERE status = 'done') AS pipeline_done,
       (SELECT count(*) FROM buildtrace.changes) AS pipeline_changes,
       (SELECT count(*) FROM bench.peer_changes) AS peer_changes,
       (SELECT count(*) FROM bench.floor) AS floor_rows,
       (SELECT count(*) FROM bench.bare_changes WHERE diff IS NOT NULL) AS bare_changes,
       (SELECT round(avg(total), 1) FROM buildtrace.changes) AS avg_changes_per_pair,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY processing_us) FROM buildtrace.changes) AS median_diff_us;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM bench.dropped_keys k
               WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c
                                 WHERE c.conrelid = k.rel AND c.conname = k.conname)) THEN
        RAISE EXCEPTION 'the benchmark left foreign keys of the pipeline dropped';
    END IF;
END
$$;

\echo
\echo Times in ms, median of :reps runs (2-core machine shared with other work: noisy).
\echo source jsonb: the SELECT yields parsed jsonb; source text: it yields JSON text, parsed by the INSERT;
\echo source copy: COPY FROM a file of JSON text.
WITH m AS (
    SELECT source, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median_ms,
           min(ms) AS min_ms, max(ms) AS max_ms
    FROM bench.timing GROUP BY source, variant)
SELECT source, variant, :n AS pairs, round(median_ms::numeric, 0) AS median_ms,
       round(min_ms::numeric, 0) AS min_ms, round(max_ms::numeric, 0) AS max_ms,
       round((median_ms * 1000 / :n)::numeric, 1) AS us_per_pair
FROM m ORDER BY source, variant;

\echo Ratios. Targets, on the rows of (b): "x plain" <= 2 and "peer / it" >= 6.
WITH m AS (SELECT source, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
           FROM bench.timing GROUP BY source, variant)
SELECT v.source, v.variant, round((v.ms * 1000 / :n)::numeric, 1) AS us_per_pair,
       round((v.ms / a.ms)::numeric, 2) AS "x plain",
       round((c.ms / v.ms)::numeric, 2) AS "peer / it"
FROM m v JOIN m a ON a.source = v.source AND a.variant = 'a plain'
         JOIN m c ON c.source = v.source AND c.variant = 'c peer'
ORDER BY v.source, v.variant;

\echo (d) floor computes bt_diff and stores nothing more, (e) bare also stores it in a table
\echo without keys or indexes: whatever a design adds, a pipeline that diffs in the inserting
\echo statement costs about (d) or more, and one that stores the change set there about (e)
\echo or more (both fetch out-of-line versions twice, which the pipeline does not: ~2 us).

DROP SCHEMA bench CASCADE;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state CASCADE;
