-- The FZK-Haus (KIT IFC sample house, test/data/fzk-haus.json) and a revision
-- of it, as temp table fzk (v1, v2): for the main job and the picture tests.
-- Run from the repository's root.
\set fzk `cat test/data/fzk-haus.json`
CREATE TEMP TABLE fzk AS SELECT :'fzk'::jsonb AS v1;
-- Version 2, as an architect might revise it: the first door moves 0.9 m
-- east, a window is widened, another becomes a door, a wall is renamed, a
-- railing goes and a column is added.
ALTER TABLE fzk ADD COLUMN v2 jsonb;
UPDATE fzk SET v2 = (
    SELECT jsonb_agg(CASE
               WHEN el ->> 'type' = 'door' AND rn = 1
                   THEN el || jsonb_build_object('x', (el ->> 'x')::numeric + 0.9)
               WHEN el ->> 'type' = 'window' AND rn = 1
                   THEN el || jsonb_build_object('width', (el ->> 'width')::numeric + 0.25)
               WHEN el ->> 'type' = 'window' AND rn = 2 THEN el || '{"type": "door"}'
               WHEN el ->> 'type' = 'wall' AND rn = 1 THEN el || '{"name": "Wand-Nord-neu"}'
               ELSE el END ORDER BY el ->> 'id')
               FILTER (WHERE NOT (el ->> 'type' = 'railing' AND rn = 1))
           || '[{"id": "NEW-COLUMN-1", "type": "column", "x": 5.0, "y": 5.0,
                 "width": 0.3, "height": 0.3, "level": "Erdgeschoss"}]'
    FROM (SELECT el, row_number() OVER (PARTITION BY el ->> 'type' ORDER BY el ->> 'id') AS rn
          FROM fzk f, jsonb_array_elements(f.v1) el) s);
