#!/usr/bin/env bash
# Benchmarks (not part of the pass/fail suite): build, install, then run every
# test/bench/*_bench.sh in one throwaway cluster.  Holds the install lock
# while it runs, so keep BT_BENCH_ROWS modest when others are testing.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
exec 9>/tmp/buildtrace-check.lock
flock 9
bt_build_install
export BT_IN_CLUSTER=1
bt_virtualenv buildtrace_test bash -c 'for b in test/bench/*_bench.sh; do echo "== $b"; bash "$b" || exit 1; done'
