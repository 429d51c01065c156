-- The two builds' outputs side by side: per category, how many pairs and
-- how many differ in bt_diff, bt_try_diff (result bytes or error) and
-- bt_svg; then the differing pairs, each with the start of both outputs
-- where they part; then what the valid results exercised, so that a run
-- that compared little shows it.
\set ON_ERROR_STOP on
\pset pager off
-- One definition of "differs", which run.sh counts too.
CREATE VIEW cmp.compared AS
SELECT c.id, split_part(c.cat, ':', 1) AS category, c.cat, c.svg,
       b.d_res IS DISTINCT FROM t.d_res OR b.d_err IS DISTINCT FROM t.d_err
         OR b.d_size IS DISTINCT FROM t.d_size AS diff_differs,
       b.t_res IS DISTINCT FROM t.t_res OR b.t_err IS DISTINCT FROM t.t_err
         OR b.t_size IS DISTINCT FROM t.t_size AS try_differs,
       b.s_res IS DISTINCT FROM t.s_res OR b.s_err IS DISTINCT FROM t.s_err AS svg_differs,
       coalesce(b.d_res, b.d_err) AS base_out, coalesce(t.d_res, t.d_err) AS tree_out
FROM cmp.cases c JOIN cmp.out_base b USING (id) JOIN cmp.out_tree t USING (id);

SELECT CASE WHEN grouping(category) = 1 THEN 'all' ELSE category END AS category, count(*) AS pairs,
       count(*) FILTER (WHERE svg) AS drawn,
       count(*) FILTER (WHERE diff_differs) AS bt_diff_differs,
       count(*) FILTER (WHERE try_differs) AS bt_try_diff_differs,
       count(*) FILTER (WHERE svg_differs) AS bt_svg_differs
FROM cmp.compared GROUP BY ROLLUP (category) ORDER BY grouping(category), category;

-- The length of the common prefix of two texts (a binary search).
CREATE FUNCTION pg_temp.common_prefix(x text, y text) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  lo int := 0;
  hi int := least(length(x), length(y));
  mid int;
BEGIN
  WHILE lo < hi LOOP
    mid := (lo + hi + 1) / 2;
    IF left(x, mid) = left(y, mid) THEN lo := mid; ELSE hi := mid - 1; END IF;
  END LOOP;
  RETURN lo;
END $$;

-- The first 20 pairs that differ, 120 characters of bt_diff's outputs
-- from just before where they part.
SELECT id, cat, diff_differs, try_differs, svg_differs,
       substr(base_out, greatest(p - 20, 1), 120) AS base, substr(tree_out, greatest(p - 20, 1), 120) AS tree
FROM (SELECT *, pg_temp.common_prefix(base_out, tree_out) + 1 AS p
      FROM (SELECT * FROM cmp.compared WHERE diff_differs OR try_differs OR svg_differs
            ORDER BY id LIMIT 20) first_differing) d
ORDER BY id;

SELECT count(*) AS valid_results,
       count(*) FILTER (WHERE r->'shift' <> 'null') AS with_shift,
       sum(jsonb_array_length(r->'moved')) AS moved_entries,
       count(*) FILTER (WHERE jsonb_array_length(r->'reidentified') > 0) AS with_reidentified,
       count(*) FILTER (WHERE jsonb_array_length(r->'ambiguous') > 0) AS with_ambiguous,
       count(*) FILTER (WHERE jsonb_array_length(r->'resized') > 0) AS with_resized,
       count(*) FILTER (WHERE jsonb_array_length(r->'retyped') > 0) AS with_retyped,
       count(*) FILTER (WHERE jsonb_array_length(r->'modified') > 0) AS with_modified,
       count(*) FILTER (WHERE jsonb_array_length(r->'rotated') > 0) AS with_rotated,
       count(*) FILTER (WHERE r->>'summary' LIKE '%together%') AS moved_together,
       count(*) FILTER (WHERE r->>'summary' LIKE '%…%') AS text_cut
FROM (SELECT regexp_replace(d_res, ' #[0-9a-f]{32}$', '')::jsonb AS r
      FROM cmp.out_base WHERE d_res IS NOT NULL) valid;
SELECT count(*) FILTER (WHERE d_err IS NOT NULL) AS bt_diff_errors,
       count(*) FILTER (WHERE t_res LIKE '{"problems"%') AS bt_try_diff_problem_lists,
       count(*) FILTER (WHERE s_err IS NOT NULL) AS bt_svg_errors
FROM cmp.out_base;
