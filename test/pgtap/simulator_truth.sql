-- Ground truth: bt_diff recovers exactly what the simulator says it changed,
-- on 1,000 generated pairs and on version chains; bt_validate flags exactly
-- the malformed versions. The truth is by id, so re-identification is off:
-- the simulator's own additions and removals of one type may lie within
-- buildtrace.match_distance of each other.
BEGIN;
SELECT plan(15);

CREATE TEMP TABLE gp AS
SELECT * FROM buildtrace.generate_pairs(1000, objects => 100, change_rate => 0.1, seed => 42,
                                        malformed_rate => 0.05);

-- For every well-formed pair and kind: the ids bt_diff reports against the
-- ids the truth lists (a full outer join, so both precision and recall).
CREATE TEMP TABLE cmp AS
WITH d AS (SELECT pair_no, truth, buildtrace.bt_diff(version_a, version_b, match_geometry => false) AS diff
           FROM gp WHERE NOT (truth ->> 'malformed')::bool),
kinds(kind) AS (VALUES ('added'), ('removed'), ('moved'), ('resized'), ('retyped'), ('modified')),
found AS (SELECT pair_no, kind, e ->> 'id' AS id
          FROM d, kinds, jsonb_array_elements(diff -> kind) e),
truth AS (SELECT pair_no, kind, t AS id
          FROM d, kinds, jsonb_array_elements_text(truth -> kind) t)
SELECT kind, count(t.id) AS true_n, count(f.id) AS found_n,
       count(*) FILTER (WHERE f.id IS NOT NULL AND t.id IS NOT NULL) AS hits
FROM found f FULL JOIN truth t USING (pair_no, kind, id)
GROUP BY kind;

SELECT is((SELECT count(*) FROM gp), 1000::bigint, '1,000 pairs generated');
SELECT results_eq(
    $$SELECT kind, true_n > 500 FROM cmp ORDER BY kind$$,
    $$VALUES ('added', true), ('modified', true), ('moved', true), ('removed', true),
             ('resized', true), ('retyped', true)$$,
    'every change kind occurs hundreds of times');
SELECT is_empty($$SELECT * FROM cmp WHERE hits <> found_n$$,
                'precision 100 %: every reported change is in the truth');
SELECT is_empty($$SELECT * FROM cmp WHERE hits <> true_n$$,
                'recall 100 %: every true change is reported');
-- combinations occur and are recovered (both lists)
SELECT ok((SELECT count(*) FROM gp, jsonb_array_elements_text(truth -> 'moved') m
           WHERE truth -> 'resized' ? m) > 20, 'moved-and-resized objects occur');

-- Malformed share: about 5 %, and bt_validate flags exactly the broken version.
SELECT ok((SELECT count(*) FROM gp WHERE (truth ->> 'malformed')::bool) BETWEEN 30 AND 75,
          'about 5 % of pairs are malformed');
