
-- ---------------------------------------------------------------------------
-- Retention: pairs (with their change sets and anomalies) and versions older
-- than buildtrace.keep_pairs / buildtrace.keep_versions go away in batches,
-- each batch its own transaction, so that inserts never wait behind a long
-- delete. Dead letters go only once buildtrace.keep_dead_letters allows it;
-- hourly rollups keep the metrics of purged hours until
-- buildtrace.keep_rollups ends them.
-- ---------------------------------------------------------------------------

-- The newest processed_at of the pairs purge() removed (one row, once it
-- removed one): the rollups of that hour and earlier ones count pairs that
-- are gone, so rebuild_rollups() keeps them as they are.
CREATE TABLE buildtrace.purge_horizon (
    only_row               boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pairs_processed_until  timestamptz NOT NULL
);
COMMENT ON TABLE buildtrace.purge_horizon IS
    'Internal: the newest processed_at of a pair purge() removed; rebuild_rollups() keeps the rollups up to its hour.';

-- What a purge looks up, by index: the pairs processed before its cutoff,
-- and the pairs made of a version it deletes (whose from_version or
-- to_version the foreign keys set to NULL). Without them every run read
-- every pair kept, and every version deleted every pair of its drawing.
CREATE INDEX pairs_processed_idx ON buildtrace.pairs (processed_at);
CREATE INDEX pairs_from_version_idx ON buildtrace.pairs (from_version) WHERE from_version IS NOT NULL;
CREATE INDEX pairs_to_version_idx ON buildtrace.pairs (to_version) WHERE to_version IS NOT NULL;
-- And the versions uploaded before its cutoff, and the resolved anomalies
-- of no pair (upload checks, volume spikes): a scan of each table before.
CREATE INDEX versions_uploaded_idx ON buildtrace.versions (uploaded_at);
CREATE INDEX anomalies_resolved_unpaired_idx ON buildtrace.anomalies (resolved_at)
    WHERE pair_id IS NULL AND resolved_at IS NOT NULL;

