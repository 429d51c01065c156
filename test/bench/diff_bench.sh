#!/usr/bin/env bash
# bt_diff benchmark: builds drawings of 100, 1k, 10k and 100k objects in a
# throwaway cluster and prints median times of bt_diff, a plain-SQL diff and
# the detoast floor, with their ratios.  Timings on a shared machine are
# noisy; the script reports medians.
#
#   bash test/bench/diff_bench.sh [sizes] [reps]    e.g. 100,1000 5
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
bt_keep_freed_memory
sizes=${1:-100,1000,10000,100000}
reps=${2:-15}
createdb buildtrace_bench 2>/dev/null || true
psql -qX -v ON_ERROR_STOP=1 -v sizes="$sizes" -v reps="$reps" -d buildtrace_bench -f test/bench/diff_bench.sql
