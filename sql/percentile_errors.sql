-- bt_percentile / bt_sketch: every error path (SQLSTATEs are asserted in
-- test/pgtap/percentile_errors.sql).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = public, buildtrace;

-- Non-finite values.
SELECT bt_percentile(x, 0.5) FROM unnest(ARRAY[1, 'NaN']::float8[]) x;
SELECT bt_percentile(x, ARRAY[0.5]) FROM unnest(ARRAY[1, 'Infinity']::float8[]) x;
SELECT bt_sketch(x) FROM unnest(ARRAY['-Infinity']::float8[]) x;

-- Quantiles outside [0, 1], NaN quantiles, 2-D quantile arrays.
SELECT bt_percentile(x, 1.5) FROM generate_series(1, 3) x;
SELECT bt_percentile(x, ARRAY[0.5, -0.1]) FROM generate_series(1, 3) x;
SELECT bt_percentile(x, 'NaN'::float8) FROM generate_series(1, 3) x;
SELECT bt_percentile(x, ARRAY[[0.5], [0.9]]) FROM generate_series(1, 3) x;
SELECT bt_sketch_quantile(bt_sketch(x), 2) FROM generate_series(1, 3) x;
SELECT bt_sketch_quantiles(bt_sketch(x), ARRAY[0.5, 7]) FROM generate_series(1, 3) x;

-- Relative accuracy outside [0.0001, 0.5] or NULL.
SELECT bt_percentile(x, 0.5, 0) FROM generate_series(1, 3) x;
SELECT bt_percentile(x, 0.5, 0.9) FROM generate_series(1, 3) x;
SELECT bt_sketch(x, NULL) FROM generate_series(1, 3) x;

-- Confidence outside (0, 1).
SELECT * FROM bt_sketch_quantile_bounds((SELECT bt_sketch(x) FROM generate_series(1, 3) x), 0.5, 1);
SELECT * FROM bt_sketch_quantile_bounds((SELECT bt_sketch(x) FROM generate_series(1, 3) x), 0.5, 0);

-- Merging sketches of different accuracy.
SELECT bt_sketch_merge(s) FROM (SELECT bt_sketch(x, 0.01) FROM generate_series(1, 3) x
                                UNION ALL SELECT bt_sketch(x, 0.02) FROM generate_series(1, 3) x) t(s);
SELECT bt_sketch_add((SELECT bt_sketch(x, 0.01) FROM generate_series(1, 3) x),
                     (SELECT bt_sketch(x, 0.05) FROM generate_series(1, 3) x));

-- Accuracy that changes between rows of a group, in a serial plan too;
-- a value's own digits in the detail.
SELECT bt_percentile(x, 0.5, CASE WHEN x < 3 THEN 0.01 ELSE 0.02 END) FROM generate_series(1, 5) x;
SELECT bt_sketch(x, 0.50000001) FROM generate_series(1, 3) x;

-- Text input: syntax.
SELECT ''::bt_sketch;
SELECT 'alpha=0.01'::bt_sketch;
SELECT 'alpha=x level=0 count=0 zero=0 min=0 max=0 pos= neg='::bt_sketch;
SELECT 'alpha=0.01 level=99 count=0 zero=0 min=0 max=0 pos= neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=-1 zero=0 min=0 max=0 pos= neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=1 max=1 pos=0 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=1 max=2 pos=5:1;3:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=1 max=2 pos=0:1;3000:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=0 zero=0 min=0 max=0 pos= neg= extra'::bt_sketch;
-- Text input: well-formed but inconsistent.
SELECT 'alpha=0.7 level=0 count=0 zero=0 min=0 max=0 pos= neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=3 zero=0 min=1 max=1 pos=0:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=2 max=1 pos=0:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=-1 max=-1 pos=0:1 neg='::bt_sketch;
-- One value is both extremes: of a sketch of one value whose extremes
-- differed, readers reported the minimum and merges kept the maximum.
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=42.5 max=42.9 pos=190:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=42.5 max=42.5 pos=190:1 neg='::bt_sketch;
-- Each extreme lies in its extreme bucket (140 is in bucket 250, 5 is not in
-- bucket 0), else the quantiles clamped to it would be wrong; or in the next
-- one (249), as a build that rounds differently may place a value at an edge.
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=1 max=140 pos=0:1;248:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=1 max=140 pos=0:1;249:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=5 max=140 pos=0:1;250:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=-140 max=-1 pos= neg=0:1;248:1'::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=-140 max=-5 pos= neg=0:1;250:1'::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=-140 max=-1 pos= neg=0:1;250:1'::bt_sketch;
SELECT 'alpha=0.01 level=0 count=3 zero=1 min=-140 max=140 pos=250:1 neg=250:1'::bt_sketch;
SELECT 'alpha=0.01 level=0 count=2 zero=0 min=1 max=1 pos=0:0,2 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=1 max=1 pos=9999999:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=inf max=inf pos=0:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=1 zero=0 min=nan max=nan pos=0:1 neg='::bt_sketch;
-- A collapse level its values do not need: an empty sketch at level 30
-- would coarsen every sketch merged with it.
SELECT 'alpha=0.01 level=30 count=0 zero=0 min=0 max=0 pos= neg='::bt_sketch;
SELECT 'alpha=0.01 level=1 count=2 zero=0 min=1 max=2 pos=1:1;200:1 neg='::bt_sketch;
SELECT 'alpha=0.01 level=0 count=18446744073709551615 zero=18446744073709551615 min=0 max=0 pos=0:1 neg='::bt_sketch;
-- Ranks are exact in double precision: a count above 2^53 is refused, read or
-- merged; at 2^53 every quantile and bound is found.
SELECT 'alpha=0.01 level=0 count=9007199254740993 zero=9007199254740993 min=0 max=0 pos= neg='::bt_sketch;
SELECT q, bt_sketch_quantile_bounds('alpha=0.01 level=0 count=9007199254740992 zero=9007199254740991 min=0 max=1 pos=0:1 neg='::bt_sketch, q)
FROM unnest(ARRAY[0, 0.5, 1]::float8[]) q;
SELECT bt_sketch_add('alpha=0.01 level=0 count=9007199254740992 zero=9007199254740992 min=0 max=0 pos= neg='::bt_sketch,
                     bt_sketch(1.0));
