-- The edges of the percentile sketch's decisions, each with the smallest
-- input that shows it: when values still fit the finest accuracy, what
-- the text form accepts and how it writes gaps, and the rank bounds at
-- their limits.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, public;

-- 1 and 4e17 span exactly the buckets a sketch holds at its accuracy: no
-- collapse, alone or when two sketches are added.
SELECT bt_sketch_relative_accuracy(bt_sketch(x)) AS one_sketch, bt_sketch(x)::text AS text
FROM (VALUES (1.0::float8), (4e17)) v(x);
SELECT bt_sketch_relative_accuracy(bt_sketch_add(bt_sketch(1.0::float8), bt_sketch(4e17::float8))) AS added;

-- Text output: a gap of three or more empty buckets starts a new run.
SELECT bt_sketch(x)::text AS gap_of_three FROM (VALUES (1.0::float8), (1.08)) v(x);

-- Text input refuses what output never writes.
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=1 max=1 pos=0:1,0 neg='::bt_sketch;          -- empty last bucket
SELECT 'alpha=0.01 level=1 count=2 zero=0 min=1 max=3.9e17 pos=0:1;1023:1 neg='::bt_sketch; -- needless collapse
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=1 max=1 pos=0:1,9;1:1 neg='::bt_sketch;      -- overlapping runs
SELECT 'alpha=0.01 level=-256 count=0 zero=0 min=0 max=0 pos= neg='::bt_sketch;            -- negative level
SELECT 'alpha=0.01 level=0 count=1 zero=1 min=1e-400 max=0 pos= neg='::bt_sketch;          -- underflowing min

-- The quantiles of bt_percentile are one argument for the whole group: a
-- NULL in one row and an array in another are different quantiles.
SELECT bt_percentile(x, CASE WHEN x < 2 THEN NULL ELSE '{}'::float8[] END)
FROM (VALUES (1.0::float8), (2.0)) v(x);

-- Rank bounds at their limits: a confidence of 0.5 on two values, and an
-- extreme confidence whose upper rank is the last value.
SELECT * FROM bt_sketch_quantile_bounds((SELECT bt_sketch(x) FROM (VALUES (1.0::float8), (2.0)) v(x)), 0.5, 0.5);
SELECT * FROM bt_sketch_quantile_bounds((SELECT bt_sketch(x::float8) FROM generate_series(1, 17) x),
                                        0.01, 0.9999999999999999);
