-- Pictures of diffs: bt_svg's exact output for small cases, its elements
-- found by data-id and class, its options and their errors, and stored
-- pairs through bt_svg(pair_id).  Every picture is checked to be
-- well-formed XML.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, public;
-- Pictures are printed as they are, one line of SVG per line.
\pset format unaligned

-- The class of each element with data-id, in document order.
CREATE FUNCTION pg_temp.elements(svg text) RETURNS TABLE (element text, data_id text, class text)
LANGUAGE sql AS $$
    SELECT (xpath('local-name(/*)', e))[1]::text, (xpath('/*/@data-id', e))[1]::text,
           (xpath('/*/@class', e))[1]::text
    FROM unnest(xpath('//*[@data-id]', svg::xml)) e
$$;

-- One object of each kind: W1 unchanged, D1 moved, C1 removed, R1 resized,
-- T1 retyped, M1 modified, O1 rotated, X1 added, and P1 found again as P2.
CREATE TEMP TABLE kinds AS SELECT
 '[{"id":"W1","type":"wall","x":0,"y":0,"width":10,"height":0.3,"name":"North wall"},
   {"id":"D1","type":"door","x":2,"y":0,"width":1,"height":0.3},
   {"id":"C1","type":"column","x":9,"y":6,"width":0.5,"height":0.5},
   {"id":"R1","type":"window","x":6,"y":0,"width":1,"height":0.3},
   {"id":"T1","type":"window","x":8,"y":0,"width":1,"height":0.3},
   {"id":"M1","type":"slab","x":5,"y":3,"width":2,"height":2,"level":"EG"},
   {"id":"O1","type":"stair","x":1,"y":4,"width":1,"height":2,"rotation":0},
   {"id":"P1","type":"column","x":4,"y":6,"width":0.5,"height":0.5}]'::jsonb AS a,
 '[{"id":"W1","type":"wall","x":0,"y":0,"width":10,"height":0.3,"name":"North wall"},
   {"id":"D1","type":"door","x":3.5,"y":0,"width":1,"height":0.3},
   {"id":"R1","type":"window","x":6,"y":0,"width":1.5,"height":0.3},
   {"id":"T1","type":"door","x":8,"y":0,"width":1,"height":0.3},
   {"id":"M1","type":"slab","x":5,"y":3,"width":2,"height":2,"level":"OG"},
   {"id":"O1","type":"stair","x":1,"y":4,"width":1,"height":2,"rotation":90},
   {"id":"X1","type":"window","x":-2,"y":5,"width":1.5,"height":0.3,"rotation":30},
   {"id":"P2","type":"column","x":4,"y":6,"width":0.5,"height":0.5}]'::jsonb AS b;

SELECT bt_svg(a, b) AS picture FROM kinds;
SELECT xml_is_well_formed_document(bt_svg(a, b)) AS well_formed FROM kinds;
SELECT e.* FROM kinds, pg_temp.elements(bt_svg(a, b)) e;

-- Options: a small picture without labels and clouds; only some kinds
-- (the others are drawn as unchanged context, removed ones not at all);
-- no context.
SELECT bt_svg(a, b, '{"width": 300, "labels": false, "clouds": false}') AS small FROM kinds;
SELECT string_agg(format('%s %s', e.data_id, e.class), ', ') AS added_and_moved_only
FROM kinds, pg_temp.elements(bt_svg(a, b, '{"kinds": ["added", "moved", "unchanged"], "labels": false}')) e;
SELECT string_agg(format('%s %s', e.data_id, e.class), ', ') AS changes_only
FROM kinds, pg_temp.elements(bt_svg(a, b, '{"kinds": ["added", "removed"], "labels": false}')) e;
SELECT (SELECT count(*) FROM regexp_matches(bt_svg(a, b, '{"labels": false}'), '<text class="label"', 'g')) AS labels_off,
       (SELECT count(*) FROM regexp_matches(bt_svg(a, b), '<text class="label"', 'g')) AS labels_on
