#!/usr/bin/env bash
# bt_percentile vs sum / tdigest_percentile / percentile_cont.  Runs inside a
# cluster (PG* variables set, e.g. by test/bench/run.sh).  Not a pass/fail test;
# timings on a shared 2-core machine are noisy, so medians are reported.
#
#   BT_BENCH_ROWS=10000000 BT_BENCH_RUNS=5 bash test/bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
rows=${BT_BENCH_ROWS:-10000000}
runs=${BT_BENCH_RUNS:-5}
createdb bt_bench 2>/dev/null || true
psql -qX -d bt_bench -v rows="$rows" -v runs="$runs" -f test/bench/percentile_bench.sql
