#!/usr/bin/env bash
# Crash test: CLIENTS pgbench clients run the load of test/load (its
# pairs.pgbench and versions.pgbench, 3:1) in a throwaway cluster of this
# script's own, the server is killed with `pg_ctl stop -m immediate` after
# CRASH_AFTER seconds (and 2 committed transactions per client), restarted
# (crash recovery), and then
#   - every transaction pgbench acknowledged is committed, every committed
#     one was acknowledged or in flight at the crash, and each has its pair
#     or version and nothing else is stored (test/crash/checks.sql);
#   - the load test's invariants hold (test/load/invariants.sql, without its
#     total count: none is known after a crash).
# A second, short round then runs to completion on the recovered cluster and
# everything is checked again, this time with the exact count.
#
# Ack accounting: each transaction of the load is test/load's script wrapped
# in BEGIN … COMMIT with one more row, in a plain table acked, numbered by a
# per-client counter (pgbench variable n) in the same transaction; the pair
# or version gets that number as its job_id (a column default read from a
# transaction-local setting), so rows and acked match one to one. pgbench's
# per-transaction log (-l) lists, per client, the transactions whose COMMIT
# was acknowledged, numbered 1..N in the same order.
#
# The cluster listens only on a Unix socket in its own temporary directory and
# all PG* variables are replaced, so it never touches the cluster of the suite
# (pg_virtualenv) it may run in. Standalone it installs the dependencies and
# builds and installs the extension under the install lock.
#
#   bash test/crash/run.sh [CLIENTS [CRASH_AFTER]]     default 8 clients, 2.5 s
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
clients=${1:-8}
crash_after=${2:-2.5}
round2_transactions=25
db=buildtrace_crash

if [ -z "${BT_IN_CLUSTER:-}" ]; then
    bt_install_deps
    exec 9>/tmp/buildtrace-check.lock
    flock 9
    bt_build_install
fi

