-- A pair of :objects walls, every one moved by one of seven vectors (so that
-- it is no whole-drawing shift), as table big(a, b): the heaviest kind of
-- large diff, for the memory and cancel figures.
CREATE TABLE big AS
SELECT (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall', 'x', i % 1000, 'y', i / 1000,
                                           'width', 1, 'height', 0.25, 'layer', 'L' || i % 12))
        FROM generate_series(1, :objects) i) AS a,
       (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall', 'x', i % 1000 + 0.2 + (i % 7) * 0.3, 'y', i / 1000,
                                           'width', 1, 'height', 0.25, 'layer', 'L' || i % 12))
        FROM generate_series(1, :objects) i) AS b;
