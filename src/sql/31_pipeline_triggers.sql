
-- ---------------------------------------------------------------------------
-- The change pipeline, part 2: triggers.
--
-- On pairs, the per-row work is C (the diff, the row's status; see
-- src/pipeline.c) and every write of results is one statement-level step:
-- an INSERT ... SELECT or COPY of thousands of rows writes changes,
-- anomalies and rollups set-wise (see test/bench/pipeline_bench.sh), an
-- INSERT of one pair with a few statements planned for one row, or in the
-- common case directly from C (src/store_direct.c; see
-- test/bench/insert_bench.sh). On versions, a statement-level trigger with
-- a transition table.
-- ---------------------------------------------------------------------------

-- Locks the drawing_state rows of the given drawings, creating missing ones
-- as drawings of the tenant, always in drawing_id order so that two
-- statements cannot deadlock on them. Callers run it before reading "the
-- previous pair / version" of a drawing: under READ COMMITTED the caller's
-- next statement then sees everything the statement it waited for
-- committed; under REPEATABLE READ or SERIALIZABLE a concurrent committed
-- update of the row raises a serialization failure instead of silently
-- reading stale state.
--
-- A drawing belongs to one tenant, the one that named it first: a drawing of
-- another tenant is refused here, before anything of it is read.
CREATE FUNCTION buildtrace._lock_drawings(drawings text[], tenant text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    foreign_drawing text;
BEGIN
    INSERT INTO buildtrace.drawing_state AS s (drawing_id, tenant)
    SELECT DISTINCT d, _lock_drawings.tenant FROM unnest(drawings) AS d ORDER BY 1
    ON CONFLICT (drawing_id) DO NOTHING;

    -- The aggregate reads (and so locks) every row.
    SELECT min(l.drawing_id) FILTER (WHERE l.tenant <> _lock_drawings.tenant) INTO foreign_drawing
    FROM (SELECT s.drawing_id, s.tenant FROM buildtrace.drawing_state s
          WHERE s.drawing_id = ANY (drawings)
          ORDER BY s.drawing_id
          FOR UPDATE) l;
    IF foreign_drawing IS NOT NULL THEN
        PERFORM buildtrace._refuse_foreign_drawing(foreign_drawing, tenant);
    END IF;
END
$$;

-- _lock_drawings for the one drawing of a one-pair statement: locks (or
-- creates) its drawing_state row and returns what the spike rule reads of
-- it, by its key, however many drawings there are.
CREATE FUNCTION buildtrace._lock_drawing(drawing text, tenant text,
                                         OUT last_pair_id bigint, OUT last_total integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text;
BEGIN
    -- A row another transaction is creating is waited for by the INSERT and
    -- read by the second SELECT.
    FOR i IN 1..2 LOOP
        SELECT s.tenant, s.last_pair_id, s.last_total INTO owner, last_pair_id, last_total
        FROM buildtrace.drawing_state s WHERE s.drawing_id = drawing
        FOR UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO buildtrace.drawing_state (drawing_id, tenant) VALUES (drawing, tenant)
        ON CONFLICT (drawing_id) DO NOTHING;
    END LOOP;
    IF owner <> tenant THEN
        PERFORM buildtrace._refuse_foreign_drawing(drawing, tenant);
    END IF;
END
$$;

-- The error of a statement that names another tenant's drawing.
CREATE FUNCTION buildtrace._refuse_foreign_drawing(drawing text, tenant text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'drawing "%" belongs to another tenant', drawing
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('The statement writes as tenant "%s"; drawing ids are unique across tenants.',
                              tenant),
              HINT = 'Use another drawing_id.';
END
$$;

-- Claims the drawings of a statement's deferred pairs (buildtrace.processing
-- = deferred) for their tenant when the statement ends, as processing them
-- inline would: creates their drawing_state rows, or refuses a drawing of
-- another tenant. New rows are inserted in drawing order, as _lock_drawings
-- inserts them, so that statements claiming the same new drawings wait for
-- one another in one order instead of deadlocking. It takes no row lock:
-- work() locks a drawing when it processes its pairs, and finds the row in
-- place, committed with them.
--
-- SECURITY DEFINER, called by the pairs statement trigger (src/claims.c)
-- the way the store functions are: the writer role must not write
-- drawing_state itself. search_path is pinned and every name is qualified.
CREATE FUNCTION buildtrace._claim_drawings(drawings text[], tenant text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    foreign_drawing text;
BEGIN
    -- A row another transaction is creating is waited for by the INSERT
    -- and read by the SELECT.
    INSERT INTO buildtrace.drawing_state (drawing_id, tenant)
    SELECT DISTINCT d, _claim_drawings.tenant FROM unnest(drawings) AS d ORDER BY 1
    ON CONFLICT (drawing_id) DO NOTHING;
    SELECT min(s.drawing_id) FILTER (WHERE s.tenant <> _claim_drawings.tenant) INTO foreign_drawing
    FROM buildtrace.drawing_state s
    WHERE s.drawing_id = ANY (drawings);
    IF foreign_drawing IS NOT NULL THEN
        PERFORM buildtrace._refuse_foreign_drawing(foreign_drawing, tenant);
    END IF;
END
$$;

-- BEFORE INSERT ON pairs, per row, in C (src/pipeline.c): diffs the pair,
-- sets status, error and processed_at on the row before it is written, and
-- keeps the result (diff or problems, counts, processing time) in the
-- statement's handover (src/handover.c). A problem of the pair's data marks
-- it failed; in reject mode it raises the first problem instead. It writes
-- nothing but the row, so it needs no definer rights.
CREATE FUNCTION buildtrace._pairs_before_insert()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_before_insert'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- AFTER INSERT ON pairs, per row, in C: notes that the row was really
-- inserted (not skipped by ON CONFLICT DO NOTHING), and that it is of the
-- statement's one tenant.
CREATE FUNCTION buildtrace._pairs_after_insert_row()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_after_insert_row'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The drawings of the inserted rows of the statement being stored (to lock
-- before taking the results).
CREATE FUNCTION buildtrace._pairs_pending_drawings()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'bt_pairs_pending_drawings'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10000;

-- The results of the inserted rows of the statement being stored, handed
-- over once: a second call returns nothing.
CREATE FUNCTION buildtrace._pairs_take_results(
    OUT pair_id bigint, OUT drawing_id text, OUT job_id text, OUT latency_ms float8,
    OUT retry_of bigint, OUT ok boolean, OUT result jsonb, OUT processing_us bigint,
    OUT added integer, OUT removed integer, OUT moved integer, OUT resized integer,
    OUT retyped integer, OUT modified integer, OUT unchanged integer,
    OUT rotated integer, OUT reidentified integer, OUT shifted integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'bt_pairs_take_results'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10000;

-- The tenant of the inserted rows of the statement being stored: one per
-- statement, checked by the row trigger.
CREATE FUNCTION buildtrace._pairs_pending_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'bt_pairs_pending_tenant'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- AFTER INSERT ON pairs, once per statement, in C: calls
-- _pairs_store_one() if the statement inserted one row,
-- _pairs_store_results() if it inserted more.
CREATE FUNCTION buildtrace._pairs_after_statement()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_after_statement'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The change_spike rule is C (_spike_severity, src/spike.c), asked by both
-- store functions: 'high', 'medium', or NULL for no spike.
CREATE FUNCTION buildtrace._spike_severity(previous_changes integer, changes integer)
RETURNS text
AS 'MODULE_PATHNAME', 'bt_spike_severity'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Stores what _pairs_before_insert computed for the rows a statement
-- inserted; called by _pairs_after_statement, which runs after the row
-- triggers, when the statement inserted two pairs or more. Returns the
-- number of results stored.
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
CREATE FUNCTION buildtrace._pairs_store_results()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'
AS $$
DECLARE
    -- The rows' tenant, not the session's setting, which the statement could
    -- have changed after its last row was checked.
    rows_tenant text := buildtrace._pairs_pending_tenant();
    -- The statement's drawings: their state rows are read by key, never
    -- by a scan of drawing_state, which grows with every drawing.
    drawings    text[] := ARRAY(SELECT DISTINCT d FROM buildtrace._pairs_pending_drawings() d);
    n_processed bigint;
    rollup_drawings text[];
    rollup_totals   buildtrace._rollup_totals[];
BEGIN
    PERFORM buildtrace._lock_drawings(drawings, rows_tenant);

    -- One statement does every write, over one materialised set of processed
    -- rows ("processed"). result is the diff of a processed pair and the
    -- problems of a failed one, whose counts are NULL.
    WITH processed AS MATERIALIZED (
        SELECT r.* FROM buildtrace._pairs_take_results() r
    ),
    -- The spike rule reads the changes' total as the table defines it; only
    -- these narrow rows go through the window's sort.
    ins_changes AS (
        INSERT INTO buildtrace.changes
            (pair_id, drawing_id, job_id, diff, summary, added, removed, moved,
             resized, retyped, modified, unchanged, processing_us, rotated, reidentified,
             shifted, tenant)
        SELECT pr.pair_id, pr.drawing_id, pr.job_id, pr.result, pr.result ->> 'summary',
               pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
               pr.unchanged, pr.processing_us, pr.rotated, pr.reidentified, pr.shifted,
               rows_tenant
        FROM processed pr
        WHERE pr.ok
        RETURNING pair_id, drawing_id, total
    ),
    -- The previous processed pair of each done pair: the one before it in
    -- this statement (pair_id order), else the drawing's last processed pair.
    sequenced AS (
        SELECT c.pair_id, c.drawing_id, c.total,
               lag(c.pair_id) OVER w AS batch_prev_pair,
               lag(c.total) OVER w AS batch_prev_total,
               lead(c.pair_id) OVER w IS NULL AS is_last
        FROM ins_changes c
        WINDOW w AS (PARTITION BY c.drawing_id ORDER BY c.pair_id)
    ),
    done AS (
        SELECT q.*,
               coalesce(q.batch_prev_pair, s.last_pair_id) AS prev_pair_id,
               CASE WHEN q.batch_prev_pair IS NULL THEN s.last_total
                    ELSE q.batch_prev_total END AS prev_total
        FROM sequenced q
        JOIN buildtrace.drawing_state s ON s.drawing_id = q.drawing_id
        WHERE s.drawing_id = ANY (drawings)
    ),
    ins_anomalies AS (
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
        SELECT 'invalid_input', 'high', pr.drawing_id, pr.pair_id,
               jsonb_build_object('problems', pr.result), rows_tenant
        FROM processed pr
        WHERE NOT pr.ok
        UNION ALL
        SELECT 'change_spike', sp.severity, d.drawing_id, d.pair_id,
               jsonb_build_object('previous_changes', d.prev_total, 'changes', d.total,
                                  'factor', buildtrace.setting('buildtrace.spike_factor'::text)::float8,
                                  'previous_pair_id', d.prev_pair_id),
               rows_tenant
        FROM done d
        CROSS JOIN LATERAL (SELECT buildtrace._spike_severity(d.prev_total, d.total) AS severity) sp
        WHERE sp.severity IS NOT NULL
    ),
    -- A retry that was processed (done or failed again) supersedes the failed
    -- pair: its open invalid_input or processing_failed anomaly is resolved.
    resolve_retried AS (
        UPDATE buildtrace.anomalies a
        SET resolved_at = now()
        WHERE a.pair_id = ANY (ARRAY(SELECT pr.retry_of FROM processed pr
                                     WHERE pr.retry_of IS NOT NULL))
          AND a.kind IN ('invalid_input', 'processing_failed')
          AND a.resolved_at IS NULL
    ),
    upd_state AS (
        UPDATE buildtrace.drawing_state s
        SET last_pair_id = d.pair_id, last_total = d.total, updated_at = now()
        FROM done d
        WHERE d.is_last AND s.drawing_id = d.drawing_id AND s.drawing_id = ANY (drawings)
    ),
    -- Hourly rollups, by their one rule (the _rollup aggregate,
    -- 40_metrics.sql), added to the stored rows below.
    drawing_totals AS (
        SELECT pr.drawing_id,
               buildtrace._rollup(pr.ok, pr.added, pr.removed, pr.moved, pr.resized,
                                  pr.retyped, pr.modified, pr.unchanged, pr.rotated,
                                  pr.reidentified, pr.processing_us / 1000.0::float8,
                                  pr.latency_ms) AS totals
        FROM processed pr
        GROUP BY pr.drawing_id
    )
    SELECT (SELECT count(*) FROM processed), array_agg(t.drawing_id), array_agg(t.totals)
    INTO n_processed, rollup_drawings, rollup_totals
    FROM drawing_totals t;
    PERFORM buildtrace._add_rollups(rows_tenant, rollup_drawings, rollup_totals);
    RETURN n_processed;
END
$$;

-- What _pairs_store_results does, for a statement that inserted one pair:
-- a few statements planned for one row, each finding the drawing's rows by
-- their keys, where the set-wise statement is planned for thousands. The
-- same rules: the drawing's lock, the table's total, _spike_severity,
-- _rollup and _add_rollups. Returns 1.
--
-- SECURITY DEFINER for the same reason as _pairs_store_results: the writer
-- role must not write changes, anomalies, rollups or drawing state itself.
-- search_path is pinned and every name is qualified.
CREATE FUNCTION buildtrace._pairs_store_one()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rows_tenant text := buildtrace._pairs_pending_tenant();
    pr          record;
    prev        record;
    total       integer;
    severity    text;
BEGIN
    SELECT * INTO STRICT pr FROM buildtrace._pairs_take_results();
    prev := buildtrace._lock_drawing(pr.drawing_id, rows_tenant);
    IF pr.ok THEN
        INSERT INTO buildtrace.changes
            (pair_id, drawing_id, job_id, diff, summary, added, removed, moved,
             resized, retyped, modified, unchanged, processing_us, rotated, reidentified,
             shifted, tenant)
        VALUES (pr.pair_id, pr.drawing_id, pr.job_id, pr.result, pr.result ->> 'summary',
                pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
                pr.unchanged, pr.processing_us, pr.rotated, pr.reidentified, pr.shifted,
                rows_tenant)
        RETURNING changes.total INTO total;
        UPDATE buildtrace.drawing_state s
        SET last_pair_id = pr.pair_id, last_total = total, updated_at = now()
        WHERE s.drawing_id = pr.drawing_id;
        severity := buildtrace._spike_severity(prev.last_total, total);
        IF severity IS NOT NULL THEN
            INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
            VALUES ('change_spike', severity, pr.drawing_id, pr.pair_id,
                    jsonb_build_object('previous_changes', prev.last_total, 'changes', total,
                                       'factor', buildtrace.setting('buildtrace.spike_factor'::text)::float8,
                                       'previous_pair_id', prev.last_pair_id),
                    rows_tenant);
        END IF;
    ELSE
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
        VALUES ('invalid_input', 'high', pr.drawing_id, pr.pair_id,
                jsonb_build_object('problems', pr.result), rows_tenant);
    END IF;
    IF pr.retry_of IS NOT NULL THEN
        UPDATE buildtrace.anomalies a
        SET resolved_at = now()
        WHERE a.pair_id = pr.retry_of
          AND a.kind IN ('invalid_input', 'processing_failed')
          AND a.resolved_at IS NULL;
    END IF;
    PERFORM buildtrace._add_rollups(rows_tenant, ARRAY[pr.drawing_id], ARRAY[
        (SELECT buildtrace._rollup(pr.ok, pr.added, pr.removed, pr.moved, pr.resized,
                                   pr.retyped, pr.modified, pr.unchanged, pr.rotated,
                                   pr.reidentified, pr.processing_us / 1000.0::float8,
                                   pr.latency_ms))]);
    RETURN 1;
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
    EXECUTE FUNCTION buildtrace._pairs_after_statement();

-- AFTER INSERT ON versions, once per statement: pairs every new version with
-- its predecessor by upload order (uploaded_at, then version_id), looked up in
-- the table itself, so several versions of one drawing in one statement,
-- out-of-order or user-chosen ids, and gaps all pair correctly. The first
-- version of a drawing creates no pair. A version uploaded with an
-- uploaded_at earlier than the drawing's latest is paired with its
-- predecessor at that time; pairs already made are history and are not
-- rewritten.
--
-- SECURITY DEFINER for the same reason as _pairs_store_results: it writes
-- drawing_state, which the writer role cannot write.
CREATE FUNCTION buildtrace._versions_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stamp   timestamptz;
    tenants text[] := ARRAY(SELECT DISTINCT n.tenant FROM new_versions n ORDER BY 1);
BEGIN
    IF cardinality(tenants) > 1 THEN
        RAISE EXCEPTION 'versions of one statement must be of one tenant'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('The statement inserted versions of tenants %s.',
                                  array_to_string(tenants, ', ')),
                  HINT = 'Insert each tenant''s versions in a statement of their own.';
    END IF;
    PERFORM buildtrace._lock_drawings(ARRAY(SELECT DISTINCT drawing_id FROM new_versions),
                                      tenants[1]);
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
    -- Upload order for versions stamped during this transaction (from its
    -- start to now) is therefore the order they got the drawing's lock: such
    -- a version not later than a version committed by someone else is
    -- re-stamped now. Versions stamped before this transaction began
    -- (deliberate back-dated imports) or after now (a client's clock ahead)
    -- keep their time and are paired where they belong; a version of the
    -- future is no version committed meanwhile, so it re-stamps none. The
    -- latest other version up to now is found once per drawing, from the
    -- newest down the index, not by reading the drawing's whole history.
    WITH others AS MATERIALIZED (
        SELECT d.drawing_id,
               (SELECT o.uploaded_at FROM buildtrace.versions o
                WHERE o.drawing_id = d.drawing_id AND o.uploaded_at <= stamp
                  -- a hashed subplan: the statement's own versions are skipped
                  -- at a probe each, however many it inserted
                  AND o.version_id NOT IN (SELECT nv.version_id FROM new_versions nv)
                ORDER BY o.uploaded_at DESC LIMIT 1) AS latest
        FROM (SELECT DISTINCT nv.drawing_id FROM new_versions nv) d)
    UPDATE buildtrace.versions v
    SET uploaded_at = stamp
    FROM new_versions n
    JOIN others x ON x.drawing_id = n.drawing_id
    WHERE v.version_id = n.version_id
      AND n.uploaded_at >= now() AND n.uploaded_at <= stamp
      AND n.uploaded_at <= x.latest;

    INSERT INTO buildtrace.pairs
        (drawing_id, job_id, version_a, version_b, latency_ms, from_version, to_version, tenant)
    SELECT n.drawing_id, n.job_id, prev.payload, n.payload, n.latency_ms,
           prev.version_id, n.version_id, n.tenant
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

-- Internal functions: nobody calls them directly.
REVOKE ALL ON FUNCTION buildtrace._lock_drawings(text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_before_insert() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_after_insert_row() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_pending_drawings() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_take_results() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_pending_tenant() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_after_statement() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_store_results() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_store_one() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._lock_drawing(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._refuse_foreign_drawing(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._claim_drawings(text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._spike_severity(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._versions_after_insert() FROM PUBLIC;