# Our own cluster: drop whatever PG* the caller has (PGHOST, PGPORT,
# PGDATABASE, PGUSER, PGDATA, PGCLUSTER, PGOPTIONS, …; PG_CONFIG stays).
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^PG[A-Z]' || true)
work=$(mktemp -d)
data=$work/data
export PGHOST=$work PGPORT=54331 PGUSER=postgres PGDATABASE=$db
bin=$("$PG_CONFIG" --bindir)
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgbench_pid=
cleanup() {
    set +e
    [ -n "$pgbench_pid" ] && kill "$pgbench_pid" 2>/dev/null
    as_owner "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
start_server() {
    as_owner "$bin/pg_ctl" -D "$data" -l "$work/server.log" -w -t 60 \
        -o "-p $PGPORT -k $work -c listen_addresses=''" start >/dev/null
}
fail() { echo "crash test FAILED: $*"; exit 1; }
started=$(date +%s.%N)

bt_log "crash test: own cluster in $work, $clients clients, crash after $crash_after s"
as_owner "$bin/initdb" -D "$data" -U postgres -A trust --no-sync >/dev/null
start_server
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION buildtrace;
CREATE TABLE acked (id bigint PRIMARY KEY, round int NOT NULL, client int NOT NULL,
                    n int NOT NULL, script text NOT NULL, UNIQUE (round, client, n));
CREATE TABLE ack_log (round int, client int, n int, script text, PRIMARY KEY (round, client, n));
-- The load's INSERTs name no job_id: it comes from the wrapper's setting.
ALTER TABLE buildtrace.pairs ALTER COLUMN job_id SET DEFAULT current_setting('crashtest.ack', true);
ALTER TABLE buildtrace.versions ALTER COLUMN job_id SET DEFAULT current_setting('crashtest.ack', true);
SQL
psql -qX -v ON_ERROR_STOP=1 -f test/load/pool.sql

# test/load's scripts, each wrapped into one transaction with its acked row.
scripts=(pairs versions)
for s in "${scripts[@]}"; do
    src=test/load/$s.pgbench
    if grep -qiE '^[[:space:]]*(begin|commit|end|rollback|start)\b' "$src"; then
        fail "$src has its own transaction control; the wrapper needs a single statement block"
    fi
    {
        echo "-- $src in one transaction with its acked row (made by test/crash/run.sh)"
        echo '\set n :n + 1'
        echo '\set ack :round * 1000000000 + :client_id * 1000000 + :n'
        echo 'BEGIN;'
        echo "SELECT set_config('crashtest.ack', CAST(:ack AS text), true);"
        cat "$src"
        echo "INSERT INTO acked VALUES (:ack, :round, :client_id, :n, '$s');"
        echo 'COMMIT;'
    } >"$work/$s.pgbench"
done

# run_pgbench ROUND TRANSACTIONS: pgbench in the background, log in $work/log.ROUND.*
run_pgbench() {
    (cd "$work" && exec timeout 120 pgbench -n -c "$clients" -j 2 -t "$2" -D n=0 -D round="$1" \
        -l --log-prefix="$work/log.$1" -f pairs.pgbench@3 -f versions.pgbench@1 "$db") \
        >"$work/pgbench.$1.out" 2>&1 &
    pgbench_pid=$!
}
# load_ack_log ROUND: pgbench's log lines (client, transaction number, latency
# or "failed"/"skipped", script number, …) into ack_log.
load_ack_log() {
    local bad
    bad=$(cat "$work/log.$1".* | awk '$3 !~ /^[0-9]+$/' | wc -l)
    [ "$bad" -eq 0 ] || fail "pgbench logged $bad failed or skipped transactions in round $1"
    cat "$work/log.$1".* | awk -v r="$1" -v names="${scripts[*]}" \
        'BEGIN { split(names, s, " ") } { print r "\t" $1 "\t" $2 "\t" s[$4 + 1] }' >"$work/acks.$1"
    psql -qX -v ON_ERROR_STOP=1 -c "\\copy ack_log FROM '$work/acks.$1'"
}
acked_count() { psql -XAt -c "SELECT count(*) FROM ack_log WHERE round = $1 ${2:+AND script = '$2'}"; }
stored_counts() {
    psql -XAt -F ' ' -c "SELECT (SELECT count(*) FROM buildtrace.pairs WHERE from_version IS NULL),
                                (SELECT count(*) FROM buildtrace.versions)"
}
check() {  # check ROUND CRASHED EXPECTED_TOTAL EXPECTED_PAIRS EXPECTED_VERSIONS
    local status=0
    psql -qX -v ON_ERROR_STOP=1 -P pager=off -v round="$1" -v crashed="$2" \
         -f test/crash/checks.sql || status=1
    psql -qX -v ON_ERROR_STOP=1 -P pager=off -v expected_total="$3" \
         -v expected_pairs="$4" -v expected_versions="$5" -f test/load/invariants.sql || status=1
    return "$status"
}

# Round 1: far more transactions than fit before the crash.
bt_log "round 1: load, then pg_ctl stop -m immediate after $crash_after s"
run_pgbench 1 10000000
sleep "$crash_after"
# On a busy machine, wait on until 2 transactions per client are committed:
# then at least one per client was acknowledged (each has at most one in flight).
for _ in $(seq 1 60); do
    [ "$(psql -XAt -c 'SELECT count(*) FROM acked')" -ge $((2 * clients)) ] && break
    sleep 0.5
done
kill -0 "$pgbench_pid" 2>/dev/null || { cat "$work/pgbench.1.out"; fail "pgbench ended before the crash"; }
cp "$work/pgbench.1.out" "$work/pgbench.1.before-crash"
as_owner "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null
rc=0; wait "$pgbench_pid" || rc=$?
pgbench_pid=
! grep -qiE "aborted|error" "$work/pgbench.1.before-crash" ||
    { cat "$work/pgbench.1.out"; fail "pgbench reported errors before the crash"; }
grep -q "aborted" "$work/pgbench.1.out" || { cat "$work/pgbench.1.out"; fail "pgbench's clients were not cut off by the crash (exit $rc)"; }
grep -E "actually processed" "$work/pgbench.1.out" || true
echo "pgbench exit status $rc (clients aborted by the crash, as intended)"

bt_log "restart: crash recovery"
start_server
grep -q "not properly shut down; automatic recovery in progress" "$work/server.log" ||
    { cat "$work/server.log"; fail "the restart did not run crash recovery"; }
sed -n '/not properly shut down/,$p' "$work/server.log" |
    grep -oE "(automatic recovery in progress|redo (starts|done) at [0-9A-F/]+|database system is ready.*)" || true
load_ack_log 1
acked1=$(acked_count 1)
[ "$acked1" -gt 0 ] || fail "no transaction was acknowledged before the crash"
check 1 true -1 -1 -1 || fail "round 1 (after the crash)"
read -r pairs1 versions1 < <(stored_counts)
inflight=$(psql -XAt -c "SELECT count(*) FROM acked a WHERE round = 1 AND NOT EXISTS
                         (SELECT 1 FROM ack_log l WHERE (l.round, l.client, l.n) = (a.round, a.client, a.n))")

# Round 2: the recovered cluster keeps working; a short load run to the end.
bt_log "round 2: $clients clients x $round2_transactions transactions after recovery"
run_pgbench 2 "$round2_transactions"
rc=0; wait "$pgbench_pid" || rc=$?
pgbench_pid=
if [ "$rc" -ne 0 ] || grep -qiE "aborted|error" "$work/pgbench.2.out"; then
    cat "$work/pgbench.2.out"; fail "pgbench failed after recovery (exit $rc)"
fi
grep -E "actually processed" "$work/pgbench.2.out" || true
load_ack_log 2
acked2=$(acked_count 2)
[ "$acked2" -eq $((clients * round2_transactions)) ] ||
    fail "round 2: pgbench logged $acked2 transactions, expected $((clients * round2_transactions))"
pairs2=$((pairs1 + $(acked_count 2 pairs)))
versions2=$((versions1 + $(acked_count 2 versions)))
check 2 false $((pairs2 + versions2)) "$pairs2" "$versions2" || fail "round 2 (after recovery)"
read -r pairs_now versions_now < <(stored_counts)

seconds=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }")
echo
echo "crash test: round 1: $acked1 transactions acknowledged before the crash; after recovery" \
     "$pairs1 pairs + $versions1 versions found = $((pairs1 + versions1)) rows, $inflight of them" \
     "committed in flight without an acknowledgement"
echo "crash test: round 2: $acked2 transactions acknowledged; $pairs_now pairs + $versions_now versions" \
     "found = $((pairs_now + versions_now)) rows"
echo "crash test: 2 rounds passed in $seconds s"
