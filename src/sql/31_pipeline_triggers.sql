
-- ---------------------------------------------------------------------------
-- The change pipeline, part 2: triggers (issue 3).
--
-- Both triggers are statement-level with a transition table, so an
-- INSERT ... SELECT or COPY of thousands of rows runs each step once, set-wise,
-- instead of once per row (see test/bench/pipeline_bench.sh).
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

-- AFTER INSERT ON pairs, once per statement.
--
-- SECURITY DEFINER because the writer role may insert pairs but must not be
-- able to write changes, anomalies or pair statuses itself: the trigger writes
-- them with the extension owner's rights. search_path is pinned and every name
-- is qualified, so the caller cannot redirect what it runs.
CREATE FUNCTION buildtrace._pairs_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    on_invalid  text := buildtrace.setting('buildtrace.on_invalid');
    factor      float8 := buildtrace.setting('buildtrace.spike_factor')::float8;
    min_changes integer := buildtrace.setting('buildtrace.spike_min_changes')::integer;
    n_failed    bigint;
    bad         record;
BEGIN
    PERFORM buildtrace._lock_drawings(ARRAY(SELECT DISTINCT drawing_id FROM new_pairs));

    -- One statement does every write, over one materialised set of processed
    -- rows ("processed"): the diff is computed once per pair, and a further
    -- consumer (such as rollups) is one more CTE over the same rows.
    --
    -- processing_us: clock_timestamp() is read just before and just after
    -- bt_try_diff for each row. The inner subquery evaluates t0 and then the
    -- diff (target-list order); the outer one reads t1 when the row comes up,
    -- i.e. right after its diff. OFFSET 0 keeps the subqueries from being
    -- flattened, so each expression is evaluated exactly once per row.
    --
    -- The counts are extracted once here, for every consumer, and total is
    -- computed here so that the spike rule's window sort below carries narrow
    -- rows (computed after the sort, total's expression made the sort carry
    -- each diff: an external merge sort on disk of ~1.6 kB per pair). They are
    -- NULL for failed pairs, whose diff has no counts.
    WITH processed AS MATERIALIZED (
        SELECT y.*,
               y.added + y.removed + y.moved + y.resized + y.retyped + y.modified AS total
        FROM (
            SELECT p.pair_id, p.drawing_id, p.job_id, p.latency_ms, p.retry_of,
                   x.diff,
                   NOT (x.diff ? 'problems') AS ok,
                   (extract(epoch FROM x.t1 - x.t0) * 1000000)::bigint AS processing_us,
                   (x.diff #>> '{counts,added}')::integer AS added,
                   (x.diff #>> '{counts,removed}')::integer AS removed,
                   (x.diff #>> '{counts,moved}')::integer AS moved,
                   (x.diff #>> '{counts,resized}')::integer AS resized,
                   (x.diff #>> '{counts,retyped}')::integer AS retyped,
                   (x.diff #>> '{counts,modified}')::integer AS modified,
                   (x.diff #>> '{counts,unchanged}')::integer AS unchanged
            FROM new_pairs p
            CROSS JOIN LATERAL (
                SELECT d.t0, d.diff, clock_timestamp() AS t1
                FROM (SELECT clock_timestamp() AS t0,
                             buildtrace.bt_try_diff(p.version_a, p.version_b) AS diff
                      OFFSET 0) d
                OFFSET 0) x
        ) y
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
        SELECT pr.pair_id, pr.drawing_id, pr.job_id, pr.diff, pr.diff ->> 'summary',
               pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
               pr.unchanged, pr.processing_us
        FROM processed pr
        WHERE pr.ok
    ),
    upd_pairs AS (
        UPDATE buildtrace.pairs p
        SET status = CASE WHEN pr.ok THEN 'done' ELSE 'failed' END,
            error = CASE WHEN pr.ok THEN NULL ELSE pr.diff -> 'problems' END,
            processed_at = now()
        FROM processed pr
        WHERE p.pair_id = pr.pair_id
    ),
    ins_anomalies AS (
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details)
        SELECT 'invalid_input', 'high', pr.drawing_id, pr.pair_id,
               jsonb_build_object('problems', pr.diff -> 'problems')
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
    SELECT count(*) FILTER (WHERE NOT pr.ok) INTO n_failed FROM processed pr;

    IF n_failed > 0 AND on_invalid = 'reject' THEN
        -- The statement fails, so everything written above is rolled back.
        SELECT p.pair_id, p.drawing_id, e AS problem INTO bad
        FROM new_pairs p
        CROSS JOIN LATERAL jsonb_array_elements(
            (SELECT error FROM buildtrace.pairs q WHERE q.pair_id = p.pair_id)) AS e
        ORDER BY p.pair_id
        LIMIT 1;
        RAISE EXCEPTION USING
            ERRCODE = coalesce(bad.problem ->> 'sqlstate', '22023'),
            MESSAGE = bad.problem ->> 'message',
            -- The problem's detail names the version, element, id and key.
            DETAIL = format('Pair %s of drawing "%s": %s', bad.pair_id, bad.drawing_id,
                            coalesce(bad.problem ->> 'detail',
                                     format('Version %s.', bad.problem ->> 'version'))),
            HINT = 'Set buildtrace.on_invalid = ''flag'' to keep invalid pairs as dead letters.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pairs_process
    AFTER INSERT ON buildtrace.pairs
    REFERENCING NEW TABLE AS new_pairs
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
