#!/usr/bin/env bash
# Quick benchmark smoke runs for the suite: every test/bench/*_smoke.sql in the
# test database, stopping at the first error.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in test/bench/*_smoke.sql; do
    psql -qX -v ON_ERROR_STOP=1 -d buildtrace_test -f "$f"
done
