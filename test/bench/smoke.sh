#!/usr/bin/env bash
# Quick benchmark smoke runs for the suite: every test/bench/*_smoke.sql in the
# test database, the one-pair-per-INSERT benchmark's pgbench runs, the
# drain of a small deferred backlog by work(), the upload checks' step
# against its peer on 200 expectations (they must record the same
# anomalies), and hourly_changes against its peer on two days of five
# drawings (they must return the same rows), stopping at the first error.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in test/bench/*_smoke.sql; do
    psql -qX -v ON_ERROR_STOP=1 -d buildtrace_test -f "$f"
done
BT_INSERT_SMOKE=1 bash test/bench/insert_bench.sh
BT_WORK_SMOKE=1 bash test/bench/work_bench.sh
bash test/bench/uploads_bench.sh 200 1
bash test/bench/hourly_changes_bench.sh 2 5 1