FROM kinds;

-- The labels are the summary's: the first of buildtrace.label_keys.
SET buildtrace.label_keys = 'level';
SELECT e.data_id, (xpath('string(/*)', x))[1]::text AS label
FROM kinds, unnest(xpath('//*[@class="label"]', bt_svg(a, b)::xml)) x,
     LATERAL (SELECT (xpath('/*/@data-id', x))[1]::text AS data_id) e;
RESET buildtrace.label_keys;

-- Revision clouds: two changes side by side share one cloud, a far one
-- gets its own.
SELECT (SELECT count(*) FROM regexp_matches(svg, '<path class="cloud"', 'g')) AS clouds
FROM (SELECT bt_svg('[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":1.5,"y":0,"width":1,"height":1},
                      {"id":"C","x":100,"y":50,"width":1,"height":1}]',
                    '[{"id":"A","x":0,"y":0.5,"width":1,"height":1},{"id":"B","x":1.5,"y":0,"width":2,"height":1},
                      {"id":"C","x":100,"y":50,"width":1,"height":1,"type":"pier"}]') AS svg) s;

-- A whole-drawing shift is one arrow, not one per object: every object
-- is drawn in place, one moved against the shift.
SET buildtrace.units = 'm';
SELECT bt_svg('[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":4,"y":0,"width":1,"height":1},
                {"id":"C","x":0,"y":3,"width":1,"height":1},{"id":"D","x":4,"y":3,"width":2,"height":1}]',
              '[{"id":"A","x":10,"y":0,"width":1,"height":1},{"id":"B","x":14,"y":0,"width":1,"height":1},
                {"id":"C","x":10,"y":3,"width":1,"height":1},{"id":"D","x":16,"y":3,"width":2,"height":1}]') AS shifted;
RESET buildtrace.units;
-- Units with markup in them are escaped in the shift's words as in the
-- scale bar.
SET buildtrace.units = 'ft & <in>';
SELECT xml_is_well_formed_document(bt_svg(
           '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":4,"y":0,"width":1,"height":1},
             {"id":"C","x":0,"y":3,"width":1,"height":1}]',
           '[{"id":"A","x":10,"y":0,"width":1,"height":1},{"id":"B","x":14,"y":0,"width":1,"height":1},
             {"id":"C","x":10,"y":3,"width":1,"height":1}]')) AS units_escaped;
RESET buildtrace.units;

-- Empty and identical versions.
SELECT bt_svg('[]', '[]') AS empty;
SELECT e.class, count(*) FROM kinds, pg_temp.elements(bt_svg(a, a)) e GROUP BY 1;

-- Ids and labels that XML must escape; control characters are replaced in
-- ids, and read as blanks in labels, as in summaries.
SELECT bt_svg('[]', '[{"id":"<&\"''>\u0001","x":0,"y":0,"width":1,"height":1,"name":"a\u0001b & c"}]') AS escaped;
SELECT xml_is_well_formed_document(bt_svg('[]', '[{"id":"<&\"''>","x":0,"y":0,"width":1,"height":1,"name":"a\u0001b\uffff"}]'))
  AS escaped_well_formed;
-- Tab, newline and carriage return in an id are kept, as references: each
-- id finds its own element.
SELECT (xpath('count(//*[@data-id="a b"])', svg::xml))[1]::text AS space,
       (xpath(E'count(//*[@data-id="a\tb"])', svg::xml))[1]::text AS tab,
       (xpath(E'count(//*[@data-id="a\nb"])', svg::xml))[1]::text AS newline,
       (xpath(E'count(//*[@data-id="a\rb"])', svg::xml))[1]::text AS carriage_return
FROM (SELECT bt_svg('[]', '[{"id":"a\tb","x":0,"y":0,"width":1,"height":1},{"id":"a b","x":5,"y":0,"width":1,"height":1},
                            {"id":"a\nb","x":9,"y":0,"width":1,"height":1},{"id":"a\rb","x":13,"y":0,"width":1,"height":1}]',
                    '{"labels": false}') AS svg) s;

