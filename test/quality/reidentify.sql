-- Re-identification quality of bt_diff (run by test/quality/reidentify.sh).
-- Variables: pairs, objects, change_rate, seed (simulated pairs), fzk_pairs
-- (re-exports of the FZK-Haus) and fzk (its JSON text).
--
-- A re-identified pair (previous_id, id) that bt_diff reports is right when
-- the truth has it.  precision = right / found, recall = right / truth pairs.
-- Results go to the table reid_quality for the calling script.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;

CREATE TABLE reid_cases(case_no int PRIMARY KEY, name text, source text, share float8, jitter float8);
INSERT INTO reid_cases
SELECT row_number() OVER (ORDER BY s.source DESC, s.share, j.jitter), s.name || j.suffix, s.source, s.share, j.jitter
FROM (VALUES ('simulated, 10 %', 'simulated', 0.1), ('simulated, 50 %', 'simulated', 0.5),
             ('simulated, 100 %', 'simulated', 1.0), ('FZK-Haus, 100 %', 'fzk', 1.0)) s(name, source, share),
     (VALUES ('', 0.0), (' + jitter', 0.05)) j(suffix, jitter);

-- Simulated pairs: the simulator regenerates the ids of a share of the
-- objects of b (added ones too) and, with jitter, moves the re-identified
-- objects by up to 0.05 on x and y (below the move tolerance, 0.1).
CREATE TABLE reid_pairs AS
SELECT c.case_no, p.pair_no, p.version_a, p.version_b,
       p.truth -> 'reidentified' AS truth_pairs, p.truth
FROM reid_cases c,
     LATERAL buildtrace.generate_pairs(:pairs, objects => :objects, change_rate => :change_rate,
                                       seed => :seed, reidentify_rate => c.share,
                                       reidentify_jitter => c.jitter) p
WHERE c.source = 'simulated';

-- The FZK-Haus re-exported: every id regenerated (22 characters of the IFC
-- GlobalId alphabet, like the original ids), the order shuffled, and with
-- jitter every object moved by up to 0.05 on x and y.  Nothing else changes.
CREATE TEMP TABLE fzk_objects AS
SELECT c.case_no, v AS pair_no, o ->> 'id' AS previous_id, n.id, n.h,
       o || jsonb_build_object('id', n.id)
         || CASE WHEN c.jitter > 0 THEN jsonb_build_object(
                'x', trim_scale((o ->> 'x')::numeric + round(((2 * n.u1 - 1) * c.jitter * 1000)::numeric) / 1000),
                'y', trim_scale((o ->> 'y')::numeric + round(((2 * n.u2 - 1) * c.jitter * 1000)::numeric) / 1000))
            ELSE '{}' END AS elem
