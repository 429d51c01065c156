#!/usr/bin/env bash
# Benchmark of the change pipeline: 10,000 pairs of 100-object drawings in one
# INSERT ... SELECT into (a) a plain table, (b) buildtrace.pairs, (c) a
# PL/pgSQL row-trigger peer. Prints medians and ratios. Not part of the
# pass/fail suite.
#
#   bash test/bench/pipeline_bench.sh [PAIRS [REPS]]     default 10000 3
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
PAIRS=${1:-10000}
REPS=${2:-3}
createdb buildtrace_bench 2>/dev/null || true
psql -qX -v ON_ERROR_STOP=1 -d buildtrace_bench -v n="$PAIRS" -v reps="$REPS" -f test/bench/pipeline_bench.sql
