-- Fixture shared by regression tests: n walls in a row, the first `shift`
-- of them moved 5 units east.
CREATE FUNCTION pg_temp.walls(n integer, shift integer DEFAULT 0) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', 'W' || i, 'type', 'wall',
               'x', i * 10 + CASE WHEN i <= shift THEN 5 ELSE 0 END, 'y', 0,
               'width', 8, 'height', 1) ORDER BY i), '[]')
    FROM generate_series(1, n) i
$$;