-- The retries of the given pairs, and theirs, and so on: each with when it
-- was processed, its status, and whether it was retried in turn.
CREATE FUNCTION buildtrace._retries(pair_ids bigint[])
RETURNS TABLE (pair_id bigint, processed_at timestamptz, status text, retried boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain AS (
        SELECT r.pair_id, r.processed_at, r.status FROM buildtrace.pairs r
        WHERE r.retry_of = ANY (pair_ids)
        UNION ALL
        SELECT r.pair_id, r.processed_at, r.status FROM buildtrace.pairs r
        JOIN chain c ON r.retry_of = c.pair_id)
    SELECT c.pair_id, c.processed_at, c.status,
           EXISTS (SELECT 1 FROM buildtrace.pairs n WHERE n.retry_of = c.pair_id)
    FROM chain c
$$;

-- Whether a dead letter may be purged with its retries: it was retried, and
-- every retry was processed before cutoff (a pending one, not processed
-- yet, keeps the chain) and is no dead letter waiting in turn.
CREATE FUNCTION buildtrace._retries_purgeable(pair_id bigint, cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(bool_and(coalesce(r.processed_at < cutoff, false)
                                 AND (r.status <> 'failed' OR r.retried)), false)
        FROM buildtrace._retries(ARRAY[pair_id]) r);

-- Whether a dead letter may go as one no retry fixed: every retry of it, if
-- any, failed as well, before cutoff (a pending one keeps the chain).
CREATE FUNCTION buildtrace._retries_failed_before(pair_id bigint, cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(bool_and(coalesce(r.processed_at < cutoff, false) AND r.status = 'failed'), true)
        FROM buildtrace._retries(ARRAY[pair_id]) r);

-- Whether purge may remove a pair that is no retry, processed before
-- cutoff, as far as what it retried goes: a pair that did not fail; a dead
-- letter whose retries may go with it; or, before dead_letters_cutoff, a
-- dead letter no retry fixed.
CREATE FUNCTION buildtrace._chain_purgeable(pair_id bigint, status text, processed_at timestamptz,
                                            cutoff timestamptz, dead_letters_cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN status <> 'failed'
       OR buildtrace._retries_purgeable(pair_id, cutoff)
       OR coalesce(processed_at < dead_letters_cutoff
                   AND buildtrace._retries_failed_before(pair_id, dead_letters_cutoff), false);

-- Rows another transaction holds locked (a writer's pair naming one as its
-- retry_of or from_version, say) are left to a later batch by each of the
-- _purge_* functions below, which delete at most batch_size rows older than
-- cutoff, oldest first, and return how many they deleted.

-- The first n pairs by pair_id (past pair_id after, unless it is NULL)
-- that a batch may take, locked: processed before cutoff, and no retry (a
-- retry goes with the pair it retries, and a retried dead letter once its
-- retries may go: a retry whose dead letter went would read as an upload
-- of its own); not a dead letter that waits to be retried (it is what was
-- submitted) unless it and its retries all failed before
-- dead_letters_cutoff; nor a drawing's latest pair sent directly (its last
-- upload, which check_uploads() measures the next one against).
CREATE FUNCTION buildtrace._pairs_purgeable(cutoff timestamptz, dead_letters_cutoff timestamptz,
                                            after bigint, n integer)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN ARRAY(
        SELECT o.pair_id FROM buildtrace.pairs o
        WHERE o.processed_at < cutoff
          AND o.retry_of IS NULL
          AND (after IS NULL OR o.pair_id > after)
          -- (a pair that did not fail tested here too: a call for each pair
          -- made a batch a sixth slower)
          AND (o.status <> 'failed'
               OR buildtrace._chain_purgeable(o.pair_id, o.status, o.processed_at,
                                              cutoff, dead_letters_cutoff))
          AND NOT (NOT o.made_from_versions
                   AND NOT EXISTS (
                       SELECT 1 FROM buildtrace.pairs l
                       WHERE l.drawing_id = o.drawing_id
                         AND NOT l.made_from_versions
                         AND l.retry_of IS NULL
                         AND (l.submitted_at, l.pair_id) > (o.submitted_at, o.pair_id)
                         AND l.submitted_at <= now()))
        ORDER BY o.pair_id LIMIT n
        FOR UPDATE SKIP LOCKED);
END
$$;

-- The pairs of the next batch, batch_size of them unless fewer are left,
-- locked.
CREATE FUNCTION buildtrace._pairs_to_purge(cutoff timestamptz, batch_size integer,
                                           dead_letters_cutoff timestamptz)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept   bigint[] := '{}';
    batch  bigint[];
    locked bigint[];
    wanted integer;
    after  bigint;
BEGIN
    -- no dead letter goes before keep_pairs, nor any retry of one
    IF dead_letters_cutoff > cutoff THEN
        dead_letters_cutoff := cutoff;
    END IF;
    IF dead_letters_cutoff IS NULL THEN
        RETURN buildtrace._pairs_purgeable(cutoff, NULL, NULL, batch_size);
    END IF;
    -- A chain taken as dead letters ends in a failed pair, which may be
    -- retried at any moment: a retry committed after the snapshot that chose
    -- it and before the lock would be deleted with it, or left as an upload
    -- of its own. So lock the chains' retries (inserting a retry takes a
    -- key-share lock on the pair it retries: none can commit now), then
    -- judge the failed pairs again in this statement's new snapshot, which
    -- sees every retry committed before the locks; a chain with a retry not
    -- locked here, new or held by another transaction, waits for a later
    -- run. A pair that did not fail has no retries. The pairs after a chain
    -- left out fill its place, so that a short batch still means that no
    -- more are left (purge() stops at one).
    LOOP
        wanted := batch_size - cardinality(kept);
        batch := buildtrace._pairs_purgeable(cutoff, dead_letters_cutoff, after, wanted);
        locked := ARRAY(SELECT p.pair_id FROM buildtrace.pairs p
                        WHERE p.pair_id = ANY (ARRAY(SELECT r.pair_id FROM buildtrace._retries(batch) r))
                        FOR UPDATE SKIP LOCKED);
        kept := kept || ARRAY(
            SELECT o.pair_id FROM buildtrace.pairs o
            WHERE o.pair_id = ANY (batch)
              AND (o.status <> 'failed'
                   OR (buildtrace._chain_purgeable(o.pair_id, o.status, o.processed_at,
                                                   cutoff, dead_letters_cutoff)
                       AND NOT EXISTS (SELECT 1 FROM buildtrace._retries(ARRAY[o.pair_id]) r
                                       WHERE r.pair_id <> ALL (locked))))
            ORDER BY o.pair_id);
        EXIT WHEN cardinality(batch) < wanted OR cardinality(kept) = batch_size;
        after := batch[cardinality(batch)];
    END LOOP;
    RETURN kept;
END
$$;