-- A picture costs a bounded number of bytes per object, however large the
-- object is in pixels: a box whose width is lost in its place's precision
-- (so the scale comes from its height alone), and 400 large overlapping
-- changes, each with its own cloud.
SELECT length(svg) < 20000 AS degenerate_small, xml_is_well_formed_document(svg) AS degenerate_well_formed,
       svg !~ '="-?[0-9]*\.[^0-9]' AS numbers_well_formed
FROM (VALUES (bt_svg('[]', '[{"id":"a","x":1e20,"y":0,"width":8000,"height":0.02667}]')),
             (bt_svg('[]', '[{"id":"b","x":1e20,"y":1,"width":2000,"height":1e-15}]'))) s(svg);
SELECT length(clouds) - length(no_clouds) < 16384 * 40 AS clouds_bounded
FROM (SELECT bt_svg('[]', b, '{"width": 20000}') AS clouds, bt_svg('[]', b, '{"width": 20000, "clouds": false}') AS no_clouds
      FROM (SELECT jsonb_agg(jsonb_build_object('id', 'S' || i, 'x', (i * 7919) % 10000, 'y', (i * 104729) % 10000,
                                                'width', 3000, 'height', 3000)) AS b
            FROM generate_series(1, 400) i) v) s;

-- Without ids: the same picture, its data-id and data-previous-id left out.
SELECT (xpath('count(//*[@data-id])', with_ids::xml))[1]::text AS with_ids,
       (xpath('count(//*[@data-id or @data-previous-id])', without::xml))[1]::text AS without_ids,
       regexp_replace(with_ids, ' data-(previous-)?id="[^"]*"', '', 'g') = without AS otherwise_same
FROM (SELECT bt_svg(a, b) AS with_ids, bt_svg(a, b, '{"ids": false}') AS without FROM kinds) s;

-- The map form: objects with attributes are drawn, content hashes are not.
SELECT e.* FROM pg_temp.elements(bt_svg('{"A": {"x": 0, "y": 0, "width": 1, "height": 1}}',
                                         '{"A": {"x": 2, "y": 0, "width": 1, "height": 1}}')) e;
SELECT bt_svg('{"A": "h1", "B": "h2"}', '{"A": "h1", "B": "h3"}') ~ '2 without geometry, not drawn' AS hashes_noted;

-- Bad options and bad input: clear errors.
\set VERBOSITY default
SELECT bt_svg('[]', '[]', '[]');
SELECT bt_svg('[]', '[]', '{"width": 50}');
SELECT bt_svg('[]', '[]', '{"width": 800.5}');
SELECT bt_svg('[]', '[]', '{"width": 119.99999999999999999}');
SELECT bt_svg('[]', '[]', '{"width": 800.0000000000000000001}');
SELECT bt_svg('[]', '[]', '{"width": 800.000}') ~ '^<svg [^>]*width="800"' AS whole_width_with_zeros;
SELECT bt_svg('[]', '[]', '{"width": "wide"}');
SELECT bt_svg('[]', '[]', '{"labels": 1}');
SELECT bt_svg('[]', '[]', '{"clouds": null}');
SELECT bt_svg('[]', '[]', '{"ids": "no"}');
SELECT bt_svg('[]', '[]', '{"kinds": "added"}');
SELECT bt_svg('[]', '[]', '{"kinds": ["added", "renamed"]}');
SELECT bt_svg('[]', '[]', '{"kinds": [1]}');
SELECT bt_svg('[]', '[]', '{"colour": "red"}');
-- long keys and values are cut in messages, as long text in summaries is
SELECT bt_svg('[]', '[]', jsonb_build_object(repeat('k', 5000), 1));
SELECT bt_svg('[]', '[]', jsonb_build_object('labels', repeat('v', 5000)));
SELECT bt_svg('[{"id": "A"}]', '[]');
SELECT bt_svg('[]', '[{"id":"far","x":1.5e308,"y":0,"width":1e308,"height":1}]');
SELECT bt_svg('[]', '[{"id":"east","x":1e308,"y":0,"width":1,"height":1},{"id":"west","x":-1e308,"y":0,"width":1,"height":1}]');
SELECT bt_svg('[{"id":"mid","x":0,"y":0,"width":1,"height":1}]',
              '[{"id":"north","x":0,"y":1e308,"width":1,"height":1},{"id":"mid","x":0,"y":0,"width":1,"height":1},{"id":"south","x":0,"y":-1e308,"width":1,"height":1}]');
