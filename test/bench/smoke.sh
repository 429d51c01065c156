#!/usr/bin/env bash
# Quick benchmark smoke runs for the suite: every test/bench/*_smoke.sql in the
# test database, and the one-pair-per-INSERT benchmark's pgbench runs, stopping
# at the first error.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in test/bench/*_smoke.sql; do
    psql -qX -v ON_ERROR_STOP=1 -d buildtrace_test -f "$f"
done
BT_INSERT_SMOKE=1 bash test/bench/insert_bench.sh