FROM reid_cases c, generate_series(1, :fzk_pairs) v, jsonb_array_elements(:'fzk'::jsonb) o,
     LATERAL (SELECT hashtextextended(o ->> 'id', hashint8extended(v, hashint8extended(c.case_no, :seed))) AS h) hh,
     LATERAL (SELECT translate(left(encode(decode(md5(hh.h::text), 'hex'), 'base64'), 22), '+/', '_$') AS id,
                     ((hashint8extended(1, hh.h) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                     ((hashint8extended(2, hh.h) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                     hh.h) n
WHERE c.source = 'fzk';
INSERT INTO reid_pairs
SELECT case_no, pair_no, :'fzk'::jsonb, jsonb_agg(elem ORDER BY h),
       jsonb_agg(jsonb_build_object('id', id, 'previous_id', previous_id) ORDER BY id COLLATE "C"),
       '{}'
FROM fzk_objects GROUP BY case_no, pair_no;
-- a regenerated id that is another id of either version would make the truth wrong
DO $$
BEGIN
    IF EXISTS (SELECT FROM reid_pairs r JOIN reid_cases c USING (case_no)
               WHERE c.source = 'fzk'
                 AND (SELECT count(DISTINCT o ->> 'id') FROM jsonb_array_elements(r.version_a || r.version_b) o)
                     <> 2 * jsonb_array_length(r.version_a)) THEN
        RAISE EXCEPTION 'a regenerated FZK-Haus id clashes with another id';
    END IF;
END $$;

-- bt_diff on every pair; without re-identification built in it has no
-- "reidentified" key, which counts as nothing found.
CREATE TABLE reid_diffs AS
SELECT case_no, pair_no, truth_pairs, truth, buildtrace.bt_diff(version_a, version_b) AS diff
FROM reid_pairs;

CREATE TABLE reid_quality AS
WITH t AS (SELECT case_no, pair_no, e ->> 'previous_id' AS previous_id, e ->> 'id' AS id
           FROM reid_diffs, jsonb_array_elements(truth_pairs) e),
f AS (SELECT case_no, pair_no, e ->> 'previous_id' AS previous_id, e ->> 'id' AS id
      FROM reid_diffs, jsonb_array_elements(coalesce(diff -> 'reidentified', '[]')) e),
per_case AS (
    SELECT c.case_no,
           (SELECT count(*) FROM reid_diffs d WHERE d.case_no = c.case_no) AS pairs,
           (SELECT count(*) FROM t WHERE t.case_no = c.case_no) AS truth_pairs,
           (SELECT count(*) FROM f WHERE f.case_no = c.case_no) AS found,
           (SELECT count(*) FROM f JOIN t USING (case_no, pair_no, previous_id, id)
            WHERE f.case_no = c.case_no) AS right_pairs,
           (SELECT count(*) FROM reid_diffs d, jsonb_array_elements(coalesce(d.diff -> 'ambiguous', '[]')) a
            WHERE d.case_no = c.case_no) AS ambiguous_groups
    FROM reid_cases c)
SELECT c.case_no, c.name, p.pairs, p.truth_pairs, p.found, p.right_pairs, p.ambiguous_groups,
       CASE WHEN p.found > 0 THEN p.right_pairs::numeric / p.found END AS precision,
       CASE WHEN p.truth_pairs > 0 THEN p.right_pairs::numeric / p.truth_pairs END AS recall
FROM reid_cases c JOIN per_case p USING (case_no);

\pset footer off
\echo
\echo 'Re-identification by bt_diff against the truth (a pair is right when (previous_id, id) is in the truth):'
SELECT name AS "case", pairs, truth_pairs AS "truth pairs", found, right_pairs AS "right",
       coalesce(to_char(precision, 'FM0.0000'), '-') AS precision,
       coalesce(to_char(recall, 'FM0.0000'), '-') AS recall,
       ambiguous_groups AS "ambiguous groups"
FROM reid_quality ORDER BY case_no;

SELECT NOT EXISTS (SELECT FROM reid_diffs WHERE diff ? 'reidentified') AS no_reidentify \gset
\if :no_reidentify
\echo 'bt_diff reports no "reidentified" key (re-identification not built in): found = 0 in every case.'
\else
-- Where the wrong and the missed pairs come from (simulated pairs: what the
-- simulator did to the objects involved).
\echo 'Wrong pairs (found, not in the truth), by what the truth says of their ids:'
WITH t AS (SELECT case_no, pair_no, e ->> 'previous_id' AS previous_id, e ->> 'id' AS id
           FROM reid_diffs, jsonb_array_elements(truth_pairs) e),
f AS (SELECT d.case_no, d.pair_no, e ->> 'previous_id' AS previous_id, e ->> 'id' AS id
      FROM reid_diffs d, jsonb_array_elements(d.diff -> 'reidentified') e)
SELECT c.name AS "case",
       count(*) FILTER (WHERE tp.id IS NULL AND tn.id IS NULL) AS "a removed object paired with an added one",
       count(*) FILTER (WHERE tp.id IS NOT NULL OR tn.id IS NOT NULL) AS "a re-identified object paired wrongly"
FROM f JOIN reid_cases c USING (case_no)
LEFT JOIN t ON t.case_no = f.case_no AND t.pair_no = f.pair_no AND t.previous_id = f.previous_id AND t.id = f.id
LEFT JOIN t tp ON tp.case_no = f.case_no AND tp.pair_no = f.pair_no AND tp.previous_id = f.previous_id
LEFT JOIN t tn ON tn.case_no = f.case_no AND tn.pair_no = f.pair_no AND tn.id = f.id
WHERE t.id IS NULL
GROUP BY c.case_no, c.name ORDER BY c.case_no;
\echo 'Missed pairs (in the truth, not found): what bt_diff made of them, and what else the object went through:'
WITH t AS (SELECT d.case_no, d.pair_no, d.diff, d.truth, e ->> 'previous_id' AS previous_id, e ->> 'id' AS id
           FROM reid_diffs d, jsonb_array_elements(d.truth_pairs) e),
m AS (SELECT t.*,
             EXISTS (SELECT FROM jsonb_array_elements(t.diff -> 'ambiguous') a WHERE a -> 'added' ? t.id) AS amb,
             EXISTS (SELECT FROM jsonb_array_elements(t.diff -> 'reidentified') r
                     WHERE r ->> 'id' = t.id OR r ->> 'previous_id' = t.previous_id) AS other
      FROM t
      WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(t.diff -> 'reidentified') r
                        WHERE r ->> 'id' = t.id AND r ->> 'previous_id' = t.previous_id))
SELECT c.name AS "case", count(*) AS missed,
       count(*) FILTER (WHERE amb) AS "ambiguous",
       count(*) FILTER (WHERE other AND NOT amb) AS "paired otherwise",
       count(*) FILTER (WHERE NOT other AND NOT amb) AS "removed + added",
       count(*) FILTER (WHERE m.truth -> 'moved' ? m.id) AS "moved",
       count(*) FILTER (WHERE m.truth -> 'resized' ? m.id) AS "resized",
       count(*) FILTER (WHERE m.truth -> 'modified' ? m.id) AS "modified",
       count(*) FILTER (WHERE m.truth -> 'moved' ? m.id AND m.truth -> 'modified' ? m.id) AS "moved and modified"
FROM m JOIN reid_cases c USING (case_no)
GROUP BY c.case_no, c.name ORDER BY c.case_no;
\endif
