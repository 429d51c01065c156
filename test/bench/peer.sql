-- The peer of the pipeline benchmarks (pipeline_bench.sql, insert_bench.sh):
-- what a user would write without the extension, in schema bench: a
-- plain-SQL diff called by a PL/pgSQL row trigger that inserts the result and
-- a metrics row.
CREATE TABLE bench.peer_pairs (LIKE buildtrace.pairs INCLUDING ALL);
CREATE TABLE bench.peer_changes (
    pair_id bigint PRIMARY KEY, drawing_id text NOT NULL, diff jsonb NOT NULL, summary text,
    added integer, removed integer, moved integer, resized integer, retyped integer, modified integer,
    computed_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON bench.peer_changes (drawing_id, computed_at);
CREATE TABLE bench.peer_metrics (
    pair_id bigint NOT NULL, drawing_id text NOT NULL, processing_us bigint, total integer,
    created_at timestamptz NOT NULL DEFAULT now());

CREATE FUNCTION bench.sql_diff(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH j AS (
        SELECT coalesce(oa.id, ob.id) AS id, oa.e AS ea, ob.e AS eb
        FROM (SELECT e ->> 'id' AS id, e FROM jsonb_array_elements(a) e) oa
        FULL JOIN (SELECT e ->> 'id' AS id, e FROM jsonb_array_elements(b) e) ob ON oa.id = ob.id
    ), k AS (
        SELECT id, ea, eb,
               ea IS NOT NULL AND eb IS NOT NULL AND
                   sqrt(((eb ->> 'x')::float8 - (ea ->> 'x')::float8) ^ 2
                        + ((eb ->> 'y')::float8 - (ea ->> 'y')::float8) ^ 2) > 0.1 AS moved,
               ea IS NOT NULL AND eb IS NOT NULL AND
                   (abs((eb ->> 'width')::float8 - (ea ->> 'width')::float8) > 0.01
                    OR abs((eb ->> 'height')::float8 - (ea ->> 'height')::float8) > 0.01) AS resized,
               ea IS NOT NULL AND eb IS NOT NULL AND ea -> 'type' IS DISTINCT FROM eb -> 'type' AS retyped,
               ea IS NOT NULL AND eb IS NOT NULL AND
                   ea - ARRAY['x', 'y', 'width', 'height', 'type'] <> eb - ARRAY['x', 'y', 'width', 'height', 'type']
                   AS modified
        FROM j
    ), r AS (
        SELECT coalesce(jsonb_agg(eb ORDER BY id) FILTER (WHERE ea IS NULL), '[]') AS added,
               coalesce(jsonb_agg(ea ORDER BY id) FILTER (WHERE eb IS NULL), '[]') AS removed,
               coalesce(jsonb_agg(jsonb_build_object('id', id, 'from', jsonb_build_object('x', ea -> 'x', 'y', ea -> 'y'),
                                                     'to', jsonb_build_object('x', eb -> 'x', 'y', eb -> 'y')) ORDER BY id)
                        FILTER (WHERE moved), '[]') AS moved,
               coalesce(jsonb_agg(jsonb_build_object('id', id) ORDER BY id) FILTER (WHERE resized), '[]') AS resized,
               coalesce(jsonb_agg(jsonb_build_object('id', id) ORDER BY id) FILTER (WHERE retyped), '[]') AS retyped,
               coalesce(jsonb_agg(jsonb_build_object('id', id) ORDER BY id) FILTER (WHERE modified), '[]') AS modified
        FROM k
    )
    SELECT jsonb_build_object('added', added, 'removed', removed, 'moved', moved, 'resized', resized,
               'retyped', retyped, 'modified', modified,
               'summary', format('%s added, %s removed, %s moved, %s resized, %s retyped, %s modified',
                                 jsonb_array_length(added), jsonb_array_length(removed), jsonb_array_length(moved),
                                 jsonb_array_length(resized), jsonb_array_length(retyped), jsonb_array_length(modified)))
    FROM r
$$;

CREATE FUNCTION bench.peer_process() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    d  jsonb;
BEGIN
    d := bench.sql_diff(NEW.version_a, NEW.version_b);
    INSERT INTO bench.peer_changes (pair_id, drawing_id, diff, summary, added, removed, moved,
                                    resized, retyped, modified)
    VALUES (NEW.pair_id, NEW.drawing_id, d, d ->> 'summary', jsonb_array_length(d -> 'added'),
            jsonb_array_length(d -> 'removed'), jsonb_array_length(d -> 'moved'),
            jsonb_array_length(d -> 'resized'), jsonb_array_length(d -> 'retyped'),
            jsonb_array_length(d -> 'modified'));
    INSERT INTO bench.peer_metrics (pair_id, drawing_id, processing_us, total)
    VALUES (NEW.pair_id, NEW.drawing_id, (extract(epoch FROM clock_timestamp() - t0) * 1e6)::bigint,
            jsonb_array_length(d -> 'added') + jsonb_array_length(d -> 'removed') + jsonb_array_length(d -> 'moved'));
    RETURN NULL;
END
$$;
CREATE TRIGGER peer_process AFTER INSERT ON bench.peer_pairs
    FOR EACH ROW EXECUTE FUNCTION bench.peer_process();

