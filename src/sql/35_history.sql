
-- ---------------------------------------------------------------------------
-- History: every processed pair of a drawing, one past change set, and the
-- payloads of a failed pair (which dead_letters leaves out).
-- ---------------------------------------------------------------------------

-- One row per processed pair, done or failed: when, which versions, the
-- counts, and the summary (for a failed pair, its first problem).
CREATE VIEW buildtrace.drawing_history WITH (security_invoker = true) AS
SELECT p.drawing_id, p.pair_id, p.job_id, p.processed_at, p.status,
       p.from_version, p.to_version,
       c.added, c.removed, c.moved, c.resized, c.retyped, c.modified, c.rotated,
       c.reidentified, c.unchanged, c.total,
       coalesce(c.summary, concat_ws(': ', p.error -> 0 ->> 'message', p.error -> 0 ->> 'detail'))
           AS summary
FROM buildtrace.pairs p
LEFT JOIN buildtrace.changes c ON c.pair_id = p.pair_id
WHERE p.status <> 'pending';
COMMENT ON VIEW buildtrace.drawing_history IS
    'Every processed pair (done or failed) with its versions, counts and summary.';

-- The history of one drawing, oldest first, processed in [since, until).
-- Runs with the caller's rights: the reader role reads the view.
CREATE FUNCTION buildtrace.history(drawing_id text, since timestamptz DEFAULT NULL,
                                   until timestamptz DEFAULT NULL)
RETURNS SETOF buildtrace.drawing_history
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF since > until THEN
        RAISE EXCEPTION 'history window ends before it starts' USING ERRCODE = '22023',
            DETAIL = format('Argument "since" is %s, "until" is %s.', since, until);
    END IF;
    RETURN QUERY
    SELECT h.* FROM buildtrace.drawing_history h
    WHERE h.drawing_id = history.drawing_id
      AND (history.since IS NULL OR h.processed_at >= history.since)
      AND (history.until IS NULL OR h.processed_at < history.until)
    ORDER BY h.processed_at, h.pair_id;
END
$$;
COMMENT ON FUNCTION buildtrace.history(text, timestamptz, timestamptz) IS
    'The processed pairs of a drawing, oldest first, optionally within [since, until).';

-- Where a pair the caller asked for stands, as an error's detail: its
-- drawing and status, or that the caller can see no such pair. It runs with
-- the caller's rights, so another tenant's pair reads as none.
CREATE FUNCTION buildtrace._pair_standing(pair_id bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce((SELECT format('Pair %s is of drawing %s and %s.', p.pair_id,
                               buildtrace._json_excerpt(to_jsonb(p.drawing_id)),
                               CASE p.status WHEN 'pending' THEN 'waits to be processed'
                                             WHEN 'failed' THEN 'failed'
                                             ELSE 'was processed' END)
                 FROM buildtrace.pairs p WHERE p.pair_id = _pair_standing.pair_id),
                format('There is no pair %s that you can see: never made, purged, or of another tenant.',
                       _pair_standing.pair_id));

-- GET /changes?drawing_id=…&pair_id=…: one past change set of a drawing, in
-- the shape of changes(drawing_id).
CREATE FUNCTION buildtrace.changes(drawing_id text, pair_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    SELECT buildtrace._change_set(c) INTO result
    FROM buildtrace.changes c
    WHERE c.drawing_id = changes.drawing_id AND c.pair_id = changes.pair_id;
    IF result IS NULL THEN
        RAISE EXCEPTION 'drawing "%" has no change set of pair %', buildtrace._id_shown(changes.drawing_id), changes.pair_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = buildtrace._pair_standing(changes.pair_id),
                  HINT = 'buildtrace.history(drawing_id) lists the processed pairs of a drawing.';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION buildtrace.changes(text, bigint) IS
    'One past change set of a drawing, by pair_id, in the shape of changes(drawing_id).';

-- The stored versions of a failed pair, to correct and resubmit them.
CREATE FUNCTION buildtrace.dead_letter_payloads(pair_id bigint,
                                                OUT version_a jsonb, OUT version_b jsonb)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT p.version_a, p.version_b INTO version_a, version_b
    FROM buildtrace.pairs p
    WHERE p.pair_id = dead_letter_payloads.pair_id AND p.status = 'failed';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pair % is not a failed pair', dead_letter_payloads.pair_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = buildtrace._pair_standing(dead_letter_payloads.pair_id),
                  HINT = 'buildtrace.dead_letters lists the failed pairs.';
    END IF;
END
$$;
COMMENT ON FUNCTION buildtrace.dead_letter_payloads(bigint) IS
    'The stored versions of a failed pair, to correct and resubmit them.';

REVOKE ALL ON FUNCTION buildtrace.history(text, timestamptz, timestamptz),
    buildtrace.changes(text, bigint), buildtrace.dead_letter_payloads(bigint) FROM PUBLIC;
GRANT SELECT ON buildtrace.drawing_history TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.history(text, timestamptz, timestamptz),
                          buildtrace.changes(text, bigint), buildtrace.dead_letter_payloads(bigint)
    TO buildtrace_reader;
