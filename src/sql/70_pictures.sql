
-- Pictures of stored pairs and the HTML report.

-- The picture of a stored pair. SECURITY DEFINER so that the reader role can
-- draw a pair without any privilege on the tables: it only reads, its
-- search_path is pinned, names are qualified.
CREATE FUNCTION buildtrace.bt_svg(pair_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    SELECT buildtrace.bt_svg(p.version_a, p.version_b, '{}'::jsonb)
    INTO result
    FROM buildtrace.pairs p
    WHERE p.pair_id = bt_svg.pair_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pair % does not exist', bt_svg.pair_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'Pairs are numbered by pair_id in buildtrace.pairs.';
    END IF;
    RETURN result;
END
$$;

COMMENT ON FUNCTION buildtrace.bt_svg(bigint) IS
'The bt_svg picture of a stored pair, by pair_id.';

REVOKE ALL ON FUNCTION buildtrace.bt_svg(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.bt_svg(bigint) TO buildtrace_reader;
