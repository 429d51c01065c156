#!/usr/bin/env bash
# Benchmark of deferred processing: how fast CALL buildtrace.work() drains a
# backlog, with 1 and 2 workers at once, against the same pairs diffed
# inline by one INSERT ... SELECT (the peer, in the same run). PAIRS pairs of
# 100-object drawings (10 % changed, 200 drawings) are inserted deferred,
# then drained; each variant runs ROUNDS times, interleaved; medians of
# pairs per second are printed with the ratios. Not part of the pass/fail
# suite; BT_WORK_SMOKE=1 drains 200 pairs once and checks they were all
# processed, timing nothing.
#
#   bash test/bench/work_bench.sh [PAIRS [ROUNDS]]    default 5000 3
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
pairs=${1:-5000}
rounds=${2:-3}
[ -z "${BT_WORK_SMOKE:-}" ] || { pairs=200; rounds=1; }
db=buildtrace_work_bench
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q <<SQL
CREATE EXTENSION buildtrace;
CREATE TABLE source AS
SELECT drawing_id, version_a, version_b FROM buildtrace.generate_pairs($pairs, 100, 0.1, 3, drawings => 200);
CREATE TABLE timing (variant text, round int, pairs_per_s float8);
SQL

reset() {
    q -c "TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
                   buildtrace.drawing_state, buildtrace.hourly_rollups" -c "VACUUM ANALYZE buildtrace.pairs" -c "CHECKPOINT"
}
now() { date +%s.%N; }
record() {   # variant round start
    q -c "INSERT INTO timing VALUES ('$1', $2, $pairs / ($(now) - $3))"
}
check_done() {
    got=$(q -c "SELECT count(*) FILTER (WHERE status <> 'pending') || '/' || count(*) FROM buildtrace.pairs")
    [ "$got" = "$pairs/$pairs" ] || { echo "work_bench: FAILED: $1 left pairs pending ($got processed)"; exit 1; }
}

for r in $(seq 1 "$rounds"); do
    reset
    start=$(now)
    q -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) SELECT * FROM source"
    record "inline INSERT ... SELECT" "$r" "$start"
    check_done "inline"
    for workers in 1 2; do
        reset
        PGOPTIONS="-c buildtrace.processing=deferred" \
            q -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) SELECT * FROM source"
        start=$(now)
        pids=()
        for w in $(seq 1 "$workers"); do
            q -c "CALL buildtrace.work($pairs, 3600)" >/dev/null &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p"; done
        record "work(), $workers worker$([ "$workers" = 1 ] || echo s)" "$r" "$start"
        check_done "$workers worker(s)"
    done
done
echo "work_bench: $pairs pairs drained by 1 and 2 workers, every one processed"
if [ -n "${BT_WORK_SMOKE:-}" ]; then
    PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
    exit 0
fi

echo
echo "Pairs per second, median of $rounds rounds, $pairs pairs of 100 objects over 200 drawings:"
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY pairs_per_s) AS per_s
           FROM timing GROUP BY variant)
SELECT m.variant, round(m.per_s::numeric) AS pairs_per_s,
       round((m.per_s / i.per_s)::numeric, 2) AS "x inline"
FROM m, m i WHERE i.variant = 'inline INSERT ... SELECT'
ORDER BY m.variant DESC;
SQL
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
