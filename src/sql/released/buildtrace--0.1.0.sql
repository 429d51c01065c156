-- buildtrace install script. Built by the Makefile from src/sql/*.sql in name
-- order; each part owns one concept.
--
-- Security (PostgreSQL docs, "Security Considerations for Extensions"): the
-- schema is fixed (buildtrace, not relocatable), every object is created with a
-- qualified name, every SQL-language or PL/pgSQL function pins search_path,
-- and no function is SECURITY DEFINER unless a comment beside it says why.

\echo Use "CREATE EXTENSION buildtrace" to load this file. \quit

REVOKE ALL ON SCHEMA buildtrace FROM PUBLIC;

-- current_setting() for buildtrace.* parameters that loads the module first.
CREATE FUNCTION buildtrace.setting(name text)
RETURNS text
AS 'MODULE_PATHNAME', 'bt_setting'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Diffing drawing versions (src/drawing.c, src/diff.c, src/summary.c).
-- bt_diff and bt_try_diff read the tolerance GUCs when an argument is NULL,
-- so they are STABLE; none of them is STRICT because NULL tolerances are
-- meaningful (a NULL version gives NULL).

CREATE FUNCTION buildtrace.bt_diff(a jsonb, b jsonb,
                                   move_tolerance float8 DEFAULT NULL,
                                   size_tolerance float8 DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_diff'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_diff(jsonb, jsonb, float8, float8) IS
'Changes from drawing version a to version b: added, removed, moved, resized, retyped, modified, counts and a summary. Raises an error for invalid input.';

CREATE FUNCTION buildtrace.bt_try_diff(a jsonb, b jsonb,
                                       move_tolerance float8 DEFAULT NULL,
                                       size_tolerance float8 DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_try_diff'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_try_diff(jsonb, jsonb, float8, float8) IS
'bt_diff, or {"problems": [...]} listing every problem of both versions instead of raising an error.';

CREATE FUNCTION buildtrace.bt_validate(v jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_validate(jsonb) IS
'Every problem of one drawing version as a JSON array; [] when it is valid.';

-- ---------------------------------------------------------------------------
-- Percentiles with a relative error bound: the bt_sketch type, the
-- bt_percentile / bt_sketch / bt_sketch_merge aggregates and readers.
-- A DDSketch-style logarithmic sketch (src/sketch.c): every estimate is
-- within relative_accuracy * |true value| of the true order statistic.
-- All C, immutable, parallel safe.
-- ---------------------------------------------------------------------------

CREATE TYPE buildtrace.bt_sketch;

CREATE FUNCTION buildtrace.bt_sketch_in(cstring) RETURNS buildtrace.bt_sketch
AS 'MODULE_PATHNAME', 'bt_sketch_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_out(buildtrace.bt_sketch) RETURNS cstring
AS 'MODULE_PATHNAME', 'bt_sketch_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_recv(internal) RETURNS buildtrace.bt_sketch
AS 'MODULE_PATHNAME', 'bt_sketch_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_send(buildtrace.bt_sketch) RETURNS bytea
AS 'MODULE_PATHNAME', 'bt_sketch_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE buildtrace.bt_sketch (
    INPUT = buildtrace.bt_sketch_in,
    OUTPUT = buildtrace.bt_sketch_out,
    RECEIVE = buildtrace.bt_sketch_recv,
    SEND = buildtrace.bt_sketch_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE buildtrace.bt_sketch IS
    'quantile sketch with a relative error bound (DDSketch/UDDSketch); merge with bt_sketch_merge or bt_sketch_add';

-- Aggregate support (shared by every aggregate below).
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[])
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[], float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_trans(internal, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_sketch_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_trans(internal, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_sketch_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_merge_trans(internal, buildtrace.bt_sketch)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_sketch_merge_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_agg_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_agg_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'bt_agg_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_agg_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_agg_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_final(internal)
RETURNS float8 AS 'MODULE_PATHNAME', 'bt_percentile_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentiles_final(internal)
RETURNS float8[] AS 'MODULE_PATHNAME', 'bt_percentiles_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_final(internal)
RETURNS buildtrace.bt_sketch AS 'MODULE_PATHNAME', 'bt_sketch_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- bt_percentile(value, q [, relative_accuracy]) -> float8
-- bt_percentile(value, qs [, relative_accuracy]) -> float8[]
CREATE AGGREGATE buildtrace.bt_percentile(value float8, q float8) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentile_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE buildtrace.bt_percentile(value float8, qs float8[]) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentiles_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE buildtrace.bt_percentile(value float8, q float8, relative_accuracy float8) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentile_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE buildtrace.bt_percentile(value float8, qs float8[], relative_accuracy float8) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentiles_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);

-- bt_sketch(value [, relative_accuracy]) -> bt_sketch; bt_sketch_merge(bt_sketch) -> bt_sketch
CREATE AGGREGATE buildtrace.bt_sketch(value float8) (
    SFUNC = buildtrace.bt_sketch_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_sketch_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE buildtrace.bt_sketch(value float8, relative_accuracy float8) (
    SFUNC = buildtrace.bt_sketch_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_sketch_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE buildtrace.bt_sketch_merge(sketch buildtrace.bt_sketch) (
    SFUNC = buildtrace.bt_sketch_merge_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_sketch_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);

-- Reading stored sketches.
CREATE FUNCTION buildtrace.bt_sketch_quantile(sketch buildtrace.bt_sketch, q float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'bt_sketch_quantile_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_quantiles(sketch buildtrace.bt_sketch, qs float8[])
RETURNS float8[] AS 'MODULE_PATHNAME', 'bt_sketch_quantiles_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_count(sketch buildtrace.bt_sketch)
RETURNS bigint AS 'MODULE_PATHNAME', 'bt_sketch_count_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_relative_accuracy(sketch buildtrace.bt_sketch)
RETURNS float8 AS 'MODULE_PATHNAME', 'bt_sketch_relative_accuracy_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_relative_accuracy(buildtrace.bt_sketch) IS
    'the relative error bound that holds for this sketch (larger than requested only if it was collapsed)';
-- Not strict: a NULL side is ignored, so it works as a running merge.
CREATE FUNCTION buildtrace.bt_sketch_add(a buildtrace.bt_sketch, b buildtrace.bt_sketch)
RETURNS buildtrace.bt_sketch AS 'MODULE_PATHNAME', 'bt_sketch_add_fn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_quantile_bounds(
    sketch buildtrace.bt_sketch, q float8, confidence float8 DEFAULT 0.95,
    OUT estimate float8, OUT lower float8, OUT upper float8,
    OUT lower_rank bigint, OUT upper_rank bigint)
RETURNS record AS 'MODULE_PATHNAME', 'bt_sketch_quantile_bounds_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_quantile_bounds(buildtrace.bt_sketch, float8, float8) IS
    'q-quantile estimate with a distribution-free confidence interval for the population quantile';

-- ---------------------------------------------------------------------------
-- The change pipeline, part 1: tables and indexes.
--
-- A row goes into versions or pairs; the triggers in 31_pipeline_triggers.sql
-- diff it inside the same statement and write changes, anomalies and the
-- pair's status. Nothing submitted is ever dropped or rewritten: a pair that
-- cannot be diffed keeps its payload, becomes status 'failed' and a dead
-- letter; a retry is a new pair that points at the failed one (retry_of).
-- ---------------------------------------------------------------------------

-- Uploaded versions of a drawing. Users write drawing_id, payload and
-- optionally version_id, job_id, latency_ms, uploaded_at. Upload order is
-- (uploaded_at, version_id); version_id is only a tie-break, never "id - 1".
CREATE TABLE buildtrace.versions (
    version_id  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    drawing_id  text NOT NULL CHECK (drawing_id <> ''),
    job_id      text,
    payload     jsonb NOT NULL,
    latency_ms  double precision CHECK (latency_ms >= 0),
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE buildtrace.versions IS
    'Uploaded versions of a drawing; each one after the first creates a pair with its predecessor by upload order.';

-- The predecessor lookup: previous version of a drawing by upload order.
CREATE INDEX versions_drawing_upload_idx
    ON buildtrace.versions (drawing_id, uploaded_at, version_id);
CREATE INDEX versions_job_idx ON buildtrace.versions (job_id) WHERE job_id IS NOT NULL;

-- Submitted pairs. Users write drawing_id, version_a, version_b and
-- optionally job_id, latency_ms (and retry_of to resubmit a dead letter with
-- corrected data); the trigger fills status, error and processed_at.
CREATE TABLE buildtrace.pairs (
    pair_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    drawing_id   text NOT NULL CHECK (drawing_id <> ''),
    job_id       text,
    version_a    jsonb NOT NULL,
    version_b    jsonb NOT NULL,
    latency_ms   double precision CHECK (latency_ms >= 0),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'done', 'failed')),
    error        jsonb,
    processed_at timestamptz,
    -- Set when the pair was made from two rows of versions.
    from_version bigint REFERENCES buildtrace.versions ON DELETE SET NULL,
    to_version   bigint REFERENCES buildtrace.versions ON DELETE SET NULL,
    -- Set when this pair retries a failed one; a pair is retried at most once
    -- (a failed retry is itself retried), so the chain is the history.
    retry_of     bigint REFERENCES buildtrace.pairs ON DELETE SET NULL,
    CHECK ((status = 'failed') = (error IS NOT NULL)),
    CHECK ((status = 'pending') = (processed_at IS NULL))
);
COMMENT ON TABLE buildtrace.pairs IS
    'Submitted pairs of drawing versions; processed by trigger in the inserting statement.';

CREATE INDEX pairs_drawing_idx ON buildtrace.pairs (drawing_id, pair_id);
CREATE INDEX pairs_job_idx ON buildtrace.pairs (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX pairs_failed_idx ON buildtrace.pairs (pair_id) WHERE status = 'failed';
-- A pair is retried at most once. Partial, unlike a UNIQUE constraint: almost
-- every pair has retry_of NULL, and a NULL entry would be inserted twice per
-- pair (the insert, then the trigger's non-HOT status update) for nothing.
-- It also serves dead_letters' "not retried" test and ON DELETE SET NULL.
-- ON CONFLICT must name the predicate to use it (see retry_failed).
CREATE UNIQUE INDEX pairs_retry_of_key ON buildtrace.pairs (retry_of) WHERE retry_of IS NOT NULL;

-- One row per processed pair.
CREATE TABLE buildtrace.changes (
    pair_id       bigint PRIMARY KEY REFERENCES buildtrace.pairs ON DELETE CASCADE,
    drawing_id    text NOT NULL,
    job_id        text,
    diff          jsonb NOT NULL,
    summary       text NOT NULL,
    added         integer NOT NULL CHECK (added >= 0),
    removed       integer NOT NULL CHECK (removed >= 0),
    moved         integer NOT NULL CHECK (moved >= 0),
    resized       integer NOT NULL CHECK (resized >= 0),
    retyped       integer NOT NULL CHECK (retyped >= 0),
    modified      integer NOT NULL CHECK (modified >= 0),
    unchanged     integer NOT NULL CHECK (unchanged >= 0),
    -- An object counts once per kind of change it appears in.
    total         integer GENERATED ALWAYS AS
                  (added + removed + moved + resized + retyped + modified) STORED,
    -- Wall-clock time of bt_try_diff for this pair (see the trigger).
    processing_us bigint NOT NULL CHECK (processing_us >= 0),
    computed_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE buildtrace.changes IS
    'The diff of each processed pair, with per-kind counts and processing time in microseconds.';

-- changes(drawing_id): latest change set of a drawing.
CREATE INDEX changes_drawing_idx ON buildtrace.changes (drawing_id, computed_at, pair_id);
-- hourly_changes and time-bounded scans.
CREATE INDEX changes_computed_idx ON buildtrace.changes (computed_at);
CREATE INDEX changes_job_idx ON buildtrace.changes (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE buildtrace.anomalies (
    anomaly_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('change_spike', 'invalid_input', 'missing_upload',
                                              'delayed_upload', 'stale_pending', 'volume_spike')),
    severity    text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    -- NULL for anomalies that concern no single drawing (volume_spike).
    drawing_id  text,
    pair_id     bigint REFERENCES buildtrace.pairs ON DELETE CASCADE,
    details     jsonb NOT NULL DEFAULT '{}',
    detected_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    CHECK (resolved_at IS NULL OR resolved_at >= detected_at)
);
COMMENT ON TABLE buildtrace.anomalies IS
    'Change spikes, invalid input, missing or delayed uploads; open while resolved_at is NULL.';

CREATE INDEX anomalies_open_idx ON buildtrace.anomalies (detected_at) WHERE resolved_at IS NULL;
CREATE INDEX anomalies_drawing_idx ON buildtrace.anomalies (drawing_id, detected_at);
CREATE INDEX anomalies_pair_idx ON buildtrace.anomalies (pair_id) WHERE pair_id IS NOT NULL;

-- Per-drawing pipeline state. Its row is the lock that serialises concurrent
-- statements on one drawing (see the triggers), and it holds the last
-- processed pair, so the spike check reads one row instead of searching.
CREATE TABLE buildtrace.drawing_state (
    drawing_id        text PRIMARY KEY,
    last_pair_id      bigint,
    last_total        integer,
    last_uploaded_at  timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE buildtrace.drawing_state IS
    'Internal: per-drawing lock row and last processed pair for the change-spike rule.';

-- Drawings and diffs are stored compressed with lz4 where the server was
-- built with it (Debian's is): the default, pglz, took about a third of the
-- time of inserting pairs sent as JSON text (COPY, clients, process()), and
-- lz4 also decompresses faster for the diff. Values copied from elsewhere
-- keep the compression they have.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_settings s
               WHERE s.name = 'default_toast_compression' AND 'lz4' = ANY (s.enumvals)) THEN
        ALTER TABLE buildtrace.versions ALTER COLUMN payload SET COMPRESSION lz4;
        ALTER TABLE buildtrace.pairs ALTER COLUMN version_a SET COMPRESSION lz4,
                                     ALTER COLUMN version_b SET COMPRESSION lz4;
        ALTER TABLE buildtrace.changes ALTER COLUMN diff SET COMPRESSION lz4;
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- The change pipeline, part 2: triggers.
--
-- On pairs, the per-row work is C (the diff, the row's status; see
-- src/pipeline.c) and every write of results is one statement-level step,
-- so an INSERT ... SELECT or COPY of thousands of rows writes changes,
-- anomalies and rollups set-wise (see test/bench/pipeline_bench.sh). On
-- versions, a statement-level trigger with a transition table.
-- ---------------------------------------------------------------------------

-- Locks the drawing_state rows of the given drawings, creating missing ones,
-- always in drawing_id order so that two statements cannot deadlock on them.
-- Callers run it before reading "the previous pair / version" of a drawing:
-- under READ COMMITTED the caller's next statement then sees everything the
-- statement it waited for committed; under REPEATABLE READ or SERIALIZABLE a
-- concurrent committed update of the row raises a serialization failure
-- instead of silently reading stale state.
CREATE FUNCTION buildtrace._lock_drawings(drawings text[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO buildtrace.drawing_state AS s (drawing_id)
    SELECT DISTINCT d FROM unnest(drawings) AS d ORDER BY 1
    ON CONFLICT (drawing_id) DO NOTHING;

    PERFORM 1 FROM buildtrace.drawing_state s
    WHERE s.drawing_id = ANY (drawings)
    ORDER BY s.drawing_id
    FOR UPDATE;
END
$$;

-- BEFORE INSERT ON pairs, per row, in C (src/pipeline.c): diffs the pair,
-- sets status, error and processed_at on the row before it is written, and
-- keeps the result (diff or problems, counts, processing time) for
-- _pairs_after_insert. In reject mode an invalid pair raises its first
-- problem here. It writes nothing but the row, so it needs no definer rights.
CREATE FUNCTION buildtrace._pairs_before_insert()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_before_insert'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- AFTER INSERT ON pairs, per row, in C: marks the kept result of a row that
-- was really inserted (not skipped by ON CONFLICT DO NOTHING).
CREATE FUNCTION buildtrace._pairs_after_insert_row()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_after_insert_row'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The drawing of each marked result (to lock before taking the results).
CREATE FUNCTION buildtrace._pairs_pending_drawings()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'bt_pairs_pending_drawings'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10000;

-- The marked results, handed over once: a second call returns nothing.
CREATE FUNCTION buildtrace._pairs_take_results(

    OUT pair_id bigint, OUT drawing_id text, OUT job_id text, OUT latency_ms float8,
    OUT retry_of bigint, OUT ok boolean, OUT result jsonb, OUT processing_us bigint,
    OUT added integer, OUT removed integer, OUT moved integer, OUT resized integer,
    OUT retyped integer, OUT modified integer, OUT unchanged integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'bt_pairs_take_results'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10000;

-- AFTER INSERT ON pairs, once per statement, after the row triggers: stores
-- what _pairs_before_insert computed for the rows this statement inserted.
--
-- SECURITY DEFINER because the writer role may insert pairs but must not be
-- able to write changes or anomalies itself: the trigger writes them with
-- the extension owner's rights. search_path is pinned and every name is
-- qualified, so the caller cannot redirect what it runs.
--
-- work_mem: the results pass through a few tuplestores and sorts of about
-- 2 kB per pair; 64MB keeps a batch of some 30,000 pairs off temporary
-- files (a tenth less time for 10,000 pairs, test/bench/pipeline_bench.sh).
-- Larger batches spill, as any query does.
CREATE FUNCTION buildtrace._pairs_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'
AS $$
DECLARE
    factor      float8 := buildtrace.setting('buildtrace.spike_factor')::float8;
    min_changes integer := buildtrace.setting('buildtrace.spike_min_changes')::integer;
    n_processed bigint;
BEGIN
    PERFORM buildtrace._lock_drawings(
        ARRAY(SELECT DISTINCT d FROM buildtrace._pairs_pending_drawings() d));

    -- One statement does every write, over one materialised set of processed
    -- rows ("processed"), so a further consumer (such as rollups) is one
    -- more CTE over the same rows. result is the diff of a processed pair
    -- and the problems of a failed one, whose counts are NULL. total is
    -- computed here so that the spike rule's window sort below carries
    -- narrow rows.
    WITH processed AS MATERIALIZED (
        SELECT r.*,
               r.added + r.removed + r.moved + r.resized + r.retyped + r.modified AS total
        FROM buildtrace._pairs_take_results() r
    ),
    -- Narrow rows for the spike rule; the diff itself is read from
    -- "processed" only, so it is materialised once.
    counted AS (
        SELECT pr.pair_id, pr.drawing_id, pr.total
        FROM processed pr
        WHERE pr.ok
    ),
    -- The previous processed pair of each done pair: the one before it in
    -- this statement (pair_id order), else the drawing's last processed pair.
    -- Only narrow columns go through the window's sort.
    sequenced AS (
        SELECT c.pair_id, c.drawing_id, c.total,
               lag(c.pair_id) OVER w AS batch_prev_pair,
               lag(c.total) OVER w AS batch_prev_total,
               lead(c.pair_id) OVER w IS NULL AS is_last
        FROM counted c
        WINDOW w AS (PARTITION BY c.drawing_id ORDER BY c.pair_id)
    ),
    done AS (
        SELECT q.*,
               coalesce(q.batch_prev_pair, s.last_pair_id) AS prev_pair_id,
               CASE WHEN q.batch_prev_pair IS NULL THEN s.last_total
                    ELSE q.batch_prev_total END AS prev_total
        FROM sequenced q
        JOIN buildtrace.drawing_state s ON s.drawing_id = q.drawing_id
    ),
    ins_changes AS (
        INSERT INTO buildtrace.changes
            (pair_id, drawing_id, job_id, diff, summary, added, removed, moved,
             resized, retyped, modified, unchanged, processing_us)
        SELECT pr.pair_id, pr.drawing_id, pr.job_id, pr.result, pr.result ->> 'summary',
               pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
               pr.unchanged, pr.processing_us
        FROM processed pr
        WHERE pr.ok
    ),
    ins_anomalies AS (
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details)
        SELECT 'invalid_input', 'high', pr.drawing_id, pr.pair_id,
               jsonb_build_object('problems', pr.result)
        FROM processed pr
        WHERE NOT pr.ok
        UNION ALL
        SELECT 'change_spike',
               CASE WHEN d.total >= 2 * factor * d.prev_total THEN 'high' ELSE 'medium' END,
               d.drawing_id, d.pair_id,
               jsonb_build_object('previous_changes', d.prev_total, 'changes', d.total,
                                  'factor', factor, 'previous_pair_id', d.prev_pair_id)
        FROM done d
        WHERE d.prev_total >= min_changes
          AND d.prev_total > 0
          AND d.total >= factor * d.prev_total
    ),
    -- A retry that was processed (done or failed again) supersedes the failed
    -- pair: that pair's open invalid_input anomaly is resolved, kept as history.
    resolve_retried AS (
        UPDATE buildtrace.anomalies a
        SET resolved_at = now()
        FROM processed pr
        WHERE pr.retry_of IS NOT NULL
          AND a.pair_id = pr.retry_of
          AND a.kind = 'invalid_input'
          AND a.resolved_at IS NULL
    ),
    -- Hourly rollups (40_metrics.sql): one upsert per drawing of this
    -- statement. Its (hour, drawing) row is only written under that
    -- drawing's lock taken above, so concurrent statements add up in turn.
    -- Keep in step with rebuild_rollups().
    upd_rollups AS (
        INSERT INTO buildtrace.hourly_rollups AS r
            (hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
             modified, unchanged, processing_ms, reported_latency_ms)
        SELECT date_trunc('hour', now(), 'UTC'), pr.drawing_id,
               count(*) FILTER (WHERE pr.ok), count(*) FILTER (WHERE NOT pr.ok),
               coalesce(sum(pr.added) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.removed) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.moved) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.resized) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.retyped) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.modified) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.unchanged) FILTER (WHERE pr.ok), 0),
               buildtrace.bt_sketch(pr.processing_us / 1000.0::float8) FILTER (WHERE pr.ok),
               buildtrace.bt_sketch(pr.latency_ms) FILTER (WHERE pr.ok)
        FROM processed pr
        GROUP BY pr.drawing_id
        ON CONFLICT (hour, drawing_id) DO UPDATE
        SET pairs = r.pairs + excluded.pairs, failed = r.failed + excluded.failed,
            added = r.added + excluded.added, removed = r.removed + excluded.removed,
            moved = r.moved + excluded.moved, resized = r.resized + excluded.resized,
            retyped = r.retyped + excluded.retyped, modified = r.modified + excluded.modified,
            unchanged = r.unchanged + excluded.unchanged,
            processing_ms = buildtrace.bt_sketch_add(r.processing_ms, excluded.processing_ms),
            reported_latency_ms = buildtrace.bt_sketch_add(r.reported_latency_ms,
                                                           excluded.reported_latency_ms)
    ),
    upd_state AS (
        UPDATE buildtrace.drawing_state s
        SET last_pair_id = d.pair_id, last_total = d.total, updated_at = now()
        FROM done d
        WHERE d.is_last AND s.drawing_id = d.drawing_id
    )
    SELECT count(*) INTO n_processed FROM processed;
    RETURN NULL;
END
$$;

-- Row triggers fire in name order: a BEFORE trigger of yours that changes
-- the versions must sort before pairs_diff.
CREATE TRIGGER pairs_diff
    BEFORE INSERT ON buildtrace.pairs
    FOR EACH ROW
    EXECUTE FUNCTION buildtrace._pairs_before_insert();

CREATE TRIGGER pairs_inserted
    AFTER INSERT ON buildtrace.pairs
    FOR EACH ROW
    EXECUTE FUNCTION buildtrace._pairs_after_insert_row();

CREATE TRIGGER pairs_process
    AFTER INSERT ON buildtrace.pairs
    FOR EACH STATEMENT
    EXECUTE FUNCTION buildtrace._pairs_after_insert();

-- AFTER INSERT ON versions, once per statement: pairs every new version with
-- its predecessor by upload order (uploaded_at, then version_id), looked up in
-- the table itself, so several versions of one drawing in one statement,
-- out-of-order or user-chosen ids, and gaps all pair correctly. The first
-- version of a drawing creates no pair. A version uploaded with an
-- uploaded_at earlier than the drawing's latest is paired with its
-- predecessor at that time; pairs already made are history and are not
-- rewritten (see notes/pipeline.md).
--
-- SECURITY DEFINER for the same reason as _pairs_after_insert: it writes
-- drawing_state, which the writer role cannot write.
CREATE FUNCTION buildtrace._versions_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stamp timestamptz;
BEGIN
    PERFORM buildtrace._lock_drawings(ARRAY(SELECT DISTINCT drawing_id FROM new_versions));
    stamp := clock_timestamp();

    -- An actual update of the lock row, so that a REPEATABLE READ statement
    -- that waited for us fails with a serialization error instead of missing
    -- the version we add.
    UPDATE buildtrace.drawing_state s
    SET last_uploaded_at = GREATEST(s.last_uploaded_at, n.uploaded_at), updated_at = now()
    FROM (SELECT drawing_id, max(uploaded_at) AS uploaded_at
          FROM new_versions GROUP BY drawing_id) n
    WHERE s.drawing_id = n.drawing_id;

    -- Concurrent uploads are stamped with their transaction's start time, so
    -- one that waited for the lock above can look older than a version that
    -- another transaction committed meanwhile, and the chain would fork.
    -- Upload order for versions stamped during this transaction is therefore
    -- the order they got the drawing's lock: such a version not later than a
    -- version committed by someone else is re-stamped now. Versions stamped
    -- before this transaction began (deliberate back-dated imports) keep
    -- their time and are paired where they belong.
    UPDATE buildtrace.versions v
    SET uploaded_at = stamp
    FROM new_versions n
    WHERE v.version_id = n.version_id
      AND n.uploaded_at >= now()
      AND n.uploaded_at <= (SELECT max(o.uploaded_at) FROM buildtrace.versions o
                            WHERE o.drawing_id = n.drawing_id
                              AND o.version_id NOT IN (SELECT version_id FROM new_versions));

    INSERT INTO buildtrace.pairs
        (drawing_id, job_id, version_a, version_b, latency_ms, from_version, to_version)
    SELECT n.drawing_id, n.job_id, prev.payload, n.payload, n.latency_ms,
           prev.version_id, n.version_id
    FROM (SELECT v.* FROM new_versions nv
          JOIN buildtrace.versions v ON v.version_id = nv.version_id) n
    CROSS JOIN LATERAL (
        SELECT v.version_id, v.payload
        FROM buildtrace.versions v
        WHERE v.drawing_id = n.drawing_id
          AND (v.uploaded_at, v.version_id) < (n.uploaded_at, n.version_id)
        ORDER BY v.uploaded_at DESC, v.version_id DESC
        LIMIT 1) prev
    ORDER BY n.uploaded_at, n.version_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER versions_pair
    AFTER INSERT ON buildtrace.versions
    REFERENCING NEW TABLE AS new_versions
    FOR EACH STATEMENT
    EXECUTE FUNCTION buildtrace._versions_after_insert();

-- ---------------------------------------------------------------------------
-- The change pipeline, part 3: views, retry, the JSON API and roles.
-- ---------------------------------------------------------------------------

CREATE VIEW buildtrace.hourly_changes AS
SELECT date_trunc('hour', c.computed_at) AS hour,
       count(*) AS pairs,
       count(DISTINCT c.drawing_id) AS drawings,
       sum(c.added)::bigint AS added,
       sum(c.removed)::bigint AS removed,
       sum(c.moved)::bigint AS moved,
       sum(c.resized)::bigint AS resized,
       sum(c.retyped)::bigint AS retyped,
       sum(c.modified)::bigint AS modified
FROM buildtrace.changes c
GROUP BY 1;
COMMENT ON VIEW buildtrace.hourly_changes IS
    'Processed pairs and changes per kind, per hour of processing (session time zone).';

-- A failed pair stops being a dead letter once it has been retried (the retry
-- is a new pair with retry_of set, and is a dead letter itself if it fails).
CREATE VIEW buildtrace.dead_letters AS
SELECT p.pair_id, p.drawing_id, p.job_id, p.submitted_at, p.processed_at,
       p.error AS problems, jsonb_array_length(p.error) AS problem_count,
       p.retry_of, p.version_a, p.version_b
FROM buildtrace.pairs p
WHERE p.status = 'failed'
  AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs r WHERE r.retry_of = p.pair_id);
COMMENT ON VIEW buildtrace.dead_letters IS
    'Failed pairs not yet retried, with their problems and raw payloads.';

CREATE VIEW buildtrace.open_anomalies AS
SELECT a.anomaly_id, a.kind, a.severity, a.drawing_id, a.pair_id, a.details,
       a.detected_at, now() - a.detected_at AS age
FROM buildtrace.anomalies a
WHERE a.resolved_at IS NULL;
COMMENT ON VIEW buildtrace.open_anomalies IS 'Anomalies not yet resolved.';

-- Retries dead letters (all, or those listed, or those of one drawing) with
-- their stored payloads, e.g. after a setting or the diff was fixed. Each
-- retry is a new pair with retry_of = the failed pair, processed by the same
-- trigger; the failed pair, its problems and its (now resolved) anomaly stay
-- as history. To retry with corrected data instead, insert the corrected pair
-- yourself with retry_of set.
CREATE FUNCTION buildtrace.retry_failed(pair_ids bigint[] DEFAULT NULL,
                                        drawing text DEFAULT NULL)
RETURNS TABLE (failed_pair_id bigint, retry_pair_id bigint, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    retried bigint[];
BEGIN
    WITH ins AS (
        INSERT INTO buildtrace.pairs
            (drawing_id, job_id, version_a, version_b, latency_ms,
             from_version, to_version, retry_of)
        SELECT p.drawing_id, p.job_id, p.version_a, p.version_b, p.latency_ms,
               p.from_version, p.to_version, p.pair_id
        FROM buildtrace.pairs p
        -- dead_letters, spelled out: the writer role has no access to views.
        WHERE p.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs r WHERE r.retry_of = p.pair_id)
          AND (retry_failed.pair_ids IS NULL OR p.pair_id = ANY (retry_failed.pair_ids))
          AND (retry_failed.drawing IS NULL OR p.drawing_id = retry_failed.drawing)
        ORDER BY p.pair_id
        -- A concurrent retry of the same pair got there first: skip it.
        ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING
        RETURNING pair_id)
    SELECT array_agg(ins.pair_id) INTO retried FROM ins;

    -- A new statement, so it sees what the trigger wrote.
    RETURN QUERY
    SELECT p.retry_of, p.pair_id, p.status
    FROM buildtrace.pairs p
    WHERE p.pair_id = ANY (retried)
    ORDER BY p.retry_of;
END
$$;

-- A version as sent to process(): a JSON value, or JSON text in a JSON string
-- (as an HTTP client's curl sends it). A string that is not JSON text is kept as the
-- string, so the pipeline flags it instead of process() losing the request.
CREATE FUNCTION buildtrace._json_value(v jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(v) IS DISTINCT FROM 'string' THEN
        RETURN v;
    END IF;
    RETURN (v #>> '{}')::jsonb;
EXCEPTION
    WHEN invalid_text_representation THEN
        RETURN v;
END
$$;

-- Counts of a set of pairs after processing, for process()'s message.
CREATE FUNCTION buildtrace._outcome(ids bigint[])
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('%s done, %s failed', count(*) FILTER (WHERE p.status = 'done'),
                  count(*) FILTER (WHERE p.status = 'failed'))
    FROM buildtrace.pairs p
    WHERE p.pair_id = ANY (ids)
$$;

-- POST /process. Accepts the pair list {"version_pairs": [{"drawing_id",
-- "version_a", "version_b"}, ...]} or a list of build job states (a JSON
-- array, or {"jobs": [...]}), stores them, and returns
-- {"job_id", "message", "tasks_created"}. Processing happens in this call
-- (the triggers), so the message says what became of the pairs.
CREATE FUNCTION buildtrace.process(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job      text;
    items    jsonb;
    item     jsonb;
    i        integer := 0;
    ids      bigint[];
    n_pairs  integer;
BEGIN
    IF jsonb_typeof(request) = 'object' AND request ? 'storage_path' THEN
        RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
            MESSAGE = 'process request key "storage_path" is not supported',
            DETAIL = 'Versions are read from the request, not from a storage bucket.',
            HINT = 'Send "version_pairs", a list of job states, or insert into buildtrace.versions.';
    END IF;
    IF jsonb_typeof(request) = 'object' AND jsonb_typeof(request -> 'job_id') NOT IN ('string', 'number') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request key "job_id" must be a string or a number',
            DETAIL = format('Got a JSON %s.', jsonb_typeof(request -> 'job_id'));
    END IF;
    job := coalesce(request ->> 'job_id', gen_random_uuid()::text);

    IF jsonb_typeof(request -> 'version_pairs') = 'array' THEN
        items := request -> 'version_pairs';
        FOR item IN SELECT e FROM jsonb_array_elements(items) e LOOP
            IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = 'version pair must be a JSON object',
                    DETAIL = format('Element %s of "version_pairs" is a JSON %s.', i, jsonb_typeof(item));
            ELSIF coalesce(jsonb_typeof(item -> 'drawing_id') NOT IN ('string', 'number'), true)
                  OR item ->> 'drawing_id' = '' THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = 'version pair has no drawing_id',
                    DETAIL = format('Element %s of "version_pairs" needs a non-empty "drawing_id".', i);
            ELSIF NOT (item ? 'version_a' AND item ? 'version_b') THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = 'version pair needs version_a and version_b',
                    DETAIL = format('Element %s of "version_pairs" (drawing_id %s) lacks "%s".', i,
                                    item ->> 'drawing_id',
                                    CASE WHEN item ? 'version_a' THEN 'version_b' ELSE 'version_a' END);
            END IF;
            i := i + 1;
        END LOOP;

        WITH ins AS (
            INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
            SELECT e ->> 'drawing_id', coalesce(e ->> 'job_id', job),
                   buildtrace._json_value(e -> 'version_a'), buildtrace._json_value(e -> 'version_b'),
                   (e ->> 'latency_ms')::double precision
            FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
            ORDER BY x.ord
            RETURNING pair_id)
        SELECT array_agg(pair_id) INTO ids FROM ins;

        n_pairs := coalesce(cardinality(ids), 0);
        RETURN jsonb_build_object(
            'job_id', job,
            'message', format('Processed %s pair%s: %s', n_pairs,
                              CASE WHEN n_pairs = 1 THEN '' ELSE 's' END, buildtrace._outcome(ids)),
            'tasks_created', n_pairs);
    END IF;

    IF jsonb_typeof(request) = 'array' THEN
        items := request;
    ELSIF jsonb_typeof(request -> 'jobs') = 'array' THEN
        items := request -> 'jobs';
    ELSE
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request needs "version_pairs" or a list of job states',
            DETAIL = format('Got a JSON %s%s.', coalesce(jsonb_typeof(request), 'null'),
                            CASE WHEN jsonb_typeof(request) = 'object'
                                 THEN format(' with keys %s', (SELECT string_agg(k, ', ' ORDER BY k)
                                                               FROM jsonb_object_keys(request) k))
                                 ELSE '' END),
            HINT = 'Send {"version_pairs": [{"drawing_id", "version_a", "version_b"}]} or [{"job_id", "timestamp", "latency_ms", "objects"}].';
    END IF;

    -- Job states: each is a version of its drawing (default "default", the
    -- single build stream of a job list); its objects are under "objects",
    -- "files" or "state", or are all its keys other than the metadata keys.
    FOR item IN SELECT e FROM jsonb_array_elements(items) e LOOP
        IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'job state must be a JSON object',
                DETAIL = format('Element %s of the job list is a JSON %s.', i, jsonb_typeof(item));
        END IF;
        IF item ? 'timestamp' THEN
            BEGIN
                PERFORM (item ->> 'timestamp')::timestamptz;
            EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_datetime_format',
                    MESSAGE = 'job state has an invalid timestamp',
                    DETAIL = format('Element %s of the job list (job_id %s) has timestamp %s.', i,
                                    coalesce(item ->> 'job_id', 'none'), item -> 'timestamp');
            END;
        END IF;
        i := i + 1;
    END LOOP;

    WITH ins AS (
        INSERT INTO buildtrace.versions (drawing_id, job_id, payload, latency_ms, uploaded_at)
        SELECT coalesce(e ->> 'drawing_id', request ->> 'drawing_id', 'default'),
               coalesce(e ->> 'job_id', job),
               coalesce(e -> 'objects', e -> 'files', e -> 'state',
                        e - ARRAY['job_id', 'drawing_id', 'timestamp', 'latency_ms']),
               (e ->> 'latency_ms')::double precision,
               coalesce((e ->> 'timestamp')::timestamptz, now())
        FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
        ORDER BY x.ord
        RETURNING version_id)
    SELECT array_agg(version_id) INTO ids FROM ins;

    SELECT array_agg(p.pair_id) INTO ids FROM buildtrace.pairs p WHERE p.to_version = ANY (ids);
    n_pairs := coalesce(cardinality(ids), 0);
    RETURN jsonb_build_object(
        'job_id', job,
        'message', format('Stored %s job state%s; processed %s pair%s: %s', i,
                          CASE WHEN i = 1 THEN '' ELSE 's' END, n_pairs,
                          CASE WHEN n_pairs = 1 THEN '' ELSE 's' END, buildtrace._outcome(ids)),
        'tasks_created', i);
END
$$;

-- Raises no_data_found for a drawing without processed changes, saying
-- whether it is unknown or only has unprocessed / failed pairs.
CREATE FUNCTION buildtrace._no_changes(drawing text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n_pairs bigint;
    n_versions bigint;
BEGIN
    SELECT count(*) INTO n_pairs FROM buildtrace.pairs p WHERE p.drawing_id = drawing;
    SELECT count(*) INTO n_versions FROM buildtrace.versions v WHERE v.drawing_id = drawing;
    IF n_pairs = 0 AND n_versions = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = format('unknown drawing "%s"', drawing),
            DETAIL = 'No version or pair of this drawing has been stored.';
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'no_data_found',
        MESSAGE = format('drawing "%s" has no processed changes', drawing),
        DETAIL = format('It has %s version%s and %s pair%s, none processed successfully.',
                        n_versions, CASE WHEN n_versions = 1 THEN '' ELSE 's' END,
                        n_pairs, CASE WHEN n_pairs = 1 THEN '' ELSE 's' END),
        HINT = 'A single version has nothing to compare with; failed pairs are in buildtrace.dead_letters.';
END
$$;

-- GET /changes?drawing_id=…: the latest change set of a drawing (the diff's
-- keys, plus drawing_id, pair_id, job_id and computed_at). "Latest" is the
-- most recently processed pair, ties broken by pair_id.
--
-- SECURITY DEFINER so that the reader role can call it without any privilege
-- on the tables: it only reads, its search_path is pinned, names are
-- qualified.
CREATE FUNCTION buildtrace.changes(drawing_id text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    SELECT c.diff || jsonb_build_object('drawing_id', c.drawing_id, 'pair_id', c.pair_id,
                                        'job_id', c.job_id, 'computed_at', c.computed_at)
    INTO result
    FROM buildtrace.changes c
    WHERE c.drawing_id = changes.drawing_id
    ORDER BY c.computed_at DESC, c.pair_id DESC
    LIMIT 1;
    IF result IS NULL THEN
        PERFORM buildtrace._no_changes(changes.drawing_id);
    END IF;
    RETURN result;
END
$$;

-- "3 (A1, B2, C3)" from one list of a diff; at most ten ids are named.
CREATE FUNCTION buildtrace._id_list(objs jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN n = 0 THEN '0'
                ELSE format('%s (%s%s)', n,
                            (SELECT string_agg(e ->> 'id', ', ' ORDER BY o)
                             FROM jsonb_array_elements(objs) WITH ORDINALITY AS x(e, o) WHERE o <= 10),
                            CASE WHEN n > 10 THEN format(' and %s more', n - 10) ELSE '' END) END
    FROM (SELECT coalesce(jsonb_array_length(objs), 0) AS n) s
$$;

-- GET /report/{job_id}: the human-readable report for one job: for
-- each pair of the job, what changed against the previous version.
--
-- SECURITY DEFINER for the reader role, as for changes().
CREATE FUNCTION buildtrace.report(job_id text)
RETURNS text
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
    first_version record;
BEGIN
    SELECT string_agg(concat_ws(E'\n',
               format('Drawing %s, pair %s:', p.drawing_id, p.pair_id),
               CASE WHEN p.from_version IS NOT NULL THEN
                   format('  Compared with the previous version %s (job %s).', p.from_version,
                          coalesce(prev.job_id, 'none'))
               END,
               CASE p.status
                   WHEN 'pending' THEN '  Status: pending, not processed yet.'
                   WHEN 'failed' THEN concat_ws(E'\n',
                       '  Status: failed, the versions could not be compared.',
                       (SELECT string_agg(format('  Problem: %s. %s', e ->> 'message', e ->> 'detail'),
                                   E'\n' ORDER BY o)
                        FROM jsonb_array_elements(p.error) WITH ORDINALITY AS x(e, o)))
                   ELSE concat_ws(E'\n',
                       '  Status: done, changes and metrics stored.',
                       '  Added: ' || buildtrace._id_list(c.diff -> 'added'),
                       '  Removed: ' || buildtrace._id_list(c.diff -> 'removed'),
                       '  Moved: ' || buildtrace._id_list(c.diff -> 'moved'),
                       '  Resized: ' || buildtrace._id_list(c.diff -> 'resized'),
                       '  Retyped: ' || buildtrace._id_list(c.diff -> 'retyped'),
                       '  Modified: ' || buildtrace._id_list(c.diff -> 'modified'),
                       '  Unchanged: ' || c.unchanged,
                       '  Summary: ' || c.summary)
               END,
               '  Latency: ' || coalesce(p.latency_ms || ' ms', 'not reported')),
               E'\n' ORDER BY p.pair_id)
    INTO result
    FROM buildtrace.pairs p
    LEFT JOIN buildtrace.changes c ON c.pair_id = p.pair_id
    LEFT JOIN buildtrace.versions prev ON prev.version_id = p.from_version
    WHERE p.job_id = report.job_id;

    IF result IS NOT NULL THEN
        RETURN format('BuildTrace report for job %s', report.job_id) || E'\n' || result;
    END IF;

    -- A job whose only version is the first of its drawing has no pair.
    SELECT v.version_id, v.drawing_id INTO first_version
    FROM buildtrace.versions v WHERE v.job_id = report.job_id
    ORDER BY v.version_id LIMIT 1;
    IF FOUND THEN
        RETURN format(E'BuildTrace report for job %s\nDrawing %s, version %s: first version of the drawing, nothing to compare it with.',
                      report.job_id, first_version.drawing_id, first_version.version_id);
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'no_data_found',
        MESSAGE = format('unknown job "%s"', report.job_id),
        DETAIL = 'No pair or version with this job_id has been stored.';
END
$$;

-- Roles. Roles are cluster-wide, not part of the extension: they are created
-- here only if missing, survive DROP EXTENSION, and may be shared by several
-- databases. Both are NOLOGIN; grant them to login roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_writer') THEN
        CREATE ROLE buildtrace_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'buildtrace_reader') THEN
        CREATE ROLE buildtrace_reader NOLOGIN;
    END IF;
END
$$;

-- Internal functions: nobody calls them directly.
REVOKE ALL ON FUNCTION buildtrace._lock_drawings(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_before_insert() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_after_insert_row() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_pending_drawings() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_take_results() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_after_insert() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._versions_after_insert() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace.process(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace.retry_failed(bigint[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace.changes(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace.report(text) FROM PUBLIC;

GRANT USAGE ON SCHEMA buildtrace TO buildtrace_writer, buildtrace_reader;

-- The writer submits input and reads it back; results are written only by the
-- SECURITY DEFINER triggers, so it has no privilege on changes or anomalies.
GRANT SELECT ON buildtrace.pairs, buildtrace.versions TO buildtrace_writer;
GRANT INSERT (drawing_id, job_id, version_a, version_b, latency_ms,
              from_version, to_version, retry_of)
    ON buildtrace.pairs TO buildtrace_writer;
GRANT INSERT (version_id, drawing_id, job_id, payload, latency_ms, uploaded_at)
    ON buildtrace.versions TO buildtrace_writer;
GRANT EXECUTE ON FUNCTION buildtrace.process(jsonb),
                          buildtrace.retry_failed(bigint[], text)
    TO buildtrace_writer;

-- The reader sees views and read functions only.
GRANT SELECT ON buildtrace.hourly_changes, buildtrace.dead_letters, buildtrace.open_anomalies
    TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.changes(text), buildtrace.report(text)
    TO buildtrace_reader;

-- ---------------------------------------------------------------------------
-- Latency and change metrics: hourly rollups kept current
-- by the pipeline trigger, the latency view and metrics().
--
-- Every figure over a window of hours is read from hourly_rollups, never from
-- the raw rows: the rollup keeps a bt_sketch per hour and drawing, and
-- sketches merge exactly (bt_sketch_merge of the hours is bit for bit the
-- sketch of all their values), so P95 over 7 days reads at most 168 rows per
-- drawing. Only metrics()'s per-job list reads changes/pairs, through the
-- computed_at index.
-- ---------------------------------------------------------------------------

-- One row per (hour, drawing) with processed pairs. There is no "overall"
-- row: the overall figure of an hour is the merge of its drawings' rows,
-- which is exact, and having a single writer per row keeps the per-drawing
-- lock of the trigger the only serialisation point.
--
-- hour: the UTC hour (date_trunc('hour', t, 'UTC')) in which the pair was
-- processed (changes.computed_at / pairs.processed_at, i.e. the processing
-- transaction's now()); UTC so that the stored key does not depend on the
-- session time zone.
CREATE TABLE buildtrace.hourly_rollups (
    hour          timestamptz NOT NULL,
    drawing_id    text NOT NULL,
    -- Pairs processed successfully (one changes row each) and failed pairs.
    pairs         bigint NOT NULL DEFAULT 0 CHECK (pairs >= 0),
    failed        bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    added         bigint NOT NULL DEFAULT 0 CHECK (added >= 0),
    removed       bigint NOT NULL DEFAULT 0 CHECK (removed >= 0),
    moved         bigint NOT NULL DEFAULT 0 CHECK (moved >= 0),
    resized       bigint NOT NULL DEFAULT 0 CHECK (resized >= 0),
    retyped       bigint NOT NULL DEFAULT 0 CHECK (retyped >= 0),
    modified      bigint NOT NULL DEFAULT 0 CHECK (modified >= 0),
    unchanged     bigint NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    -- Sketch of changes.processing_us / 1000 (milliseconds) of the done
    -- pairs; NULL when there are none (an hour of failures only).
    processing_ms        buildtrace.bt_sketch,
    -- Sketch of pairs.latency_ms (the client-reported job latency) of the
    -- done pairs that gave one; NULL when none did.
    reported_latency_ms  buildtrace.bt_sketch,
    PRIMARY KEY (hour, drawing_id),
    CHECK (hour = date_trunc('hour', hour, 'UTC'))
);
COMMENT ON TABLE buildtrace.hourly_rollups IS
    'Per UTC hour and drawing: processed and failed pairs, change counts, processing-time and reported-latency sketches (ms). Maintained by the pairs trigger; rebuild_rollups() recomputes it.';

-- The rows of the processed pairs of one statement, summed per drawing, as
-- the trigger adds them. Also used by rebuild_rollups(), so the two cannot
-- drift apart.
--
-- rebuild_rollups(): recomputes every row from changes (done pairs) and pairs
-- (failed pairs). The trigger is the only thing that maintains the table;
-- use this after restoring changes/pairs from elsewhere or to check it.
-- The table lock waits for every transaction that is processing pairs (they
-- hold ROW EXCLUSIVE on the table from the start of the trigger's statement)
-- and keeps new ones out until commit. Run it in READ COMMITTED (the
-- default): under REPEATABLE READ the snapshot predates the lock.
CREATE FUNCTION buildtrace.rebuild_rollups()
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE buildtrace.hourly_rollups IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM buildtrace.hourly_rollups;
    INSERT INTO buildtrace.hourly_rollups AS r
        (hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
         modified, unchanged, processing_ms, reported_latency_ms)
    SELECT x.hour, x.drawing_id,
           count(*) FILTER (WHERE x.ok), count(*) FILTER (WHERE NOT x.ok),
           coalesce(sum(x.added), 0), coalesce(sum(x.removed), 0), coalesce(sum(x.moved), 0),
           coalesce(sum(x.resized), 0), coalesce(sum(x.retyped), 0),
           coalesce(sum(x.modified), 0), coalesce(sum(x.unchanged), 0),
           buildtrace.bt_sketch(x.processing_us / 1000.0::float8),
           buildtrace.bt_sketch(x.latency_ms)
    FROM (SELECT date_trunc('hour', c.computed_at, 'UTC') AS hour, c.drawing_id, true AS ok,
                 c.added, c.removed, c.moved, c.resized, c.retyped, c.modified, c.unchanged,
                 c.processing_us, p.latency_ms
          FROM buildtrace.changes c
          JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
          UNION ALL
          SELECT date_trunc('hour', p.processed_at, 'UTC'), p.drawing_id, false,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
          FROM buildtrace.pairs p
          WHERE p.status = 'failed') x
    GROUP BY x.hour, x.drawing_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.rebuild_rollups() IS
    'Recompute hourly_rollups from changes and pairs; returns the number of rows.';

-- Start of the rollup window for "the last <span>": the UTC hour containing
-- now() - span, so the window always covers at least span (up to one hour
-- more, as rollups have hour granularity). NULL span: everything.
CREATE FUNCTION buildtrace._window_start(span interval)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN span IS NULL THEN '-infinity'::timestamptz
            ELSE date_trunc('hour', now() - span, 'UTC') END;

-- Processing latency (ms) over fixed windows, from rollups only. Each
-- percentile comes with the bounds of bt_sketch_quantile_bounds at 95 %
-- confidence (sketch error plus order-statistic interval); a bound is NULL
-- where the sample is too small to reach 95 % on that side.
-- The column is "period" because WINDOW is a reserved word.
CREATE VIEW buildtrace.latency AS
SELECT w.period, w.since, coalesce(buildtrace.bt_sketch_count(m.sketch), 0) AS n,
       q50.estimate AS p50, q50.lower AS p50_lower, q50.upper AS p50_upper,
       q95.estimate AS p95, q95.lower AS p95_lower, q95.upper AS p95_upper,
       q99.estimate AS p99, q99.lower AS p99_lower, q99.upper AS p99_upper
FROM (VALUES (1, 'last hour', interval '1 hour'), (2, 'last 24 hours', interval '24 hours'),
             (3, 'last 7 days', interval '7 days'), (4, 'all', NULL::interval)) v(ord, period, span)
CROSS JOIN LATERAL (SELECT v.ord, v.period,
                           CASE WHEN v.span IS NOT NULL THEN buildtrace._window_start(v.span) END AS since) w
CROSS JOIN LATERAL (SELECT buildtrace.bt_sketch_merge(r.processing_ms) AS sketch
                    FROM buildtrace.hourly_rollups r
                    WHERE r.hour >= coalesce(w.since, '-infinity')) m
LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, 0.5) q50 ON true
LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, 0.95) q95 ON true
LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, 0.99) q99 ON true
ORDER BY w.ord;
COMMENT ON VIEW buildtrace.latency IS
    'Processing latency (ms) P50/P95/P99 with 95 % bounds over the last hour, 24 hours, 7 days and all time, from hourly_rollups.';

-- Objects of a diff that changed in place (moved, resized, retyped or
-- modified), each counted once: a job's total_modified ("hash changed").
CREATE FUNCTION buildtrace._changed_objects(diff jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT count(DISTINCT e ->> 'id')
        FROM unnest(ARRAY['moved', 'resized', 'retyped', 'modified']) k,
             jsonb_array_elements(diff -> k) e);

-- metrics(since): the GET /metrics body plus bounds and the
-- per-job metrics, over the rollup hours from _window_start(since).
--
-- SECURITY DEFINER: the reader role reads views and read functions only, but
-- this reads hourly_rollups, changes and pairs; it returns only aggregates.
CREATE FUNCTION buildtrace.metrics(since interval DEFAULT interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start     timestamptz;
    proc      buildtrace.bt_sketch;
    reported  buildtrace.bt_sketch;
    hourly    jsonb;
    n_failed  bigint;
    p95       record;
    p99       record;
    jobs      jsonb;
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION 'metrics window must not be NULL' USING ERRCODE = '22023',
            DETAIL = 'Argument "since" is NULL.';
    END IF;
    BEGIN
        start := buildtrace._window_start(since);
    EXCEPTION WHEN datetime_field_overflow THEN
        RAISE EXCEPTION 'metrics window is out of range' USING ERRCODE = '22023',
            DETAIL = format('Argument "since" is %s, which reaches beyond the timestamp range.', since);
    END;
    IF now() - since > now() THEN
        RAISE EXCEPTION 'metrics window must not be negative' USING ERRCODE = '22023',
            DETAIL = format('Argument "since" is %s.', since);
    END IF;

    SELECT jsonb_object_agg(to_char(h.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                            jsonb_build_object('pairs', h.pairs, 'failed', h.failed,
                                               'added', h.added, 'removed', h.removed,
                                               'moved', h.moved, 'resized', h.resized,
                                               'retyped', h.retyped, 'modified', h.modified,
                                               'unchanged', h.unchanged)),
           sum(h.failed)
    INTO hourly, n_failed
    FROM (SELECT r.hour, sum(r.pairs) AS pairs, sum(r.failed) AS failed,
                 sum(r.added) AS added, sum(r.removed) AS removed, sum(r.moved) AS moved,
                 sum(r.resized) AS resized, sum(r.retyped) AS retyped,
                 sum(r.modified) AS modified, sum(r.unchanged) AS unchanged
          FROM buildtrace.hourly_rollups r
          WHERE r.hour >= start
          GROUP BY r.hour) h;

    SELECT buildtrace.bt_sketch_merge(r.processing_ms), buildtrace.bt_sketch_merge(r.reported_latency_ms)
    INTO proc, reported
    FROM buildtrace.hourly_rollups r
    WHERE r.hour >= start;
    SELECT * INTO p95 FROM buildtrace.bt_sketch_quantile_bounds(proc, 0.95);
    SELECT * INTO p99 FROM buildtrace.bt_sketch_quantile_bounds(proc, 0.99);

    -- Jobs with pairs processed in the window, where a pair of the job
    -- reported a latency (the largest is the job's), oldest first. Totals are
    -- over the job's done pairs in the window.
    SELECT jsonb_agg(jsonb_build_object(
               'job_id', j.job_id, 'latency_ms', j.latency_ms, 'pairs', j.pairs,
               'total_added', j.total_added, 'total_removed', j.total_removed,
               'total_modified', j.total_modified, 'total_unchanged', j.total_unchanged,
               'processed_at', j.processed_at)
           ORDER BY j.processed_at, j.job_id)
    INTO jobs
    FROM (SELECT c.job_id, max(p.latency_ms) AS latency_ms, count(*) AS pairs,
                 sum(c.added) AS total_added, sum(c.removed) AS total_removed,
                 sum(buildtrace._changed_objects(c.diff)) AS total_modified,
                 sum(c.unchanged) AS total_unchanged, max(c.computed_at) AS processed_at
          FROM buildtrace.changes c
          JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
          WHERE c.computed_at >= start AND c.job_id IS NOT NULL
          GROUP BY c.job_id
          HAVING max(p.latency_ms) IS NOT NULL) j;

    RETURN jsonb_build_object(
        'since', start,
        'until', now(),
        'pairs', coalesce(buildtrace.bt_sketch_count(proc), 0),
        'hourly_stats', coalesce(hourly, '{}'),
        'latency_unit', 'ms',
        'latency_p95', p95.estimate,
        'latency_p99', p99.estimate,
        'latency_p95_bounds', jsonb_build_object('lower', p95.lower, 'upper', p95.upper),
        'latency_p99_bounds', jsonb_build_object('lower', p99.lower, 'upper', p99.upper),
        'latency_confidence', 0.95,
        'latency_relative_accuracy', buildtrace.bt_sketch_relative_accuracy(proc),
        'reported_latency_p95', buildtrace.bt_sketch_quantile(reported, 0.95),
        'reported_latency_p99', buildtrace.bt_sketch_quantile(reported, 0.99),
        'data_quality_issues', coalesce(n_failed, 0),
        'jobs', coalesce(jobs, '[]'));
END
$$;
COMMENT ON FUNCTION buildtrace.metrics(interval) IS
    'GET /metrics body with latency bounds and per-job metrics, from hourly_rollups.';

-- _window_start stays executable by everyone: the latency view calls it, and
-- a view's functions are called with the querying user's privileges.
REVOKE ALL ON FUNCTION buildtrace.rebuild_rollups(), buildtrace._changed_objects(jsonb),
    buildtrace.metrics(interval) FROM PUBLIC;
GRANT SELECT ON buildtrace.latency TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.metrics(interval) TO buildtrace_reader;
-- The drawing simulator: realistic floor-plan versions with known changes.
--
-- Everything here is deterministic in its arguments.  Pseudo-random numbers
-- never come from random()/setseed() (session state) but from hashing:
--   hd = hashint8extended(drawing, seed), hs = hashint8extended(step, hd),
--   ho = hashint8extended(object, hs),    u  = hashint8extended(purpose, ho)
-- with the top 53 bits of u mapped to [0, 1).  The mapping is written out in
-- place rather than in a helper function: SQL functions must pin
-- search_path, and a pinned function is never inlined, so a helper would cost
-- a full function call per draw.
--
-- Geometry is kept in integer millimetres and printed in units (metres) with
-- at most three decimals, so every coordinate and size in the output is exact.
--
-- Change model (per step, i.e. per new version of a drawing), with
-- r = change_rate (or min(r * spike_factor, 0.5) on the spike step):
--   removed   each existing object with probability r;
--   moved, resized, retyped, modified: each surviving object independently
--             with probability r / (1 - r), so each kind is a share r of the
--             objects overall; combinations (moved and resized ...) follow;
--   added     each of `objects` new-object slots with probability r.
-- Moves are 0.2 to 3 units in any direction (tolerance 0.1); a resize
-- changes width and/or height by at least a fifth of the object's base size
-- (>= 0.03 units; tolerance 0.01) and never moves the object; a retype swaps
-- the type within its family (door <-> window, wall <-> curtain_wall,
-- column <-> pier, space <-> zone); an attribute edit sets one attribute
-- (material, fire_rating, ...) to a different value.  So buildtrace.bt_diff
-- with the default tolerances reports exactly the truth.

-- The version chains all public functions are built from: `drawings`
-- drawings with `versions` versions each; version 1 is the base floor plan,
-- each later one the previous changed.  truth is relative to the previous
-- version (version 1: everything added).
CREATE FUNCTION buildtrace._sim_chain(p_drawings int, p_versions int, p_objects int,
                                      p_rate float8, p_seed int, p_spike_drawing int,
                                      p_spike_step int, p_spike_factor float8)
RETURNS TABLE(drawing_no int, version_no int, payload jsonb, truth jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
-- The planner cannot estimate the generate_series joins and guesses costs in
-- the trillions; JIT compiling for those guesses takes seconds, the work
-- itself milliseconds.
SET jit = off
AS $fn$
WITH
prm AS (
    SELECT p_drawings AS nd, p_versions AS nv, p_objects AS n, p_rate AS r,
           p_seed::int8 AS sd,
           least(p_rate * coalesce(p_spike_factor, 1), 0.5) AS r_spike,
           -- the spike step adds enough objects on its own to reach
           -- spike_factor times the expected change count of a normal step
           -- (6 kinds, each a share r of the objects)
           CASE WHEN p_spike_step IS NULL THEN 0
                ELSE ceil(p_spike_factor * 6 * p_rate * p_objects)::int END AS n_spike,
           g.nx, g.ny
    FROM (SELECT nx, ny
          FROM generate_series(1, 4000) k,
               LATERAL (SELECT k / 2 + 1 AS nx, (k + 1) / 2 AS ny) c
          -- template size: columns, walls, doors, windows, spaces
          WHERE (nx + 1) * (ny + 1) + nx * (ny + 1) + (nx + 1) * ny
                + nx * (ny - 1) + (nx - 1) * ny + 1
                + 2 * nx + 2 * ny - 1
                + nx * ny >= p_objects
          ORDER BY k LIMIT 1) g
),
blk AS (SELECT greatest(n, n_spike) AS b FROM prm),
-- The floor-plan template for an nx x ny grid: columns at intersections,
-- walls between them (outer walls thicker), a door in every interior wall
-- and one entrance, a window in every other outer wall, a space per cell.
-- Tier 0 (structure) is kept first when a drawing has fewer objects.
tpl AS (
    SELECT row_number() OVER (ORDER BY tier, kind, orient, i, j) AS t, *
    FROM (
        SELECT 0 AS tier, 'column' AS kind, '-' AS orient, i, j, false AS outer_wall
        FROM prm, generate_series(0, nx) i, generate_series(0, ny) j
        UNION ALL
        SELECT 0, 'wall', 'h', i, j, j IN (0, ny)
        FROM prm, generate_series(0, nx - 1) i, generate_series(0, ny) j
        UNION ALL
        SELECT 0, 'wall', 'v', i, j, i IN (0, nx)
        FROM prm, generate_series(0, nx) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'door', 'h', i, j, j = 0
        FROM prm, generate_series(0, nx - 1) i, generate_series(0, ny) j
        WHERE (j > 0 AND j < ny) OR (i = 0 AND j = 0)
        UNION ALL
        SELECT 1, 'door', 'v', i, j, false
        FROM prm, generate_series(1, nx - 1) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'window', 'h', i, j, true
        FROM prm, generate_series(0, nx - 1) i, unnest(ARRAY[0, ny]) j
        WHERE NOT (i = 0 AND j = 0)
        UNION ALL
        SELECT 1, 'window', 'v', i, j, true
        FROM prm, unnest(ARRAY[0, nx]) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'space', '-', i, j, false
        FROM prm, generate_series(0, nx - 1) i, generate_series(0, ny - 1) j
    ) x
),
-- Per drawing: grid spacing, column size, wall thicknesses (mm).
dr AS (
    SELECT d, hd,
           4000 + 500 * floor(8 * ((pg_catalog.hashint8extended(1, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8 AS sx,
           4000 + 500 * floor(8 * ((pg_catalog.hashint8extended(2, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8 AS sy,
           300 + 100 * floor(3 * ((pg_catalog.hashint8extended(3, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8 AS col,
           250 + 50 * floor(4 * ((pg_catalog.hashint8extended(4, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8 AS tw_out,
           150 + 25 * floor(3 * ((pg_catalog.hashint8extended(5, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8 AS tw_in
    FROM prm, generate_series(1, nd) d,
         LATERAL (SELECT pg_catalog.hashint8extended(d, sd) AS hd) h
),
steps AS (
    SELECT d, s, pg_catalog.hashint8extended(s, hd) AS hs,
           CASE WHEN coalesce(d = p_spike_drawing AND s = p_spike_step AND s > 1, false)
                THEN r_spike ELSE r END AS rs,
           coalesce(d = p_spike_drawing AND s = p_spike_step AND s > 1, false) AS spike
    FROM prm, dr, generate_series(1, nv) s
),
-- Base objects: the first n template entries, structure first, the rest in
-- a per-drawing random order.  key = object number within the drawing.
base AS (
    SELECT d, key, 1 AS birth, kind, orient, i, j, outer_wall, false AS mid
    FROM (SELECT dr.d, tpl.*,
                 row_number() OVER (PARTITION BY dr.d
                                    ORDER BY tier, CASE WHEN tier = 0 THEN t
                                                        ELSE pg_catalog.hashint8extended(t, hd) END) AS key
          FROM dr, tpl) x, prm
    WHERE key <= n
),
-- Added objects: slot j of step s becomes object key n + (s - 2) * b + j.
added AS (
    SELECT st.d, k.key, st.s AS birth,
           CASE WHEN u1 < 0.30 THEN 'door' WHEN u1 < 0.50 THEN 'window'
                WHEN u1 < 0.65 THEN 'column' WHEN u1 < 0.85 THEN 'wall' ELSE 'space' END AS kind,
           CASE WHEN u1 >= 0.85 OR (u1 >= 0.50 AND u1 < 0.65) THEN '-'
                WHEN u2 < 0.5 THEN 'h' ELSE 'v' END AS orient,
           -- windows go on an outer wall; other kinds anywhere in the grid
           CASE WHEN u1 >= 0.30 AND u1 < 0.50 AND u2 >= 0.5 THEN CASE WHEN u3 < 0.5 THEN 0 ELSE nx END
                ELSE floor(u3 * nx)::int END AS i,
           CASE WHEN u1 >= 0.30 AND u1 < 0.50 AND u2 < 0.5 THEN CASE WHEN u4 < 0.5 THEN 0 ELSE ny END
                WHEN u1 < 0.30 AND u2 < 0.5 THEN floor(u4 * (ny + 1))::int
                ELSE floor(u4 * ny)::int END AS j,
           u1 >= 0.30 AND u1 < 0.50 AS outer_wall,
           -- added columns stand mid-span, added walls are partitions
           u1 >= 0.50 AND u1 < 0.85 AS mid
    FROM prm, blk, steps st,
         LATERAL (SELECT n + (st.s - 2) * b + jj AS key, jj
                  FROM generate_series(1, CASE WHEN st.spike THEN b ELSE n END) jj) k,
         LATERAL (SELECT pg_catalog.hashint8extended(k.key, st.hs) AS ho) h,
         LATERAL (SELECT ((pg_catalog.hashint8extended(1, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u0,
                         ((pg_catalog.hashint8extended(21, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                         ((pg_catalog.hashint8extended(22, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                         ((pg_catalog.hashint8extended(23, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u3,
                         ((pg_catalog.hashint8extended(24, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u4) u
    WHERE st.s > 1
      AND CASE WHEN st.spike THEN k.jj <= greatest(n_spike, 0) OR (k.jj <= n AND u0 < st.rs)
               ELSE u0 < st.rs END
),
fam AS (
    SELECT * FROM (VALUES
        ('wall', 'wall', 0, 'W', 'A-WALL'),
        ('column', 'column', 0, 'C', 'S-COLS'),
        ('door', 'opening', 0, 'D', 'A-OPNG'),
        ('window', 'opening', 1, 'WN', 'A-OPNG'),
        ('space', 'space', 0, 'SP', 'A-AREA')) v(kind, family, t0, prefix, layer)
),
dom AS (
    SELECT * FROM (VALUES
        ('wall', '{wall,curtain_wall}'::text[], '{material,fire_rating,finish}'::text[],
         '{concrete,masonry,timber frame,drywall,steel stud}'::text[],
         '{none,REI30,REI60,REI90}'::text[], '{plaster,paint,tile,exposed}'::text[]),
        ('opening', '{door,window}', '{material,fire_rating,glazing}',
         '{timber,steel,aluminium,pvc}', '{none,EI30,EI60}', '{none,single,double,triple}'),
        ('column', '{column,pier}', '{material,fire_rating,finish}',
         '{concrete,steel,timber,masonry}', '{R30,R60,R90,R120}', '{exposed,painted,clad,intumescent}'),
        ('space', '{space,zone}', '{use,floor_finish,ceiling}',
         '{office,meeting,storage,corridor,kitchen,wc,lobby}', '{carpet,tile,vinyl,screed,timber}',
         '{suspended,exposed,plaster}')) v(family, types, an, d1, d2, d3)
),
-- Every object with its base geometry (mm) and attribute indices.
obj AS (
    SELECT o.d, o.key, o.birth, f.family, f.t0, f.layer,
           f.prefix || '-' || CASE WHEN num < 10000 THEN lpad(num::text, 4, '0') ELSE num::text END AS id,
           o.orient, x0, y0, w0, h0,
           CASE WHEN o.orient = 'v' THEN 90 ELSE 0 END AS rot,
           floor(a1 * cardinality(dm.d1))::int AS a10,
           floor(a2 * cardinality(dm.d2))::int AS a20,
           floor(a3 * cardinality(dm.d3))::int AS a30
    FROM (SELECT *, CASE WHEN birth = 1
                         THEN row_number() OVER (PARTITION BY d, birth = 1, kind ORDER BY key)
                         ELSE key END AS num
          FROM (SELECT * FROM base UNION ALL SELECT * FROM added) z) o
    JOIN fam f USING (kind)
    JOIN dom dm USING (family)
    JOIN dr ON dr.d = o.d
    JOIN steps st ON st.d = o.d AND st.s = o.birth,
    LATERAL (SELECT pg_catalog.hashint8extended(o.key, st.hs) AS ho) h,
    LATERAL (SELECT ((pg_catalog.hashint8extended(31, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS g1,
                    ((pg_catalog.hashint8extended(32, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS g2,
                    ((pg_catalog.hashint8extended(33, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a1,
                    ((pg_catalog.hashint8extended(34, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a2,
                    ((pg_catalog.hashint8extended(35, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a3) u,
    LATERAL (SELECT CASE WHEN o.orient = 'v' THEN dr.sy ELSE dr.sx END - dr.col AS len,
                    CASE WHEN o.outer_wall THEN dr.tw_out ELSE dr.tw_in END AS thick,
                    CASE WHEN o.kind = 'door' THEN 900 + 100 * floor(4 * g1)::int8
                         ELSE 1200 + 200 * floor(6 * g1)::int8 END AS opening) gg,
    LATERAL (SELECT -- insertion point: centre of the host (grid point, wall, cell)
                    o.i * dr.sx + CASE WHEN o.kind = 'space' OR o.orient = 'h' OR o.mid
                                       THEN dr.sx / 2 ELSE 0 END AS cx,
                    o.j * dr.sy + CASE WHEN o.kind = 'space' OR o.orient = 'v'
                                            OR (o.mid AND o.kind = 'wall')
                                       THEN dr.sy / 2 ELSE 0 END AS cy,
                    -- doors and windows sit somewhere along their wall
                    CASE WHEN o.kind IN ('door', 'window')
                         THEN round((g2 - 0.5) * greatest(len - opening - 200, 0))::int8
                         ELSE 0 END AS off) c,
    LATERAL (SELECT cx + CASE WHEN o.orient = 'h' THEN off ELSE 0 END AS x0,
                    cy + CASE WHEN o.orient = 'v' THEN off ELSE 0 END AS y0,
                    CASE o.kind WHEN 'column' THEN dr.col WHEN 'wall' THEN len
                                WHEN 'space' THEN dr.sx - dr.tw_in ELSE opening END AS w0,
                    CASE o.kind WHEN 'column' THEN dr.col WHEN 'space' THEN dr.sy - dr.tw_in
                                ELSE thick END AS h0) gm
),
-- One row per object and step after its birth, with that step's events.
ev AS (
    SELECT o.*, st.s,
           st.s > o.birth AND e1 < st.rs AS rm,
           st.s > o.birth AND e2 < st.rs / (1 - st.rs) AS mv,
           st.s > o.birth AND e3 < st.rs / (1 - st.rs) AS rsz,
           st.s > o.birth AND e4 < st.rs / (1 - st.rs) AS rt,
           st.s > o.birth AND e5 < st.rs / (1 - st.rs) AS md,
           -- move: 0.2 to 3 units in any direction
           round((200 + 2800 * e6) * cos(2 * pi() * e7))::int8 AS mdx,
           round((200 + 2800 * e6) * sin(2 * pi() * e7))::int8 AS mdy,
           -- resize: width, height or both, by 20 % to 80 % of the base size,
           -- wrapping within [base / 2, base * 3 / 2)
           CASE WHEN e8 < 0.7 THEN round(o.w0 * (0.2 + 0.6 * e9))::int8 ELSE 0 END AS dw,
           CASE WHEN e8 >= 0.4 THEN round(o.h0 * (0.2 + 0.6 * e10))::int8 ELSE 0 END AS dh,
           floor(3 * e11)::int AS mattr,
           e12 AS minc
    FROM obj o
    JOIN steps st ON st.d = o.d AND st.s > o.birth,
    LATERAL (SELECT pg_catalog.hashint8extended(o.key, st.hs) AS ho) h,
    LATERAL (SELECT ((pg_catalog.hashint8extended(2, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e1,
                    ((pg_catalog.hashint8extended(3, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e2,
                    ((pg_catalog.hashint8extended(4, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e3,
                    ((pg_catalog.hashint8extended(5, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e4,
                    ((pg_catalog.hashint8extended(6, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e5,
                    ((pg_catalog.hashint8extended(7, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e6,
                    ((pg_catalog.hashint8extended(8, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e7,
                    ((pg_catalog.hashint8extended(9, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e8,
                    ((pg_catalog.hashint8extended(10, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e9,
                    ((pg_catalog.hashint8extended(11, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e10,
                    ((pg_catalog.hashint8extended(12, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e11,
                    ((pg_catalog.hashint8extended(13, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e12) u
),
-- Accumulate the events up to each step; an object is gone from the step
-- of its first removal on.  The birth rows, the bulk when there are few
-- versions, have no events and skip the hashing and the window.
cum AS (
    SELECT o.*, o.birth AS s, false AS rm, false AS mv, false AS rsz, false AS rt, false AS md,
           0::int8 AS mdx, 0::int8 AS mdy, 0::int8 AS dw, 0::int8 AS dh, 0 AS mattr, 0::float8 AS minc,
           dm.types, dm.an, dm.d1, dm.d2, dm.d3,
           0::int8 AS nrm, 0::int8 AS sdx, 0::int8 AS sdy, 0::int8 AS sdw, 0::int8 AS sdh,
           0::int8 AS nrt, 0::int8 AS s1, 0::int8 AS s2, 0::int8 AS s3
    FROM obj o JOIN dom dm USING (family)
    UNION ALL
    SELECT e.*, dm.types, dm.an, dm.d1, dm.d2, dm.d3,
           count(*) FILTER (WHERE rm) OVER w AS nrm,
           sum(CASE WHEN mv AND NOT rm THEN mdx::int4 ELSE 0 END) OVER w AS sdx,
           sum(CASE WHEN mv AND NOT rm THEN mdy::int4 ELSE 0 END) OVER w AS sdy,
           sum(CASE WHEN rsz AND NOT rm THEN dw::int4 ELSE 0 END) OVER w AS sdw,
           sum(CASE WHEN rsz AND NOT rm THEN dh::int4 ELSE 0 END) OVER w AS sdh,
           count(*) FILTER (WHERE rt AND NOT rm) OVER w AS nrt,
           -- an edit moves the chosen attribute 1 .. size-1 places round its
           -- domain, so the value always differs from the one before
           sum(CASE WHEN md AND NOT rm AND mattr = 0
                    THEN 1 + floor(minc * (cardinality(dm.d1) - 1))::int ELSE 0 END) OVER w AS s1,
           sum(CASE WHEN md AND NOT rm AND mattr = 1
                    THEN 1 + floor(minc * (cardinality(dm.d2) - 1))::int ELSE 0 END) OVER w AS s2,
           sum(CASE WHEN md AND NOT rm AND mattr = 2
                    THEN 1 + floor(minc * (cardinality(dm.d3) - 1))::int ELSE 0 END) OVER w AS s3
    FROM ev e JOIN dom dm USING (family)
    WINDOW w AS (PARTITION BY e.d, e.key ORDER BY e.s)
),
-- Payloads from the live objects; truth from the rows with an event only
-- (a version's first removal counts, the object is gone from then on).
live AS (
    -- Built as JSON text and parsed once per version: about twice as fast as
    -- jsonb_build_object per object.  Every string here comes from the fixed
    -- vocabularies above or from generated ids, none needing JSON escapes.
    SELECT d, s,
           ('[' || string_agg(
                '{"id":"' || id || '","type":"' || types[1 + (t0 + nrt) % 2]
                || '","x":' || trim_scale((x0 + sdx) * 0.001)
                || ',"y":' || trim_scale((y0 + sdy) * 0.001)
                || ',"width":' || trim_scale((w0 / 2 + (w0 - w0 / 2 + sdw) % w0) * 0.001)
                || ',"height":' || trim_scale((h0 / 2 + (h0 - h0 / 2 + sdh) % h0) * 0.001)
                || ',"rotation":' || rot
                || ',"layer":"' || layer || '","level":"L00","'
                || an[1] || '":"' || d1[1 + (a10 + s1) % cardinality(d1)] || '","'
                || an[2] || '":"' || d2[1 + (a20 + s2) % cardinality(d2)] || '","'
                || an[3] || '":"' || d3[1 + (a30 + s3) % cardinality(d3)] || '"}',
                ',' ORDER BY key) || ']')::jsonb AS payload
    FROM cum
    WHERE nrm = 0
    GROUP BY d, s
),
changed AS (
    SELECT d, s, jsonb_object_agg(kind, ids) AS truth
    FROM (SELECT d, s, kind, jsonb_agg(id ORDER BY id COLLATE "C") AS ids
          FROM cum,
               LATERAL (VALUES ('added', birth = s), ('removed', rm AND nrm = 1),
                               ('moved', mv AND nrm = 0), ('resized', rsz AND nrm = 0),
                               ('retyped', rt AND nrm = 0), ('modified', md AND nrm = 0)) k(kind, hit)
          WHERE nrm <= 1 AND (birth = s OR rm OR mv OR rsz OR rt OR md) AND hit
          GROUP BY d, s, kind) k
    GROUP BY d, s
)
SELECT st.d::int, st.s::int, coalesce(l.payload, '[]'),
       '{"added": [], "removed": [], "moved": [], "resized": [], "retyped": [], "modified": [],
         "malformed": false}'::jsonb
       || coalesce(c.truth, '{}')
       || CASE WHEN st.spike THEN '{"spike": true}'::jsonb ELSE '{}' END
FROM steps st
LEFT JOIN live l ON l.d = st.d AND l.s = st.s
LEFT JOIN changed c ON c.d = st.d AND c.s = st.s
ORDER BY st.d, st.s
$fn$;

-- Breaks one element of a version in one realistic way, chosen by hash h:
-- a string coordinate, a duplicated id, a missing id, a null width, an
-- element that is not an object, a negative size, a missing coordinate.
-- Returns {"payload": broken version, "defect": {"kind", "index", "id"}}.
CREATE FUNCTION buildtrace._sim_corrupt(v jsonb, h int8)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    kinds CONSTANT text[] := ARRAY['string_coordinate', 'duplicate_id', 'missing_id',
                                   'null_width', 'not_an_object', 'negative_size',
                                   'missing_coordinate'];
    u1 float8 := ((hashint8extended(1, h) >> 11) & 9007199254740991)::float8 / 9007199254740992;
    u2 float8 := ((hashint8extended(2, h) >> 11) & 9007199254740991)::float8 / 9007199254740992;
    len int := jsonb_array_length(v);
    k text := kinds[1 + floor(u1 * cardinality(kinds))::int];
    e int := floor(u2 * len)::int;
    elem jsonb := v -> e;
    path text[] := ARRAY[e::text];
    bad jsonb;
BEGIN
    IF len = 0 THEN
        k := 'not_an_object';
        e := 0;
        bad := '["?"]';
    ELSIF k = 'string_coordinate' THEN
        bad := jsonb_set(v, path || 'x'::text, to_jsonb((elem -> 'x')::text));
    ELSIF k = 'duplicate_id' THEN
        -- a second object with the same id, a unit further east, at the end
        bad := v || jsonb_build_array(elem || jsonb_build_object('x', (elem ->> 'x')::numeric + 1));
        e := len;
    ELSIF k = 'missing_id' THEN
        bad := jsonb_set(v, path, elem - 'id');
    ELSIF k = 'null_width' THEN
        bad := jsonb_set(v, path || 'width'::text, 'null');
    ELSIF k = 'not_an_object' THEN
        bad := jsonb_set(v, path, elem -> 'id');
    ELSIF k = 'negative_size' THEN
        bad := jsonb_set(v, path || 'height'::text, to_jsonb(-(elem ->> 'height')::numeric));
    ELSE
        bad := jsonb_set(v, path, elem - 'y');
    END IF;
    RETURN jsonb_build_object('payload', bad,
                              'defect', jsonb_build_object('kind', k, 'index', e,
                                                           'id', elem -> 'id'));
END
$fn$;

-- Argument checks shared by generate_pairs and generate_versions.
CREATE FUNCTION buildtrace._sim_check_args(what text, n int, objects int, change_rate float8,
                                           malformed_rate float8, spike_factor float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF n IS NULL OR n < 0 THEN
        RAISE EXCEPTION '% must be zero or more', what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(n::text, 'null'));
    END IF;
    IF objects IS NULL OR objects < 1 OR objects > 1000000 THEN
        RAISE EXCEPTION 'objects must be between 1 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(objects::text, 'null'));
    END IF;
    IF change_rate IS NULL OR NOT change_rate BETWEEN 0 AND 0.5 THEN
        RAISE EXCEPTION 'change_rate must be between 0 and 0.5'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(change_rate::text, 'null')),
                  HINT = 'change_rate is the share of objects each change kind affects; removals cannot exceed half and leave objects to move, resize, retype and edit.';
    END IF;
    IF malformed_rate IS NULL OR NOT malformed_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'malformed_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(malformed_rate::text, 'null'));
    END IF;
    IF spike_factor IS NULL OR spike_factor < 1 OR spike_factor = 'infinity' THEN
        RAISE EXCEPTION 'spike_factor must be a finite number of at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(spike_factor::text, 'null'));
    END IF;
END
$fn$;

-- A drawing id: prefix and a number of at least four digits.
CREATE FUNCTION buildtrace._sim_drawing_id(prefix text, d int)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN prefix || CASE WHEN d < 10000 THEN lpad(d::text, 4, '0') ELSE d::text END;

-- Simulated drawing pairs with ground truth.  Pair p belongs to drawing
-- ((p - 1) % drawings) + 1; the pairs of one drawing are its consecutive
-- versions, so with `drawings` set they are exactly the consecutive pairs of
-- generate_versions(drawings, ...) with the same seed.  NULL drawings: one
-- drawing per pair.  spike_at: the pair that changes far more objects.
CREATE FUNCTION buildtrace.generate_pairs(pairs int, objects int DEFAULT 100,
                                          change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                          malformed_rate float8 DEFAULT 0,
                                          drawings int DEFAULT NULL, spike_at int DEFAULT NULL,
                                          spike_factor float8 DEFAULT 10,
                                          drawing_prefix text DEFAULT 'DWG-')
RETURNS TABLE(pair_no int, drawing_id text, version_a jsonb, version_b jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    np int := generate_pairs.pairs;
    nd int := coalesce(generate_pairs.drawings, greatest(generate_pairs.pairs, 1));
    sd int8 := coalesce(generate_pairs.seed, 0);
    mr float8 := generate_pairs.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('pairs', np, generate_pairs.objects,
                                       generate_pairs.change_rate, mr, generate_pairs.spike_factor);
    IF nd < 1 THEN
        RAISE EXCEPTION 'drawings must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', nd);
    END IF;
    IF generate_pairs.spike_at IS NOT NULL AND NOT generate_pairs.spike_at BETWEEN 1 AND np THEN
        RAISE EXCEPTION 'spike_at must be a pair number between 1 and %', np
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', generate_pairs.spike_at);
    END IF;
    RETURN QUERY
    WITH c AS MATERIALIZED (
        SELECT * FROM buildtrace._sim_chain(nd, (np + nd - 1) / nd + 1, generate_pairs.objects,
                                            generate_pairs.change_rate, sd::int,
                                            (generate_pairs.spike_at - 1) % nd + 1,
                                            (generate_pairs.spike_at - 1) / nd + 2,
                                            generate_pairs.spike_factor)
    ),
    p AS (
        SELECT g.p, (g.p - 1) % nd + 1 AS d, (g.p - 1) / nd + 2 AS s, hm,
               ((hashint8extended(1, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad,
               ((hashint8extended(2, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < 0.5 AS bad_a
        FROM generate_series(1, np) g(p),
             LATERAL (SELECT hashint8extended(g.p, hashint8extended(-1, sd)) AS hm) h
    )
    SELECT p.p, buildtrace._sim_drawing_id(generate_pairs.drawing_prefix, p.d),
           CASE WHEN p.bad AND p.bad_a THEN x.broken -> 'payload' ELSE a.payload END,
           CASE WHEN p.bad AND NOT p.bad_a THEN x.broken -> 'payload' ELSE b.payload END,
           CASE WHEN p.bad
                THEN b.truth || jsonb_build_object('malformed', true,
                                                   'defect', jsonb_build_object('version', CASE WHEN p.bad_a THEN 'a' ELSE 'b' END)
                                                             || (x.broken -> 'defect'))
                ELSE b.truth END
    FROM p
    JOIN c a ON a.drawing_no = p.d AND a.version_no = p.s - 1
    JOIN c b ON b.drawing_no = p.d AND b.version_no = p.s
    LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(CASE WHEN p.bad_a THEN a.payload ELSE b.payload END,
                                                      hashint8extended(3, p.hm)) AS broken
                       WHERE p.bad) x ON true
    ORDER BY p.p;
END
$fn$;

-- Simulated version chains for INSERT INTO buildtrace.versions: version 1 is
-- a base floor plan, each later version the previous one changed; truth is
-- relative to the previous version (version 1: all objects added).  A
-- malformed version is a broken copy of what would have been uploaded; the
-- next version is derived from the unbroken one.  spike_at / spike_drawing:
-- the version (> 1) that changes far more objects.
CREATE FUNCTION buildtrace.generate_versions(drawings int, versions int, objects int DEFAULT 100,
                                             change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                             malformed_rate float8 DEFAULT 0,
                                             spike_at int DEFAULT NULL, spike_drawing int DEFAULT 1,
                                             spike_factor float8 DEFAULT 10,
                                             drawing_prefix text DEFAULT 'DWG-')
RETURNS TABLE(drawing_id text, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    nd int := generate_versions.drawings;
    nv int := generate_versions.versions;
    sd int8 := coalesce(generate_versions.seed, 0);
    mr float8 := generate_versions.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('drawings', nd, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._sim_check_args('versions', nv, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    IF generate_versions.spike_at IS NOT NULL
       AND (NOT generate_versions.spike_at BETWEEN 2 AND nv
            OR generate_versions.spike_drawing IS NULL
            OR NOT generate_versions.spike_drawing BETWEEN 1 AND nd) THEN
        RAISE EXCEPTION 'spike must be at a version between 2 and % of a drawing between 1 and %', nv, nd
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were spike_at %s, spike_drawing %s.',
                                  generate_versions.spike_at,
                                  coalesce(generate_versions.spike_drawing::text, 'null'));
    END IF;
    IF nd = 0 OR nv = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT buildtrace._sim_drawing_id(generate_versions.drawing_prefix, c.drawing_no), c.version_no,
           CASE WHEN bad THEN x.broken -> 'payload' ELSE c.payload END,
           CASE WHEN bad THEN c.truth || jsonb_build_object('malformed', true,
                                                            'defect', x.broken -> 'defect')
                ELSE c.truth END
    FROM buildtrace._sim_chain(nd, nv, generate_versions.objects, generate_versions.change_rate,
                               sd::int, generate_versions.spike_drawing,
                               generate_versions.spike_at, generate_versions.spike_factor) c,
         LATERAL (SELECT hashint8extended(c.version_no,
                                          hashint8extended(c.drawing_no, hashint8extended(-2, sd))) AS hm) h,
         LATERAL (SELECT ((hashint8extended(1, h.hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad) m
         LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(c.payload, hashint8extended(3, h.hm)) AS broken
                            WHERE m.bad) x ON true
    ORDER BY c.drawing_no, c.version_no;
END
$fn$;

-- ---------------------------------------------------------------------------
-- Monitoring: upload expectations, check_uploads(), anomaly
-- resolution, pg_cron scheduling and health().
--
-- check_uploads(as_of) is the one place the time-based rules live; it is what
-- pg_cron runs, and tests call it at fixed as_of times. Everything it records
-- is idempotent: running it twice for the same as_of records nothing new.
-- ---------------------------------------------------------------------------

-- Which drawings should receive uploads, and how often.
CREATE TABLE buildtrace.upload_expectations (
    drawing_id     text PRIMARY KEY CHECK (drawing_id <> ''),
    every          interval NOT NULL CHECK (every > interval '0'),
    grace          interval NOT NULL DEFAULT interval '0' CHECK (grace >= interval '0'),
    -- The first upload is due at since + every.
    since          timestamptz NOT NULL DEFAULT now(),
    -- Uploads up to here have been checked for lateness (internal watermark).
    checked_until  timestamptz
);
COMMENT ON TABLE buildtrace.upload_expectations IS
    'Drawings expected to receive an upload every "every", late after "grace" more.';

-- Every upload of a drawing: a row of versions, or a pair submitted directly
-- (pairs made from versions are not counted twice).
CREATE VIEW buildtrace.uploads AS
SELECT v.drawing_id, v.uploaded_at, v.version_id, NULL::bigint AS pair_id
FROM buildtrace.versions v
UNION ALL
SELECT p.drawing_id, p.submitted_at, NULL::bigint, p.pair_id
FROM buildtrace.pairs p
WHERE p.from_version IS NULL AND p.to_version IS NULL AND p.retry_of IS NULL;
COMMENT ON VIEW buildtrace.uploads IS
    'Every upload of a drawing: versions rows and directly submitted pairs.';

CREATE INDEX pairs_drawing_submitted_idx
    ON buildtrace.pairs (drawing_id, submitted_at)
    WHERE from_version IS NULL AND to_version IS NULL AND retry_of IS NULL;

-- Each expected drawing's last upload at as_of and when the next is due and late.
CREATE FUNCTION buildtrace._upload_due(as_of timestamptz)
RETURNS TABLE (drawing_id text, last_upload timestamptz, due_at timestamptz,
               late_at timestamptz, every interval)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT e.drawing_id, l.last_upload,
           coalesce(l.last_upload, e.since) + e.every,
           coalesce(l.last_upload, e.since) + e.every + e.grace,
           e.every
    FROM buildtrace.upload_expectations e
    LEFT JOIN LATERAL (
        SELECT max(u.uploaded_at) AS last_upload
        FROM buildtrace.uploads u
        WHERE u.drawing_id = e.drawing_id AND u.uploaded_at <= as_of) l ON true;
END;

-- Overdue drawings: record missing_upload once, escalate to high once a
-- second upload is also overdue, resolve when an upload arrives.
CREATE FUNCTION buildtrace._check_missing(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Resolve: an upload arrived after the one the anomaly was waiting on.
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, d.last_upload),
        details = a.details || jsonb_build_object('resolved_by_upload_at', d.last_upload)
    FROM buildtrace._upload_due(as_of) d
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND a.drawing_id = d.drawing_id
      AND d.last_upload IS NOT NULL
      AND d.last_upload > coalesce((a.details ->> 'last_upload_at')::timestamptz, '-infinity');
    GET DIAGNOSTICS resolved = ROW_COUNT;

    -- Escalate a still-open one once the drawing is a whole period later still.
    UPDATE buildtrace.anomalies a
    SET severity = 'high',
        details = a.details || jsonb_build_object('overdue_by', as_of - d.due_at)
    FROM buildtrace._upload_due(as_of) d
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.severity <> 'high'
      AND a.drawing_id = d.drawing_id AND as_of > d.late_at + d.every;

    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at)
    SELECT 'missing_upload',
           CASE WHEN as_of > d.late_at + d.every THEN 'high' ELSE 'medium' END,
           d.drawing_id,
           jsonb_build_object('last_upload_at', d.last_upload, 'due_at', d.due_at,
                              'late_at', d.late_at, 'overdue_by', as_of - d.due_at),
           as_of
    FROM buildtrace._upload_due(as_of) d
    WHERE as_of > d.late_at
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
                        AND a.drawing_id = d.drawing_id)
    ORDER BY d.drawing_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

-- Uploads that arrived after their due time plus grace: one delayed_upload
-- each (low severity, recorded resolved: the upload did come).
CREATE FUNCTION buildtrace._check_delayed(as_of timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    WITH expected AS (
        SELECT e.drawing_id, e.every, e.grace, e.since,
               coalesce(e.checked_until, e.since) AS checked_from
        FROM buildtrace.upload_expectations e
        WHERE coalesce(e.checked_until, e.since) < as_of
    ), ordered AS (
        SELECT u.drawing_id, u.uploaded_at, u.version_id, u.pair_id, x.every, x.grace,
               x.checked_from,
               coalesce(lag(u.uploaded_at) OVER w, x.since) AS previous_at
        FROM expected x
        JOIN buildtrace.uploads u
          ON u.drawing_id = x.drawing_id AND u.uploaded_at > x.since AND u.uploaded_at <= as_of
        WINDOW w AS (PARTITION BY u.drawing_id ORDER BY u.uploaded_at, u.version_id, u.pair_id)
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details,
                                      detected_at, resolved_at)
    SELECT 'delayed_upload', 'low', o.drawing_id, o.pair_id,
           jsonb_build_object('upload_at', o.uploaded_at, 'due_at', o.previous_at + o.every,
                              'grace', o.grace, 'delay', o.uploaded_at - (o.previous_at + o.every),
                              'version_id', o.version_id),
           as_of, as_of
    FROM ordered o
    WHERE o.uploaded_at > o.checked_from
      AND o.uploaded_at > o.previous_at + o.every + o.grace
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'delayed_upload' AND a.drawing_id = o.drawing_id
                        AND (a.details ->> 'upload_at')::timestamptz = o.uploaded_at)
    ORDER BY o.drawing_id, o.uploaded_at;
    GET DIAGNOSTICS n = ROW_COUNT;

    UPDATE buildtrace.upload_expectations e
    SET checked_until = as_of
    WHERE coalesce(e.checked_until, e.since) < as_of;
    RETURN n;
END
$$;

-- Pairs still pending after buildtrace.pending_max_age: one stale_pending
-- each, resolved once the pair is no longer pending.
CREATE FUNCTION buildtrace._check_pending(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age interval := buildtrace.setting('buildtrace.pending_max_age')::interval;
BEGIN
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, coalesce(p.processed_at, as_of))
    FROM buildtrace.pairs p
    WHERE a.kind = 'stale_pending' AND a.resolved_at IS NULL
      AND p.pair_id = a.pair_id AND p.status <> 'pending';
    GET DIAGNOSTICS resolved = ROW_COUNT;

    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, detected_at)
    SELECT 'stale_pending', 'high', p.drawing_id, p.pair_id,
           jsonb_build_object('submitted_at', p.submitted_at, 'age', as_of - p.submitted_at,
                              'max_age', max_age),
           as_of
    FROM buildtrace.pairs p
    WHERE p.status = 'pending' AND p.submitted_at < as_of - max_age
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'stale_pending' AND a.pair_id = p.pair_id
                        AND a.resolved_at IS NULL)
    ORDER BY p.pair_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

-- Hourly volume spike: changes in the hour before as_of at least spike_factor
-- times the hour before that, per drawing and for the whole system (drawing
-- NULL), with the same small-baseline floor as change spikes. One per drawing
-- per hour window.
CREATE FUNCTION buildtrace._check_volume(as_of timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    factor   float8 := buildtrace.setting('buildtrace.spike_factor')::float8;
    min_base int := buildtrace.setting('buildtrace.spike_min_changes')::int;
    n        int;
BEGIN
    WITH hours AS (
        SELECT c.drawing_id,
               sum(c.total) FILTER (WHERE c.computed_at >= as_of - interval '1 hour') AS last_hour,
               sum(c.total) FILTER (WHERE c.computed_at < as_of - interval '1 hour') AS hour_before
        FROM buildtrace.changes c
        WHERE c.computed_at >= as_of - interval '2 hours' AND c.computed_at < as_of
        GROUP BY GROUPING SETS ((c.drawing_id), ())
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at)
    SELECT 'volume_spike', 'medium', h.drawing_id,
           jsonb_build_object('changes_last_hour', h.last_hour,
                              'changes_hour_before', h.hour_before,
                              'factor', round((h.last_hour::numeric / h.hour_before), 2),
                              'window_end', as_of),
           as_of
    FROM hours h
    WHERE h.hour_before >= greatest(min_base, 1)
      AND h.last_hour >= factor * h.hour_before
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'volume_spike'
                        AND a.drawing_id IS NOT DISTINCT FROM h.drawing_id
                        AND a.detected_at > as_of - interval '1 hour')
    ORDER BY h.drawing_id NULLS FIRST;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION buildtrace.check_uploads(as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing record;
    pending record;
    delayed int;
    volume  int;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('check_uploads() was called with as_of %s.', coalesce(as_of::text, 'NULL'));
    END IF;
    -- Two checks at once would both see "no open anomaly" and record it twice.
    PERFORM pg_advisory_xact_lock(hashtext('buildtrace.check_uploads'));
    missing := buildtrace._check_missing(as_of);
    delayed := buildtrace._check_delayed(as_of);
    pending := buildtrace._check_pending(as_of);
    volume  := buildtrace._check_volume(as_of);
    RETURN jsonb_build_object('as_of', as_of,
                              'missing_upload', missing.recorded,
                              'missing_upload_resolved', missing.resolved,
                              'delayed_upload', delayed,
                              'stale_pending', pending.recorded,
                              'stale_pending_resolved', pending.resolved,
                              'volume_spike', volume);
END
$$;
COMMENT ON FUNCTION buildtrace.check_uploads(timestamptz) IS
    'Records missing, delayed and stale uploads and volume spikes as of a time; idempotent.';

-- Operators close anomalies they have dealt with (spikes stay open until then).
CREATE FUNCTION buildtrace.resolve_anomalies(anomaly_ids bigint[], note text DEFAULT NULL)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH done AS (
        UPDATE buildtrace.anomalies a
        SET resolved_at = greatest(now(), a.detected_at),
            details = CASE WHEN note IS NULL THEN a.details
                           ELSE a.details || jsonb_build_object('resolution_note', note) END
        WHERE a.anomaly_id = ANY (anomaly_ids) AND a.resolved_at IS NULL
        RETURNING 1)
    SELECT count(*)::int FROM done;
END;

-- ---------------------------------------------------------------------------
-- pg_cron. Jobs are named buildtrace-*; cron.schedule() with a job name
-- replaces a job of that name, which makes schedule() idempotent.
-- ---------------------------------------------------------------------------

CREATE TABLE buildtrace.scheduled_jobs (
    job_name  text PRIMARY KEY,
    every     interval NOT NULL,
    command   text NOT NULL,
    scheduled_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE buildtrace.scheduled_jobs IS
    'The pg_cron jobs schedule() registered, with their cadence (health() uses it).';

-- Raises a clear error when pg_cron cannot be used from this database.
CREATE FUNCTION buildtrace._require_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    preloaded bool := current_setting('shared_preload_libraries') ~ '(^|[ ,])pg_cron($|[ ,])';
    cron_db   text := current_setting('cron.database_name', true);
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    IF NOT preloaded THEN
        RAISE EXCEPTION 'pg_cron is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'shared_preload_libraries does not include pg_cron.',
                  HINT = 'Install postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name, restart, and run CREATE EXTENSION pg_cron; or call buildtrace.check_uploads() from another scheduler.';
    ELSIF coalesce(cron_db, 'postgres') <> current_database() THEN
        RAISE EXCEPTION 'pg_cron lives in database "%", not in "%"', coalesce(cron_db, 'postgres'), current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron can only be managed from the database named by cron.database_name.',
                  HINT = format('In database %I run: SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                coalesce(cron_db, 'postgres'), 'buildtrace-check-uploads', '*/5 * * * *',
                                'SELECT buildtrace.check_uploads()', current_database());
    ELSE
        RAISE EXCEPTION 'pg_cron is preloaded but the extension is not created in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron;';
    END IF;
