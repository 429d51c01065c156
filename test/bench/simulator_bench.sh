#!/usr/bin/env bash
# Simulator speed: generate_pairs(1000, 100 objects) against bt_diff over the
# same 1,000 pairs (the peer, measured in the same run).  Prints the median of
# five runs of each and the ratio.  Runs inside a cluster (PG* variables set),
# run by test/bench/run.sh (make bench), or alone inside a cluster:
#   flock /tmp/buildtrace-check.lock bash -c '. test/lib.sh; bt_build_install; bt_virtualenv postgres bash test/bench/simulator_bench.sh'
# The machine is shared and has 2 cores: timings are noisy, hence medians.
# Then, once each, one drawing of 990,000 objects against ten drawings of
# 99,000 (the same objects in all): a version's truth lists every added id,
# so a step that is quadratic in a list shows as a ratio well above 1.
# About a minute and a half.
set -euo pipefail
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION IF NOT EXISTS buildtrace;
CREATE TEMP TABLE t(what text, ms float8);
CREATE TEMP TABLE p AS SELECT * FROM buildtrace.generate_pairs(1000);
DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
    FOR i IN 1..5 LOOP
        t0 := clock_timestamp();
        SELECT count(*) INTO n FROM buildtrace.generate_pairs(1000, seed => i);
        INSERT INTO t VALUES ('generate_pairs(1000)', 1000 * extract(epoch FROM clock_timestamp() - t0));
        t0 := clock_timestamp();
        SELECT count(buildtrace.bt_diff(version_a, version_b)) INTO n FROM p;
        INSERT INTO t VALUES ('bt_diff x 1000', 1000 * extract(epoch FROM clock_timestamp() - t0));
    END LOOP;
END $$;
\pset footer off
SELECT what, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 0) AS median_ms,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)
              / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM t WHERE what LIKE 'bt_diff%'))::numeric, 1)
           AS ratio_to_bt_diff
FROM t GROUP BY what ORDER BY what DESC;
SQL
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TEMP TABLE big(what text, ms float8);
DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM buildtrace.generate_versions(1, 1, objects => 990000);
    INSERT INTO big VALUES ('one drawing of 990,000 objects', 1000 * extract(epoch FROM clock_timestamp() - t0));
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM buildtrace.generate_versions(10, 1, objects => 99000);
    INSERT INTO big VALUES ('ten drawings of 99,000 objects', 1000 * extract(epoch FROM clock_timestamp() - t0));
END $$;
\pset footer off
SELECT what, round(ms::numeric, 0) AS ms,
       round((ms / (SELECT ms FROM big WHERE what LIKE 'ten%'))::numeric, 2) AS ratio_to_ten_drawings
FROM big ORDER BY what;
SQL
