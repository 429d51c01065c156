
-- ---------------------------------------------------------------------------
-- The change pipeline, part 4: retrying dead letters.
-- ---------------------------------------------------------------------------

-- Inserts the retries of the listed dead letters, all of one tenant, in one
-- statement, each as a new pair of the failed pair's drawing, payloads and
-- tenant with retry_of = the failed pair. A dead letter retried meanwhile
-- (by a concurrent call) is skipped. Returns the new pairs' ids.
CREATE FUNCTION buildtrace._retry_dead_letters(dead bigint[])
RETURNS bigint[]
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH ins AS (
        INSERT INTO buildtrace.pairs
            (drawing_id, job_id, version_a, version_b, latency_ms,
             from_version, to_version, retry_of, tenant)
        SELECT p.drawing_id, p.job_id, p.version_a, p.version_b, p.latency_ms,
               p.from_version, p.to_version, p.pair_id, p.tenant
        FROM buildtrace.pairs p
        WHERE p.pair_id = ANY (_retry_dead_letters.dead)
          AND p.status = 'failed'
        ORDER BY p.pair_id
        ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING
        RETURNING pairs.pair_id)
    SELECT coalesce(array_agg(ins.pair_id), '{}') FROM ins;
END;

-- Retries the listed dead letters, all of one tenant, in one statement, or,
-- if that statement fails, one at a time, so that one that cannot be retried
-- (its drawing is another tenant's, say) is refused alone, with a warning,
-- and the others are retried. Errors that passing conditions cause
-- (resources, locks, serialization, shutdown) end the call instead: calling
-- it again then retries everything. Adds to retried and refused.
CREATE FUNCTION buildtrace._retry_group(dead bigint[], INOUT retried bigint[], INOUT refused bigint[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    one bigint;
BEGIN
    retried := retried || buildtrace._retry_dead_letters(dead);
EXCEPTION
    WHEN insufficient_resources OR system_error OR transaction_rollback
         OR lock_not_available OR operator_intervention THEN
        RAISE;
    WHEN OTHERS THEN
        IF cardinality(dead) = 1 THEN
            refused := refused || dead;
            RAISE WARNING 'dead letter % was not retried', dead[1]
                USING DETAIL = format('Retrying it failed with %s: %s.', SQLSTATE, SQLERRM);
        ELSE
            FOREACH one IN ARRAY dead LOOP
                SELECT g.retried, g.refused INTO retried, refused
                FROM buildtrace._retry_group(ARRAY[one], retried, refused) g;
            END LOOP;
        END IF;
END
$$;

-- Retries dead letters (all, or those listed, or those of one drawing) with
-- their stored payloads, e.g. after a setting or the diff was fixed. Each
-- retry is a new pair with retry_of = the failed pair, processed by the same
-- trigger; the failed pair, its problems and its (now resolved) anomaly stay
-- as history. To retry with corrected data instead, insert the corrected pair
-- yourself with retry_of set.
--
-- One group per tenant (the pipeline stores a statement's pairs under one
-- tenant); see _retry_group.
CREATE FUNCTION buildtrace.retry_failed(pair_ids bigint[] DEFAULT NULL,
                                        drawing text DEFAULT NULL)
RETURNS TABLE (failed_pair_id bigint, retry_pair_id bigint, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant_dead record;
    retried     bigint[] := '{}';
    refused     bigint[] := '{}';
BEGIN
    -- dead_letters, spelled out: the writer role has no access to views.
    FOR tenant_dead IN
        SELECT array_agg(p.pair_id ORDER BY p.pair_id) AS ids
        FROM buildtrace.pairs p
        WHERE p.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs r WHERE r.retry_of = p.pair_id)
          AND (retry_failed.pair_ids IS NULL OR p.pair_id = ANY (retry_failed.pair_ids))
          AND (retry_failed.drawing IS NULL OR p.drawing_id = retry_failed.drawing)
        GROUP BY p.tenant
        ORDER BY p.tenant LOOP
        SELECT g.retried, g.refused INTO retried, refused
        FROM buildtrace._retry_group(tenant_dead.ids, retried, refused) g;
    END LOOP;

    -- A new statement, so it sees what the trigger wrote.
    RETURN QUERY
    SELECT p.retry_of, p.pair_id, p.status
    FROM buildtrace.pairs p
    WHERE p.pair_id = ANY (retried)
    UNION ALL
    SELECT r, NULL::bigint, 'refused'::text
    FROM unnest(refused) r
    ORDER BY 1;
END
$$;
COMMENT ON FUNCTION buildtrace.retry_failed(bigint[], text) IS
    'Resubmits dead letters (all, those listed, or one drawing''s) with their stored versions as new pairs; one row per dead letter.';

REVOKE ALL ON FUNCTION buildtrace._retry_dead_letters(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._retry_dead_letters(bigint[]) TO buildtrace_writer;
REVOKE ALL ON FUNCTION buildtrace._retry_group(bigint[], bigint[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._retry_group(bigint[], bigint[], bigint[]) TO buildtrace_writer;
REVOKE ALL ON FUNCTION buildtrace.retry_failed(bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.retry_failed(bigint[], text) TO buildtrace_writer;