-- A batch of pairs (their changes and anomalies follow by foreign key) with
-- their retries, and the horizon moved to the newest.
CREATE FUNCTION buildtrace._purge_pairs(cutoff timestamptz, batch_size integer,
                                        dead_letters_cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    batch  bigint[];
    n      bigint;
    newest timestamptz;
BEGIN
    -- before deleting: rebuild_rollups() must see the horizon move with it
    LOCK TABLE buildtrace.purge_horizon IN ROW EXCLUSIVE MODE;
    batch := buildtrace._pairs_to_purge(cutoff, batch_size, dead_letters_cutoff);
    -- found by key (an OR of two IN lists read every pair kept)
    WITH gone AS (
        DELETE FROM buildtrace.pairs p
        WHERE p.pair_id = ANY (batch || ARRAY(SELECT r.pair_id FROM buildtrace._retries(batch) r))
        RETURNING p.processed_at)
    SELECT count(*), max(gone.processed_at) INTO n, newest FROM gone;
    IF n > 0 THEN
        INSERT INTO buildtrace.purge_horizon AS h (pairs_processed_until) VALUES (newest)
        ON CONFLICT (only_row) DO UPDATE
        SET pairs_processed_until = greatest(h.pairs_processed_until,
                                             excluded.pairs_processed_until);
    END IF;
    RETURN n;
END
$$;

-- A batch of versions that are not the latest of their drawing uploaded by
-- now (the next upload is paired with that one, not with a version dated in
-- the future).
CREATE FUNCTION buildtrace._purge_versions(cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM buildtrace.versions v
    WHERE v.version_id IN (
        SELECT o.version_id FROM buildtrace.versions o
        WHERE o.uploaded_at < cutoff
          AND EXISTS (SELECT 1 FROM buildtrace.versions l
                      WHERE l.drawing_id = o.drawing_id
                        AND (l.uploaded_at, l.version_id) > (o.uploaded_at, o.version_id)
                        AND l.uploaded_at <= now())
        ORDER BY o.uploaded_at, o.version_id LIMIT batch_size
        FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A batch of resolved anomalies of no pair (an anomaly of a pair goes with it).
CREATE FUNCTION buildtrace._purge_anomalies(cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM buildtrace.anomalies a
    WHERE a.anomaly_id IN (SELECT o.anomaly_id FROM buildtrace.anomalies o
                           WHERE o.pair_id IS NULL AND o.resolved_at < cutoff
                           ORDER BY o.resolved_at, o.anomaly_id LIMIT batch_size
                           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A batch of rollups of hours before both cutoff and the purge horizon's
-- hour: a later hour may still have pairs, whose rollups rebuild_rollups()
-- would write again.
CREATE FUNCTION buildtrace._purge_rollups(cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon_hour timestamptz;
    n bigint;
BEGIN
    SELECT date_trunc('hour', h.pairs_processed_until, 'UTC') INTO horizon_hour
    FROM buildtrace.purge_horizon h;
    -- no pair purged yet: every hour's rollups can be rebuilt
    IF horizon_hour IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM buildtrace.hourly_rollups r
    WHERE (r.hour, r.drawing_id) IN (
        SELECT o.hour, o.drawing_id FROM buildtrace.hourly_rollups o
        WHERE o.hour < cutoff AND o.hour < horizon_hour
        ORDER BY o.hour, o.drawing_id LIMIT batch_size
        FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- One batch of what ('pairs', 'versions', 'anomalies' or 'rollups').
CREATE FUNCTION buildtrace._purge_batch(what text, cutoff timestamptz, batch_size integer,
                                        dead_letters_cutoff timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE what
    WHEN 'pairs' THEN
        RETURN buildtrace._purge_pairs(cutoff, batch_size, dead_letters_cutoff);
    WHEN 'versions' THEN
        RETURN buildtrace._purge_versions(cutoff, batch_size);
    WHEN 'anomalies' THEN
        RETURN buildtrace._purge_anomalies(cutoff, batch_size);
    WHEN 'rollups' THEN
        RETURN buildtrace._purge_rollups(cutoff, batch_size);
    END CASE;
END
$$;

-- pg_cron keeps a row for every run of every job and removes none: 576 a day
-- for buildtrace's two jobs at five minutes, which health() and every
-- Prometheus scrape search for each job's latest run. purge() removes the
-- runs of buildtrace's jobs in this database that ended more than a week
-- ago (health() reads the latest run only); other jobs' runs are their
-- owners'. A role other than a superuser removes its own jobs' runs only
-- (pg_cron's row policy). Nothing without pg_cron.
CREATE FUNCTION buildtrace._purge_cron_runs()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 0;
    END IF;
    -- Where pg_cron's DELETE privilege was taken from the role, the purge
    -- itself, committed already, must not be reported as a failed run.
    -- (Checked ahead, not caught: an exception block would keep every
    -- function that reaches this one from being parallel safe.)
    IF NOT has_schema_privilege('cron', 'USAGE')
       OR NOT has_table_privilege('cron.job_run_details', 'DELETE') THEN
        RAISE WARNING 'could not remove old runs of buildtrace''s pg_cron jobs'
            USING DETAIL = format('Role %I may not delete from cron.job_run_details.', current_user),
                  HINT = 'GRANT DELETE ON cron.job_run_details to the role that runs purge().';
        RETURN 0;
    END IF;
    EXECUTE 'DELETE FROM cron.job_run_details d
             WHERE d.jobid IN (SELECT j.jobid FROM buildtrace._cron_jobs() j)
               AND d.end_time < now() - interval ''7 days''';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Removes what the settings no longer keep, batch_size rows a transaction,
-- and returns how many of each it removed; then the week-old runs of
-- buildtrace's pg_cron jobs. pg_cron runs it at the checks'
-- cadence once schedule() is called, so each run removes little.
--
-- A procedure, for its commits, which rule out a SET clause: instead every
-- name is qualified and the work is done by _purge_batch, whose search_path
-- is pinned. Run as its owner (pg_cron's job) or a superuser: row-level
-- security would leave it other tenants' rows.
CREATE PROCEDURE buildtrace.purge(batch_size integer DEFAULT 10000,
                                  INOUT pairs bigint DEFAULT NULL,
                                  INOUT versions bigint DEFAULT NULL,
                                  INOUT anomalies bigint DEFAULT NULL,
                                  INOUT rollups bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    what pg_catalog.text;
    keep interval;
    keep_pairs interval;
    keep_versions interval;
    keep_dead_letters interval;
    keep_rollups interval;
    dead_letters_cutoff pg_catalog.timestamptz;
    removed bigint;
    n bigint;
BEGIN
    IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'purge batch size must be at least 1' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Argument "batch_size" is %s.', coalesce(batch_size::pg_catalog.text, 'null'));
    END IF;
    -- The settings as the caller's transaction has them (a calling
    -- procedure's SET LOCAL among them): the first commit ends it.
    keep_pairs := buildtrace.setting('buildtrace.keep_pairs'::pg_catalog.text)::interval;
    keep_versions := buildtrace.setting('buildtrace.keep_versions'::pg_catalog.text)::interval;
    keep_dead_letters := buildtrace.setting('buildtrace.keep_dead_letters'::pg_catalog.text)::interval;
    keep_rollups := buildtrace.setting('buildtrace.keep_rollups'::pg_catalog.text)::interval;
    IF keep_dead_letters OPERATOR(pg_catalog.>) interval '0' THEN
        dead_letters_cutoff := buildtrace._utc_ago(keep_dead_letters);
    END IF;
    -- Refused inside a transaction block (2D000) whether or not there is
    -- anything to remove, not only when there is.
    COMMIT;
    -- rollups last: the pairs' batches move the horizon they stop at
    FOREACH what IN ARRAY ARRAY['pairs', 'versions', 'anomalies', 'rollups']::pg_catalog.text[] LOOP
        IF what OPERATOR(pg_catalog.=) 'versions' THEN
            keep := keep_versions;
        ELSIF what OPERATOR(pg_catalog.=) 'rollups' THEN
            keep := keep_rollups;
        ELSE
            keep := keep_pairs;
        END IF;
        removed := 0;
        IF keep OPERATOR(pg_catalog.>) interval '0' THEN
            LOOP
                n := buildtrace._purge_batch(what, buildtrace._utc_ago(keep),
                                             batch_size, dead_letters_cutoff);
                removed := removed OPERATOR(pg_catalog.+) n;
                COMMIT;
                EXIT WHEN n OPERATOR(pg_catalog.<) batch_size;
            END LOOP;
        END IF;
        IF what OPERATOR(pg_catalog.=) 'pairs' THEN
            pairs := removed;
        ELSIF what OPERATOR(pg_catalog.=) 'versions' THEN
            versions := removed;
        ELSIF what OPERATOR(pg_catalog.=) 'anomalies' THEN
            anomalies := removed;
        ELSE
            rollups := removed;
        END IF;
    END LOOP;
    PERFORM buildtrace._purge_cron_runs();
    COMMIT;
END
$$;
COMMENT ON PROCEDURE buildtrace.purge(integer, bigint, bigint, bigint, bigint) IS
    'Removes pairs, versions, resolved anomalies, dead letters and rollups older than buildtrace.keep_pairs / keep_versions / keep_dead_letters / keep_rollups, in committed batches, then buildtrace''s pg_cron job runs older than a week.';

REVOKE ALL ON buildtrace.purge_horizon FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._purge_batch(text, timestamptz, integer, timestamptz),
    buildtrace._pairs_purgeable(timestamptz, timestamptz, bigint, integer),
    buildtrace._pairs_to_purge(timestamptz, integer, timestamptz),
    buildtrace._purge_pairs(timestamptz, integer, timestamptz),
    buildtrace._purge_versions(timestamptz, integer),
    buildtrace._purge_anomalies(timestamptz, integer),
    buildtrace._purge_rollups(timestamptz, integer),
    buildtrace._purge_cron_runs() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._retries(bigint[]),
    buildtrace._chain_purgeable(bigint, text, timestamptz, timestamptz, timestamptz),
    buildtrace._retries_purgeable(bigint, timestamptz),
    buildtrace._retries_failed_before(bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON PROCEDURE buildtrace.purge(integer, bigint, bigint, bigint, bigint) FROM PUBLIC;
