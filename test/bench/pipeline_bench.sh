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
PAIRS=${1:-10000}
REPS=${2:-3}
bt_install_deps
# The same install lock as test/check.sh: one installed copy per machine.
exec 9>/tmp/buildtrace-check.lock
flock 9
bt_build_install
bt_virtualenv buildtrace_bench bash -c "
    createdb buildtrace_bench &&
    psql -qX -d buildtrace_bench -v n=$PAIRS -v reps=$REPS -f test/bench/pipeline_bench.sql"
