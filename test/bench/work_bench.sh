#!/usr/bin/env bash
# Benchmark of deferred processing: how fast CALL buildtrace.work() drains a
# backlog, with 1 and 2 workers at once, against the same pairs diffed
# inline by one INSERT ... SELECT (the peer, in the same run). PAIRS pairs of
# 100-object drawings (10 % changed, 200 drawings) are inserted deferred,
# then drained; each variant runs ROUNDS times, interleaved; medians of
# pairs per second are printed with the ratios. Then how soon a pair's
# result can be read, one pair per INSERT as an ingestion service sends
# them: from the INSERT to its status no longer pending, inline (the INSERT
# itself) against deferred with one worker waiting for pairs, poll_ms 10
# and 50 (p50 and p95 of 60 pairs each, a random pause of up to 0.1 s
# before each, so that INSERTs fall anywhere in the worker's wait). Not part
# of the pass/fail suite; BT_WORK_SMOKE=1 drains 200 pairs once and sends 3
# pairs per variant, checking they were all processed, timing nothing.
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

# How soon a result can be read. sample VARIANT N: N one-pair INSERTs,
# each waited for until processed (a worker, if any, is already waiting).
samples=60
[ -z "${BT_WORK_SMOKE:-}" ] || samples=3
q -c "CREATE TABLE delay (variant text, ms float8)"
sample() {
    q -c "DO \$\$
DECLARE id bigint; t0 timestamptz; st text; waited int;
BEGIN
  FOR i IN 1 .. $2 LOOP
    PERFORM pg_sleep(random() * 0.1);
    t0 := clock_timestamp();
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
    SELECT drawing_id, version_a, version_b FROM source OFFSET i LIMIT 1 RETURNING pair_id INTO id;
    COMMIT;
    waited := 0;
    LOOP
      SELECT status INTO st FROM buildtrace.pairs WHERE pair_id = id;
      EXIT WHEN st <> 'pending';
      waited := waited + 1;
      IF waited > 5000 THEN
        RAISE EXCEPTION 'work_bench: pair % still pending after 10 s', id;
      END IF;
      PERFORM pg_sleep(0.002);
    END LOOP;
    INSERT INTO delay VALUES ('$1', extract(epoch FROM clock_timestamp() - t0) * 1000);
    COMMIT;
  END LOOP;
END \$\$" >/dev/null
}
reset
sample "inline" "$samples"
for poll in 10 50; do
    reset
    bt_start_waiting_worker "$db" "$poll"
    PGOPTIONS="-c buildtrace.processing=deferred" sample "deferred, poll_ms $poll" "$samples"
    bt_stop_waiting_worker "$db"
done
[ "$(q -c "SELECT count(*) FROM delay")" = $((3 * samples)) ] ||
    { echo "work_bench: FAILED: a pair sent one per INSERT was not timed"; exit 1; }
echo "work_bench: $samples pairs per INSERT inline and to a waiting worker, every one processed"
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
echo
echo "From a one-pair INSERT to its result, ms, $samples pairs of 100 objects per variant:"
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95
           FROM delay GROUP BY variant)
SELECT m.variant, round(m.p50::numeric, 1) AS p50_ms, round(m.p95::numeric, 1) AS p95_ms,
       round((m.p50 / i.p50)::numeric, 1) AS "p50 x inline"
FROM m, m i WHERE i.variant = 'inline'
ORDER BY m.p50;
SQL
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
