#!/usr/bin/env bash
# Benchmark of bt_diff on real revisions: the cost of matching leftover
# objects (match_geometry on vs off with stable ids) and of re-identifying
# objects after a full and a half re-export, against the same pair with
# stable ids.  Builds drawings of 10k and 100k objects in a throwaway
# cluster, checks the diffs are right, then prints medians and ratios
# measured in the same run.  Not part of the pass/fail suite; the smoke run
# is test/bench/revisions_smoke.sql.  BT_KEEP_FREED_MEMORY=1 restarts the
# throwaway server with glibc keeping freed memory (test/lib.sh), as for the
# bt_diff benchmark: otherwise a diff may fault its scratch memory in again
# on any call, whichever of the two it compares.
#
#   bash test/bench/revisions_bench.sh [sizes] [reps]    default 10000,100000 5
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
bt_keep_freed_memory
sizes=${1:-10000,100000}
reps=${2:-5}
createdb buildtrace_bench 2>/dev/null || true
psql -qX -v ON_ERROR_STOP=1 -v sizes="$sizes" -v reps="$reps" -d buildtrace_bench -f test/bench/revisions_bench.sql