-- A subnormal minimum and maximum (in the zero bucket) read back as printed.
SELECT bt_sketch(1e-320)::text AS printed, bt_sketch(1e-320)::text::bt_sketch::text AS read_back;

-- Binary input (bt_sketch_recv), fed through COPY ... (FORMAT binary): a
-- bytea column's bytes are read back as a bt_sketch column.
CREATE TABLE bt_recv_in (b bytea);
CREATE TABLE bt_recv_out (s bt_sketch);
CREATE FUNCTION bt_test_recv(b bytea) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    -- a file in the (throwaway) test cluster's data directory
    f text := current_setting('data_directory') || '/bt_sketch_recv_test.bin';
    r text;
BEGIN
    TRUNCATE public.bt_recv_in, public.bt_recv_out;
    INSERT INTO public.bt_recv_in VALUES (b);
    EXECUTE format('COPY public.bt_recv_in TO %L (FORMAT binary)', f);
    EXECUTE format('COPY public.bt_recv_out FROM %L (FORMAT binary)', f);
    SELECT s::text INTO r FROM public.bt_recv_out;
    RETURN r;
END
$$;
CREATE TABLE bt_good AS
SELECT bt_sketch(x) AS s, bt_sketch_send(bt_sketch(x)) AS b
FROM unnest(ARRAY[-5, 0, 1, 2, 3, 1000]::float8[]) x;
-- (the context would name the data directory)
\set SHOW_CONTEXT never
SELECT bt_test_recv(b) = s::text AS send_recv_round_trip, length(b) AS bytes FROM bt_good;
SELECT bt_test_recv(substr(b, 1, 20)) FROM bt_good;							-- truncated header
SELECT bt_test_recv(substr(b, 1, length(b) - 3)) FROM bt_good;				-- truncated counts
SELECT bt_test_recv(b || '\x00'::bytea) FROM bt_good;						-- trailing byte
SELECT bt_test_recv(set_byte(b, 0, 9)) FROM bt_good;						-- version
SELECT bt_test_recv(set_byte(b, 1, 200)) FROM bt_good;						-- level
SELECT bt_test_recv(set_byte(b, 2, 127)) FROM bt_good;						-- alpha
SELECT bt_test_recv(set_byte(b, 17, 99)) FROM bt_good;						-- count
SELECT bt_test_recv(set_byte(b, 46, 127)) FROM bt_good;						-- pos nbuckets
SELECT bt_test_recv(set_byte(b, 42, 127)) FROM bt_good;						-- pos first bucket
SELECT bt_test_recv(set_byte(b, length(b) - 1, 0)) FROM bt_good;			-- last bucket empty
SELECT bt_test_recv(set_byte(b, length(b) - 1, 128)) FROM bt_good;			-- varint cut off
SELECT bt_test_recv(substr(b, 1, 50) || '\xffffffffffffffffff7f'::bytea || substr(b, 52)) FROM bt_good; -- count > 2^64
SELECT bt_test_recv('\x'::bytea);											-- empty

DROP TABLE bt_recv_in, bt_recv_out, bt_good;
DROP FUNCTION bt_test_recv(bytea);

-- Many quantiles of a wide sketch: each walks up to 400,000 buckets, and a
-- statement_timeout lands between two.
SELECT clock_timestamp() AS started \gset
SET statement_timeout = '1s';
SELECT array_length(bt_sketch_quantiles(
    'alpha=0.0001 level=0 count=2 zero=0 min=1 max=4.1125e17 pos=0:1;204799:1 neg=',
    array_fill(0.5::float8, ARRAY[1000000])), 1);
RESET statement_timeout;
SELECT clock_timestamp() - :'started' < interval '15 seconds' AS cancelled_in_time;

-- The quantiles, like the accuracy, are the same in every row of a group:
-- a parallel plan could not combine partial aggregates of two, so a serial
-- one refuses a later row that asks for others. Equal values from a column
-- are fine.
SELECT bt_percentile(x, CASE WHEN x < 5 THEN 0.1 ELSE 0.9 END) FROM generate_series(1, 10) x;
SELECT bt_percentile(x, CASE WHEN x < 5 THEN ARRAY[0.1, 0.5] ELSE ARRAY[0.1, 0.9] END) FROM generate_series(1, 10) x;
SELECT bt_percentile(x, CASE WHEN x < 5 THEN 0.5 END) FROM generate_series(1, 10) x;
SELECT bt_percentile(x, q) AS median, bt_percentile(x, qs) AS quartiles
FROM (SELECT x, 0.5::float8 AS q, ARRAY[0.25, 0.75]::float8[] AS qs FROM generate_series(1, 10) x) s;

-- An aggregate made by hand of another aggregate's functions: a final
-- function that reads quantiles refuses a state that holds none.
CREATE AGGREGATE pg_temp.sketch_as_percentile(float8) (
    SFUNC = buildtrace.bt_sketch_trans, STYPE = internal, FINALFUNC = buildtrace.bt_percentile_final);
SELECT pg_temp.sketch_as_percentile(x) FROM generate_series(1, 10) x;