SELECT is_empty($$
    SELECT pair_no FROM gp
    WHERE (buildtrace.bt_validate(version_a) <> '[]') <> coalesce(truth #>> '{defect,version}' = 'a', false)
       OR (buildtrace.bt_validate(version_b) <> '[]') <> coalesce(truth #>> '{defect,version}' = 'b', false)
$$, 'bt_validate flags the malformed version of every malformed pair and nothing else');
SELECT is((SELECT count(DISTINCT truth #>> '{defect,kind}') FROM gp), 7::bigint,
          'all seven kinds of defect occur');

-- Version chains: each version against the one before.
CREATE TEMP TABLE gv AS
SELECT * FROM buildtrace.generate_versions(10, 20, objects => 60, change_rate => 0.05, seed => 7,
                                           malformed_rate => 0.1);
SELECT is_empty($$
    WITH clean AS (
        -- the unbroken previous payload: the chain continues from it
        SELECT v.drawing_id, v.version_no, v.payload, v.truth,
               lag(v.version_no) OVER w AS prev_no
        FROM gv v WINDOW w AS (PARTITION BY drawing_id ORDER BY version_no)),
    d AS (SELECT b.drawing_id, b.version_no, b.truth, buildtrace.bt_diff(a.payload, b.payload, match_geometry => false) AS diff
          FROM clean b JOIN gv a ON a.drawing_id = b.drawing_id AND a.version_no = b.prev_no
          WHERE NOT (a.truth ->> 'malformed')::bool AND NOT (b.truth ->> 'malformed')::bool)
    SELECT drawing_id, version_no, kind FROM d,
           unnest(ARRAY['added', 'removed', 'moved', 'resized', 'retyped', 'modified']) kind
    WHERE (SELECT coalesce(jsonb_agg(e -> 'id' ORDER BY e ->> 'id' COLLATE "C"), '[]')
           FROM jsonb_array_elements(diff -> kind) e) <> truth -> kind
$$, 'bt_diff between consecutive versions equals the truth');
SELECT is_empty($$
    SELECT drawing_id, version_no FROM gv
    WHERE (buildtrace.bt_validate(payload) <> '[]') <> (truth ->> 'malformed')::bool
$$, 'bt_validate flags exactly the malformed versions');
-- malformed_rate 0.1 breaks about one version in ten (200 here).
SELECT ok((SELECT count(*) FROM gv WHERE (truth ->> 'malformed')::bool) BETWEEN 8 AND 40,
          'generate_versions breaks versions at about malformed_rate');

-- Spike: at least spike_factor times the changes of an ordinary pair.
SELECT ok((WITH c AS (
              SELECT pair_no, (SELECT sum(v::int) FROM jsonb_each_text(buildtrace.bt_diff(version_a, version_b, match_geometry => false) -> 'counts') x(k, v)
                               WHERE k <> 'unchanged') AS n
              FROM buildtrace.generate_pairs(40, change_rate => 0.1, spike_at => 17))
           SELECT min(n) FILTER (WHERE pair_no = 17) >= 10 * avg(n) FILTER (WHERE pair_no <> 17) FROM c),
          'the spiked pair has at least 10 times the average change count');

-- Deterministic whatever the session does with random().
CREATE TEMP TABLE s1 AS SELECT 1 AS seeded FROM (SELECT setseed(0.5)) s;
CREATE TEMP TABLE h1 AS SELECT md5(string_agg(version_a::text || version_b::text || truth::text, '|' ORDER BY pair_no)) h
                        FROM buildtrace.generate_pairs(50, seed => 3, malformed_rate => 0.2);
CREATE TEMP TABLE s2 AS SELECT random() FROM (SELECT setseed(-0.25)) s;
SELECT is((SELECT md5(string_agg(version_a::text || version_b::text || truth::text, '|' ORDER BY pair_no))
           FROM buildtrace.generate_pairs(50, seed => 3, malformed_rate => 0.2)),
          (SELECT h FROM h1), 'same seed, same pairs, whatever setseed() says');

-- Through the pipeline: the spiked version raises the change_spike anomaly
-- (its drawing only), and exactly the malformed pairs fail.
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
SELECT drawing_id, payload, timestamptz '2026-01-01 00:00+00' + version_no * interval '1 hour'
FROM buildtrace.generate_versions(3, 6, objects => 50, change_rate => 0.05, seed => 5,
                                  spike_at => 4, spike_drawing => 2, drawing_prefix => 'SIMTAP-')
ORDER BY version_no, drawing_id;
SELECT results_eq(
    $$SELECT drawing_id FROM buildtrace.anomalies WHERE kind = 'change_spike' AND drawing_id LIKE 'SIMTAP-%'$$,
    $$VALUES ('SIMTAP-0002')$$,
    'the spiked version raises one change_spike anomaly, on its drawing');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT drawing_id, version_a, version_b
FROM buildtrace.generate_pairs(60, objects => 30, seed => 8, malformed_rate => 0.15,
                               drawing_prefix => 'SIMPAIR-');
SELECT set_eq(
    $$SELECT drawing_id FROM buildtrace.pairs WHERE drawing_id LIKE 'SIMPAIR-%' AND status = 'failed'$$,
    $$SELECT drawing_id FROM buildtrace.generate_pairs(60, objects => 30, seed => 8, malformed_rate => 0.15,
                                                       drawing_prefix => 'SIMPAIR-')
      WHERE (truth ->> 'malformed')::bool$$,
    'exactly the malformed pairs fail in the pipeline');

SELECT * FROM finish();
ROLLBACK;
