-- Change spikes: total changes >= spike_factor x the previous processed pair
-- of the drawing, when that previous total is >= spike_min_changes (and > 0).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

-- A pair with exactly n changes: n walls added to an empty drawing.
CREATE FUNCTION pg_temp.n_changes(n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', 'W' || i, 'type', 'wall', 'x', i, 'y', 0,
                                                 'width', 1, 'height', 1)), '[]')
    FROM generate_series(1, n) i
$$;
CREATE FUNCTION pg_temp.submit(drawing text, VARIADIC totals integer[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
    SELECT drawing, '[]', pg_temp.n_changes(t) FROM unnest(totals) WITH ORDINALITY AS u(t, o) ORDER BY o
$$;
CREATE VIEW pg_temp.spikes AS
SELECT a.drawing_id, a.pair_id, a.severity, a.details ->> 'previous_changes' AS previous,
       a.details ->> 'changes' AS changes, a.details ->> 'factor' AS factor,
       a.details ->> 'previous_pair_id' AS previous_pair_id
FROM buildtrace.anomalies a WHERE a.kind = 'change_spike' ORDER BY a.anomaly_id;

SELECT buildtrace.setting('buildtrace.spike_factor') AS factor,
       buildtrace.setting('buildtrace.spike_min_changes') AS min_changes;

-- Exactly at the factor (5 -> 50) is a spike; just below (5 -> 49) is not.
SELECT pg_temp.submit('edge', 5);
SELECT pg_temp.submit('edge', 50);
SELECT pg_temp.submit('below', 5);
SELECT pg_temp.submit('below', 49);
-- Baseline at the minimum (5) counts, below it (4) does not.
SELECT pg_temp.submit('tiny', 4);
SELECT pg_temp.submit('tiny', 400);
SELECT * FROM pg_temp.spikes;

-- Several pairs of one drawing in one statement: each compares with the one
-- before it in the statement; 20x the previous is "high".
SELECT pg_temp.submit('batch', 6, 60, 1200, 1200);
SELECT * FROM pg_temp.spikes WHERE drawing_id = 'batch';

-- A failed pair in between is not a processed pair: the baseline is the
-- last done pair.
SELECT pg_temp.submit('gap', 5);
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('gap', '1', '[]');
SELECT pg_temp.submit('gap', 55);
SELECT * FROM pg_temp.spikes WHERE drawing_id = 'gap';

-- Settings are read per statement.
SET buildtrace.spike_factor = 2;
SET buildtrace.spike_min_changes = 1;
SELECT pg_temp.submit('lowered', 1, 2, 3);
SELECT * FROM pg_temp.spikes WHERE drawing_id = 'lowered';
-- A zero baseline never makes a spike, even with spike_min_changes = 0.
SET buildtrace.spike_min_changes = 0;
SELECT pg_temp.submit('zero', 0, 10);
SELECT count(*) AS zero_spikes FROM pg_temp.spikes WHERE drawing_id = 'zero';
-- A factor that is no binary fraction: exactly 2.2 times is a spike, and
-- exactly twice that is high (2.2 * 25 is just above 55 in double precision).
SET buildtrace.spike_factor = 2.2;
SELECT pg_temp.submit('fraction', 25, 55, 242);
SELECT * FROM pg_temp.spikes WHERE drawing_id = 'fraction';
RESET buildtrace.spike_factor;
RESET buildtrace.spike_min_changes;

-- Spikes are open anomalies until resolved.
SELECT kind, drawing_id, pair_id FROM buildtrace.open_anomalies WHERE kind = 'change_spike' ORDER BY anomaly_id;

-- The rule counts changes net of re-identification and of a whole-drawing
-- shift: after a pair with 5 changes, a pure re-export of 60 objects and a
-- pure shift of them are no spike; 52 real moves are.
\i test/data/walls.sql
CREATE TEMP TABLE net_pairs (n int, b jsonb);
INSERT INTO net_pairs VALUES
    (1, pg_temp.walls(60, 5)),
    (2, (SELECT jsonb_agg(e || jsonb_build_object('id', 'X' || (e ->> 'id'))) FROM jsonb_array_elements(pg_temp.walls(60)) e)),
    (3, pg_temp.walls(60, 5)),
    (4, (SELECT jsonb_agg(jsonb_set(e, '{y}', '7')) FROM jsonb_array_elements(pg_temp.walls(60)) e)),
    (5, pg_temp.walls(60, 5)),
    (6, (SELECT jsonb_agg(jsonb_set(e, '{y}', to_jsonb((e ->> 'x')::int % 7))) FROM jsonb_array_elements(pg_temp.walls(60)) e));
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'net', pg_temp.walls(60), b FROM net_pairs ORDER BY n;
SELECT c.pair_id, c.total, c.moved, c.reidentified, c.shifted,
       EXISTS (SELECT 1 FROM buildtrace.anomalies a WHERE a.pair_id = c.pair_id AND a.kind = 'change_spike') AS spike
FROM buildtrace.changes c WHERE c.drawing_id = 'net' ORDER BY c.pair_id;
SELECT sum(reidentified) AS reidentified, sum(rotated) AS rotated FROM buildtrace.hourly_changes;
