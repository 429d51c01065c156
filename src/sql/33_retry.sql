
-- ---------------------------------------------------------------------------
-- The change pipeline, part 4: retrying dead letters.
-- ---------------------------------------------------------------------------

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

REVOKE ALL ON FUNCTION buildtrace.retry_failed(bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.retry_failed(bigint[], text) TO buildtrace_writer;