-- one object moved from one end to the other; one at its old place; one too wide
SELECT bt_svg('[{"id":"m","x":-1e308,"y":0,"width":1,"height":1}]', '[{"id":"m","x":1e308,"y":0,"width":1,"height":1}]');
SELECT bt_svg('[{"id":"A","x":-1e308,"y":0,"width":1,"height":1},{"id":"B","x":1e308,"y":0,"width":1,"height":1}]',
              '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":1e308,"y":0,"width":1,"height":1}]');
SELECT bt_svg('[]', '[{"id":"W","x":-2.99376046430208e+294,"y":0,"width":1.7976931348623157e308,"height":1}]');
SELECT bt_svg(NULL, '[]') IS NULL AS null_gives_null;

-- A stored pair, drawn for the reader role.
INSERT INTO pairs (drawing_id, version_a, version_b) SELECT 'SVG-1', a, b FROM kinds
RETURNING pair_id AS stored_pair \gset
SELECT bt_svg(a, b) AS expected_picture FROM kinds \gset
CREATE ROLE svg_reader IN ROLE buildtrace_reader;
SET ROLE svg_reader;
SELECT bt_svg(:stored_pair) = :'expected_picture' AS stored_pair_drawn;
SELECT bt_svg(-1);
SELECT bt_svg(version_a, version_b) = :'expected_picture' AS table_drawn
FROM pairs WHERE pair_id = :stored_pair;
RESET ROLE;
DROP ROLE svg_reader;
DELETE FROM pairs WHERE drawing_id = 'SVG-1';
-- The scale bar writes its length as the summary writes amounts: "1 unit",
-- not "1 units".
SELECT (xpath('string(//*[@class="scale"]/*[local-name()="text"])',
              bt_svg('[]', '[{"id":"a","x":0,"y":0,"width":5,"height":5}]')::xml))[1]::text AS scale;
-- A name longer than a label (32 characters) ends in an ellipsis, as the
-- summary's names do, instead of being cut silently.
SELECT (xpath('string(//*[@class="label"])',
              bt_svg('[]', '[{"id":"a","x":0,"y":0,"width":1,"height":1,"name":"Stair 7 is safe to use: NOT after the fire"}]')::xml))[1]::text AS label;
-- (a cut after a blank keeps no blank before the ellipsis)
SELECT (xpath('string(//*[@class="label"])',
              bt_svg('[]', '[{"id":"a","x":0,"y":0,"width":1,"height":1,"name":"abcdefghijklmnopqrstuvwxyz1234 tail"}]')::xml))[1]::text AS label;
-- Rotations past a billion degrees are drawn at the angle bt_diff reduces
-- them to (1e25 mod 360 = 280, drawn as rotate(-280) with y up), not at
-- the angle of their nearest double.
SELECT substring(bt_svg('[{"id":"S","x":0,"y":0,"width":4,"height":1,"rotation":0}]',
                        '[{"id":"S","x":0,"y":0,"width":4,"height":1,"rotation":1e25}]',
                        '{"labels": false, "clouds": false}')
                 FROM 'class="obj rotated"[^>]*transform="(rotate\([^ ]*)') AS drawn,
       bt_diff('[{"id":"S","x":0,"y":0,"width":4,"height":1,"rotation":0}]',
               '[{"id":"S","x":0,"y":0,"width":4,"height":1,"rotation":1e25}]') -> 'rotated' -> 0 ->> 'delta' AS delta;
