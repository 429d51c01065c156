#!/usr/bin/env bash
# Load test: CLIENTS pgbench clients each run TRANSACTIONS inserts of
# pre-generated simulated pairs and versions for 16 overlapping drawings,
# then the invariants in invariants.sql are checked. A fixed count per
# client (not a duration) keeps the accounting exact: pgbench does not
# report a transaction that commits after a -T deadline. BT_LOAD_TIMEOUT
# (default 600 s) bounds the run's time all the same. Runs against the
# server in the PG* environment (as inside pg_virtualenv), or standalone in
# a throwaway cluster, in a fresh database buildtrace_load.
#
#   bash test/load/run.sh [TRANSACTIONS [CLIENTS]]     default 100 each, 32 clients
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
transactions=${1:-100}
clients=${2:-32}
db=buildtrace_load

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION buildtrace'
# The pairs and versions, generated before the clock starts.
psql -qX -v ON_ERROR_STOP=1 -d "$db" -f test/load/pool.sql

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "pgbench: $clients clients x $transactions transactions, pairs:versions = 3:1, 16 drawings each"
start=$(date +%s.%N)
timeout "${BT_LOAD_TIMEOUT:-600}" pgbench -n -c "$clients" -j 2 -t "$transactions" \
    -f test/load/pairs.pgbench@3 -f test/load/versions.pgbench@1 "$db" >"$out" 2>&1 || {
    cat "$out"; echo "pgbench failed"; exit 1; }
seconds=$(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $start }")
grep -E "number of (transactions actually processed|failed transactions)|^tps" "$out" || true
if grep -qiE "aborted|error" "$out"; then
    grep -iE "aborted|error" "$out" | head -5
    echo "pgbench reported errors"; exit 1
fi
# Per-script transaction counts: "SQL script 1: …\n - N transactions (…)".
mapfile -t per_script < <(sed -n 's/^ - \([0-9]*\) transactions (.*/\1/p' "$out")
[ ${#per_script[@]} -eq 2 ] || { cat "$out"; echo "could not read per-script counts"; exit 1; }

psql -X -v ON_ERROR_STOP=1 -d "$db" -P pager=off \
    -v expected_total=$((clients * transactions)) \
    -v expected_pairs="${per_script[0]}" -v expected_versions="${per_script[1]}" \
    -f test/load/invariants.sql
psql -X -At -d "$db" -c "
    SELECT format('throughput: %s pairs processed in %s s = %s pairs/s (pre-generated; %s failed as invalid, %s from versions)',
                  count(*), $seconds, round(count(*) / $seconds::numeric, 1),
                  count(*) FILTER (WHERE status = 'failed'),
                  count(*) FILTER (WHERE from_version IS NOT NULL))
    FROM buildtrace.pairs"