END
$$;

-- A cadence as a cron expression: whole minutes dividing an hour, whole
-- hours dividing a day, or whole days.
CREATE FUNCTION buildtrace._cron_expression(every interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s bigint := extract(epoch FROM every)::bigint;
BEGIN
    IF s = 60 THEN RETURN '* * * * *';
    ELSIF s > 0 AND s % 60 = 0 AND s < 3600 AND 60 % (s / 60) = 0 THEN
        RETURN format('*/%s * * * *', s / 60);
    ELSIF s = 3600 THEN RETURN '0 * * * *';
    ELSIF s > 0 AND s % 3600 = 0 AND s < 86400 AND 24 % (s / 3600) = 0 THEN
        RETURN format('0 */%s * * *', s / 3600);
    ELSIF s = 86400 THEN RETURN '0 0 * * *';
    END IF;
    RAISE EXCEPTION 'unsupported schedule interval %', every
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'The interval must be whole minutes dividing an hour, whole hours dividing a day, or one day.',
              HINT = 'Use for example ''1 minute'', ''5 minutes'', ''1 hour'' or ''1 day''.';
END
$$;

CREATE FUNCTION buildtrace.schedule(every interval DEFAULT interval '5 minutes')
RETURNS TABLE (job_name text, cron_schedule text, command text, jobid bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expr text := buildtrace._cron_expression(every);
    j record;
BEGIN
    PERFORM buildtrace._require_cron();
    INSERT INTO buildtrace.scheduled_jobs AS s (job_name, every, command)
    VALUES ('buildtrace-check-uploads', every, 'SELECT buildtrace.check_uploads()')
    ON CONFLICT ON CONSTRAINT scheduled_jobs_pkey
    DO UPDATE SET every = excluded.every, command = excluded.command,
                  scheduled_at = excluded.scheduled_at;

    FOR j IN SELECT s.job_name, s.command FROM buildtrace.scheduled_jobs s ORDER BY s.job_name LOOP
        job_name := j.job_name;
        cron_schedule := expr;
        command := j.command;
        -- pg_cron is optional, so it is called by name at run time only.
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING j.job_name, expr, j.command;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION buildtrace.schedule(interval) IS
    'Registers buildtrace''s periodic checks with pg_cron at the given cadence; idempotent.';

CREATE FUNCTION buildtrace.unschedule()
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int := 0;
    name text;
BEGIN
    PERFORM buildtrace._require_cron();
    FOR name IN EXECUTE 'SELECT jobname FROM cron.job WHERE jobname LIKE ''buildtrace-%'' ORDER BY jobname' LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING name;
        n := n + 1;
    END LOOP;
    DELETE FROM buildtrace.scheduled_jobs;
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.unschedule() IS
    'Removes the pg_cron jobs schedule() registered; returns how many; idempotent.';

-- ---------------------------------------------------------------------------
-- health(): the /health shape {"status","warnings","anomalies"}.
--
--   unhealthy  a scheduled check failed on its last run; pairs pending longer
--              than buildtrace.pending_max_age; or an open high-severity
--              anomaly detected within the window.
--   degraded   any other open medium/high anomaly; dead letters; pairs
--              pending at all; a scheduled check with no run for twice its
--              cadence (and at least 2 minutes).
--   healthy    otherwise (open low-severity anomalies are only warnings).
-- ---------------------------------------------------------------------------

-- The last run of each scheduled buildtrace job, or nothing without pg_cron.
CREATE FUNCTION buildtrace._cron_runs()
RETURNS TABLE (job_name text, every interval, scheduled_at timestamptz, last_status text,
               last_start timestamptz, last_message text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT s.job_name, s.every, s.scheduled_at, r.status, r.start_time, r.return_message
        FROM buildtrace.scheduled_jobs s
        LEFT JOIN cron.job j ON j.jobname = s.job_name
        LEFT JOIN LATERAL (
            SELECT d.status, d.start_time, d.return_message
            FROM cron.job_run_details d
            WHERE d.jobid = j.jobid AND d.status IN ('succeeded', 'failed')
            ORDER BY d.start_time DESC LIMIT 1) r ON true
        ORDER BY s.job_name $q$;
END
$$;

-- SECURITY DEFINER: the reader role sees views only, yet health() must read
-- pairs, anomalies and pg_cron's tables; it returns only this summary.
CREATE FUNCTION buildtrace.health(recent interval DEFAULT interval '1 hour')
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age   interval := buildtrace.setting('buildtrace.pending_max_age')::interval;
    unhealthy bool := false;
    degraded  bool := false;
    warnings  text[] := '{}';
    n         bigint;
    oldest    timestamptz;
    r         record;
BEGIN
    FOR r IN SELECT * FROM buildtrace._cron_runs() LOOP
        IF r.last_status = 'failed' THEN
            unhealthy := true;
            warnings := warnings || format('Scheduled check %s failed at %s: %s',
                                           r.job_name, r.last_start, r.last_message);
        ELSIF greatest(r.last_start, r.scheduled_at) < now() - greatest(2 * r.every, interval '2 minutes') THEN
            degraded := true;
            warnings := warnings || format('Scheduled check %s has not run since %s (every %s).',
                                           r.job_name, coalesce(r.last_start::text, 'it was scheduled'), r.every);
        END IF;
    END LOOP;

    SELECT count(*), min(submitted_at) INTO n, oldest FROM buildtrace.pairs WHERE status = 'pending';
    IF n > 0 THEN
        IF oldest < now() - max_age THEN
            unhealthy := true;
        ELSE
            degraded := true;
        END IF;
        warnings := warnings || format('%s pair%s pending, the oldest since %s.', n,
                                       CASE WHEN n = 1 THEN '' ELSE 's' END, oldest);
    END IF;

    SELECT count(*) INTO n FROM buildtrace.dead_letters;
    IF n > 0 THEN
        degraded := true;
        warnings := warnings || format('%s failed pair%s waiting in dead_letters.', n,
                                       CASE WHEN n = 1 THEN '' ELSE 's' END);
    END IF;

    FOR r IN SELECT a.kind, a.severity, count(*) AS n,
                    count(*) FILTER (WHERE a.detected_at >= now() - recent) AS n_recent
             FROM buildtrace.anomalies a WHERE a.resolved_at IS NULL
             GROUP BY a.kind, a.severity ORDER BY a.kind, a.severity LOOP
        IF r.severity = 'high' AND r.n_recent > 0 THEN
            unhealthy := true;
        ELSIF r.severity IN ('medium', 'high') THEN
            degraded := true;
        END IF;
        warnings := warnings || format('%s open %s anomal%s (%s severity).', r.n,
                                       replace(r.kind, '_', ' '),
                                       CASE WHEN r.n = 1 THEN 'y' ELSE 'ies' END, r.severity);
    END LOOP;

    RETURN jsonb_build_object(
        'status', CASE WHEN unhealthy THEN 'unhealthy' WHEN degraded THEN 'degraded' ELSE 'healthy' END,
        'warnings', to_jsonb(warnings),
        'anomalies', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'anomaly_id', a.anomaly_id, 'type', a.kind, 'severity', a.severity,
                       'drawing_id', a.drawing_id, 'pair_id', a.pair_id, 'details', a.details,
                       'detected_at', a.detected_at, 'resolved_at', a.resolved_at)
                   ORDER BY a.detected_at DESC, a.anomaly_id DESC)
            FROM (SELECT * FROM buildtrace.anomalies a
                  WHERE a.resolved_at IS NULL OR a.detected_at >= now() - recent
                  ORDER BY a.detected_at DESC, a.anomaly_id DESC LIMIT 50) a), '[]'),
        'checked_at', now());
END
$$;
COMMENT ON FUNCTION buildtrace.health(interval) IS
    'Service health in the original /health shape: status, warnings, recent anomalies.';

REVOKE ALL ON FUNCTION buildtrace._upload_due(timestamptz), buildtrace._check_missing(timestamptz), buildtrace._check_delayed(timestamptz),
    buildtrace._check_pending(timestamptz), buildtrace._check_volume(timestamptz),
    buildtrace.check_uploads(timestamptz), buildtrace.resolve_anomalies(bigint[], text),
    buildtrace._require_cron(), buildtrace.schedule(interval), buildtrace.unschedule(),
    buildtrace._cron_runs(), buildtrace.health(interval) FROM PUBLIC;
GRANT SELECT ON buildtrace.uploads TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.health(interval) TO buildtrace_reader;
