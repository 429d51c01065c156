-- The versions the bt_diff benchmarks diff, as functions of a size s (the
-- ids run from E1 to Es): the earlier version, which lacks every 50th object
-- from the first, and the heavy revision of it, which lacks every 50th from
-- the second instead (2 % added, 2 % removed) and moves 30 % of the objects
-- by (2.5, -1.25). Included by diff_bench.sql and allocator_bench.sh, so
-- that both measure one mix. The objects' types cycle through the first
-- ntypes of twelve names in id order (five by default; a real drawing has
-- more, FZK-Haus nine).
CREATE FUNCTION pg_temp.bench_version(s int, ntypes int DEFAULT 5) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_object(
               'id', 'E' || i, 'type', (ARRAY['wall','door','window','column','beam','slab','stair','railing',
                                     'member','space','roof','plate'])[1 + i % ntypes],
               'x', (i % 317) * 0.5, 'y', (i / 317) * 0.5, 'width', 1 + i % 7, 'height', 0.25,
               'layer', 'L' || i % 12, 'rotation', (i % 4) * 90))
    FROM generate_series(1, s) i WHERE i % 50 <> 1
$$;
CREATE FUNCTION pg_temp.bench_heavy_revision(s int, ntypes int DEFAULT 5) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_object(
               'id', 'E' || i, 'type', (ARRAY['wall','door','window','column','beam','slab','stair','railing',
                                     'member','space','roof','plate'])[1 + i % ntypes],
               'x', (i % 317) * 0.5 + CASE WHEN i % 10 BETWEEN 3 AND 5 THEN 2.5 ELSE 0 END,
               'y', (i / 317) * 0.5 + CASE WHEN i % 10 BETWEEN 3 AND 5 THEN -1.25 ELSE 0 END,
               'width', 1 + i % 7, 'height', 0.25,
               'layer', 'L' || i % 12, 'rotation', (i % 4) * 90))
    FROM generate_series(1, s) i WHERE i % 50 <> 2
$$;
