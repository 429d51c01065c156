-- bt_svg's layout at its edges: where a label goes when it just fits, the
-- legend's rows when its first item is wider than a row, and the scale bar's
-- length when the plan's fifth is exactly 1, 2 or 5 times a power of ten.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, public;

-- A label that ends exactly at the picture's right margin stays right of
-- its box (one a pixel longer would go left of it).
SELECT substring(s FROM '<text class="label"[^>]*>[^<]*</text>') AS label_at_right_edge
FROM bt_svg('[{"id":"Z","type":"t","x":376,"y":0,"width":752,"height":1}]',
            '[{"id":"Z","type":"t","x":376,"y":0,"width":752,"height":1},
              {"id":"A","type":"t","x":740.5,"y":0,"width":1,"height":1,"name":"ABCDE"}]', '{}') s;

-- In a picture too narrow for the first legend item, that item starts the
-- first row; no empty row is drawn above it.
SELECT substring(s FROM '<svg[^>]* height="([0-9]+)"') AS height,
       substring(s FROM '<rect class="swatch[^>]*>') AS swatch
FROM bt_svg('[]', '[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1}]', '{"width":120}') s;

-- The scale bar is the largest 1, 2 or 5 times a power of ten not over a
-- fifth of the plan: a plan of 25 units at this width has a fifth of
-- exactly 5 units, drawn as 5, not 2.
SELECT substring(s FROM '<g class="scale">.*?</g>') AS scale
FROM bt_svg('[{"id":"A","type":"t","x":0,"y":0,"width":25,"height":1}]',
            '[{"id":"A","type":"t","x":0,"y":0,"width":25,"height":1}]', '{"width":298}') s;
