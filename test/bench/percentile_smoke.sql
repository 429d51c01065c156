-- Quick smoke run of the percentile path (test/bench/smoke.sh, part of the
-- suite): 200,000 rows, bt_percentile's p99 within its bound, and its time
-- next to sum(x) for a glance (not asserted: timings are noisy).
\set ON_ERROR_STOP on
DO $$
DECLARE
    t0 timestamptz;
    t_sum float8;
    t_bt float8;
    p99 float8;
    s float8;
BEGIN
    CREATE TEMP TABLE smoke_x AS SELECT (g % 1000 + 1)::float8 AS x FROM generate_series(1, 200000) g;
    t0 := clock_timestamp();
    SELECT sum(x) INTO s FROM smoke_x;
    t_sum := extract(epoch FROM clock_timestamp() - t0) * 1000;
    t0 := clock_timestamp();
    SELECT buildtrace.bt_percentile(x, 0.99) INTO p99 FROM smoke_x;
    t_bt := extract(epoch FROM clock_timestamp() - t0) * 1000;
    -- rank floor(0.99 * 199999) of 1..1000 repeated is 990
    IF abs(p99 - 990) > 0.01 * 990 THEN
        RAISE EXCEPTION 'bt_percentile smoke: p99 % is not within 1 %% of 990', p99;
    END IF;
    RAISE NOTICE 'percentile smoke: ok (sum % ms, bt_percentile % ms, 200000 rows)',
        round(t_sum::numeric, 1), round(t_bt::numeric, 1);
    DROP TABLE smoke_x;
END
$$;
