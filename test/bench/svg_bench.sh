#!/usr/bin/env bash
# Benchmark of bt_svg against bt_diff on the same pairs (a light and a heavy
# revision of 10k and 100k objects) in a throwaway cluster: checks the
# pictures, then prints medians and the ratio measured in the same run.  Not
# part of the pass/fail suite; the smoke run is test/bench/svg_smoke.sql.
# BT_KEEP_FREED_MEMORY=1 restarts the throwaway server with glibc keeping
# freed memory (test/lib.sh), as for the bt_diff benchmark: otherwise the
# 100k runs, after the 10k ones, re-fault the picture's pages every call.
#
#   bash test/bench/svg_bench.sh [sizes] [reps]    default 10000,100000 5
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
bt_keep_freed_memory
sizes=${1:-10000,100000}
reps=${2:-5}
createdb buildtrace_bench 2>/dev/null || true
psql -qX -v ON_ERROR_STOP=1 -v sizes="$sizes" -v reps="$reps" -d buildtrace_bench -f test/bench/svg_bench.sql
