#!/usr/bin/env bash
# Deferred processing (buildtrace.processing = deferred, CALL buildtrace.work()):
#  1. the same pairs and versions, with spikes and invalid pairs, processed
#     inline in one database and deferred by two workers at once in another,
#     give the same statuses, problems, change sets, anomalies, rollup counts
#     and drawing state;
#  2. a lock timeout leaves a pair pending, claimed, with its attempt counted
#     and a backoff; a worker terminated mid-batch leaves its pairs to be
#     retried; after buildtrace.max_attempts a pair fails into dead_letters;
#     a pair's backoff stays in range however many attempts it has had;
#  3. a pair that cannot be processed (a drawing of another tenant) fails
#     alone: the other pairs of its batch are processed;
#  4. a drawing's lock held by a transaction that stays open holds up that
#     drawing's pairs only, a drawing first named by a deferred pair too;
#  5. a pair that stops its worker every time fails alone after
#     buildtrace.max_attempts: the other pairs of its batch are charged once
#     with it, then processed;
#  6. a thousand drawings whose oldest pair another worker has claimed do
#     not hide a drawing with a due pair;
#  7. a worker with poll_ms waits for pairs until max_seconds, processes one
#     inserted meanwhile within about poll_ms, and while it waits holds back
#     neither other transactions' cleanup nor a schema change; without
#     poll_ms it returns when nothing is due; a negative or null poll_ms is
#     refused;
#  8. two statements of deferred pairs naming the same new drawings in
#     opposite orders claim them without deadlocking (claimed row by row,
#     they deadlocked every time).
# Runs against the server in the PG* environment, or standalone in a
# throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "deferred: FAILED: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for db in bt_inline bt_deferred bt_retry bt_poison bt_poll; do
    dropdb --if-exists "$db" >/dev/null 2>&1
    createdb "$db"
    q -d "$db" -c "CREATE EXTENSION buildtrace"
done

# 1. The same load inline and deferred.
cat > "$work/load.sql" <<'SQL'
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT drawing_id, 'job-' || (pair_no % 5), version_a, version_b, 1 + pair_no % 9
FROM buildtrace.generate_pairs(400, 20, 0.1, 5, 0.05, drawings => 12, spike_at => 20)
ORDER BY pair_no;
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
SELECT drawing_id, payload, timestamptz '2026-01-01' + version_no * interval '1 minute'
FROM buildtrace.generate_versions(4, 6, 20, 0.2, 9, spike_at => 4)
ORDER BY version_no, drawing_id;
-- one pair per statement too, as an ingestion service sends them
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('single', '[]', '[{"id":"a","type":"wall","x":0,"y":0,"width":1,"height":1}]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('single', '[{"id":"a","type":"wall","x":0,"y":0,"width":1,"height":1}]', '[]');
-- a latency that is no duration fails its pair at once, deferred or not,
-- and the statement's other rows are stored
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
VALUES ('clocks', '[]', '[]', 3), ('clocks', '[]', '[]', 'NaN'), ('clocks', '[]', '[]', -1);
SQL
q -d bt_inline -f "$work/load.sql"
PGOPTIONS="-c buildtrace.processing=deferred" q -d bt_deferred -f "$work/load.sql"
pending=$(q -d bt_deferred -c "SELECT count(*) FILTER (WHERE status = 'pending') || '/' ||
                                     count(*) FILTER (WHERE coalesce(latency_ms >= 0 AND latency_ms < 'Infinity', true))
                              FROM buildtrace.pairs")
[ "${pending%/*}" = "${pending#*/}" ] || fail "deferred inserts processed pairs ($pending pending)"
[ "$(q -d bt_deferred -c "SELECT string_agg(status, ',' ORDER BY pair_id) FROM buildtrace.pairs
                           WHERE drawing_id = 'clocks'")" = "pending,failed,failed" ] ||
    fail "deferred inserts did not fail the pairs whose latency is no duration"
[ "$(q -d bt_deferred -c "SELECT count(*) FROM buildtrace.changes")" = 0 ] || fail "deferred inserts wrote changes"
q -d bt_deferred -c "SELECT buildtrace.health() -> 'backlog' ->> 'pending'" | grep -qx "${pending%/*}" ||
    fail "health() does not report the backlog"

# Two workers at once, in batches of 50 pairs.
for w in 1 2; do
    q -d bt_deferred -c "CALL buildtrace.work(100000, 120)" > "$work/worker$w.out" 2>&1 &
    eval "worker$w=\$!"
done
wait "$worker1" || { cat "$work/worker1.out"; fail "worker 1"; }
wait "$worker2" || { cat "$work/worker2.out"; fail "worker 2"; }
[ "$(q -d bt_deferred -c "SELECT count(*) FROM buildtrace.pairs WHERE status = 'pending'")" = 0 ] ||
    fail "pairs left pending after work()"
# (the two that failed when inserted were never taken)
[ "$(q -d bt_deferred -c "SELECT count(*) FROM buildtrace.pairs
                           WHERE attempts <> 1 AND NOT (drawing_id = 'clocks' AND latency_ms <> 3)")" = 0 ] ||
    fail "a pair was processed more than once or never"

compare() {   # what, query: equal in both databases
    a=$(q -d bt_inline -c "$2" | md5sum) b=$(q -d bt_deferred -c "$2" | md5sum)
    [ "$a" = "$b" ] || fail "$1 differ between inline and deferred processing"
    echo "deferred: $1 as inline ($(q -d bt_inline -c "SELECT count(*) FROM ($2) x") rows)"
}
compare "pair statuses and problems" \
    "SELECT pair_id, drawing_id, status, error FROM buildtrace.pairs ORDER BY pair_id"
compare "change sets" \
    "SELECT pair_id, diff, summary, total FROM buildtrace.changes ORDER BY pair_id"
compare "anomalies (spikes, invalid input)" \
    "SELECT kind, severity, drawing_id, pair_id, details FROM buildtrace.anomalies ORDER BY pair_id, kind"
compare "rollup counts and reported latencies" \
    "SELECT drawing_id, sum(pairs), sum(failed), sum(added), sum(removed), sum(moved), sum(resized),
            sum(retyped), sum(modified), sum(unchanged), sum(rotated), sum(reidentified),
            buildtrace.bt_sketch_count(buildtrace.bt_sketch_merge(processing_ms)),
            buildtrace.bt_sketch_merge(reported_latency_ms)::text
     FROM buildtrace.hourly_rollups GROUP BY drawing_id ORDER BY drawing_id"
compare "drawing state" \
    "SELECT drawing_id, last_pair_id, last_total FROM buildtrace.drawing_state ORDER BY drawing_id"
spikes=$(q -d bt_deferred -c "SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'change_spike'")
[ "$spikes" -gt 0 ] || fail "the load has no change spike to compare"

# 2. Passing failures, a worker that dies, and giving up.
q -d bt_retry <<'SQL'
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('held', '[]', '[]');
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('held', '[]', '[]');
SQL
holder() {    # holds a lock the processing needs (the changes table's) for $1 seconds
    q -d bt_retry -c "BEGIN; LOCK TABLE buildtrace.changes IN ACCESS EXCLUSIVE MODE;
                      SELECT pg_sleep($1); COMMIT;" >/dev/null 2>&1 &
    holder_pid=$!
    sleep 0.5
}
holder 3
q -d bt_retry -c "SET lock_timeout = '200ms'" -c "CALL buildtrace.work()" > "$work/timeout.out" 2>&1
grep -q "will retry pair" "$work/timeout.out" || { cat "$work/timeout.out"; fail "no retry warning on a lock timeout"; }
[ "$(q -d bt_retry -c "SELECT status || ' ' || attempts || ' ' || (next_attempt_at > now())
                         FROM buildtrace.pairs WHERE pair_id = 2")" = "pending 1 true" ] ||
    fail "a lock timeout did not leave the pair pending, attempted once, backing off"
wait "$holder_pid"
echo "deferred: a lock timeout leaves the pair pending with one attempt and a backoff"

q -d bt_retry -c "UPDATE buildtrace.pairs SET next_attempt_at = NULL WHERE pair_id = 2"
holder 30
q -d bt_retry -c "SET application_name = 'bt_dying_worker'" -c "CALL buildtrace.work()" > /dev/null 2>&1 &
dying=$!
sleep 1
q -d bt_retry -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bt_dying_worker'" >/dev/null
wait "$dying" || true
kill "$holder_pid" 2>/dev/null || true
q -d bt_retry -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = 'bt_retry' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder_pid" 2>/dev/null || true
[ "$(q -d bt_retry -c "SELECT status || ' ' || attempts FROM buildtrace.pairs WHERE pair_id = 2")" = "pending 2" ] ||
    fail "a worker terminated mid-batch did not leave its pair pending with the attempt counted"
q -d bt_retry -c "UPDATE buildtrace.pairs SET next_attempt_at = NULL WHERE pair_id = 2"
q -d bt_retry -c "CALL buildtrace.work()" >/dev/null
[ "$(q -d bt_retry -c "SELECT status || ' ' || attempts FROM buildtrace.pairs WHERE pair_id = 2")" = "done 3" ] ||
    fail "the pair a dead worker left was not processed on the next attempt"
echo "deferred: a worker terminated mid-batch leaves its pair to the next one"

q -d bt_retry >/dev/null <<'SQL'
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('tired', '[]', '[]');
UPDATE buildtrace.pairs SET attempts = 5 WHERE drawing_id = 'tired';
CALL buildtrace.work();
SQL
[ "$(q -d bt_retry -c "SELECT problems -> 0 ->> 'message' FROM buildtrace.dead_letters WHERE drawing_id = 'tired'")" = \
  "processing gave up after 5 attempts" ] || fail "a pair out of attempts is not a dead letter"
echo "deferred: after buildtrace.max_attempts a pair fails into dead_letters"

# A pair with many attempts behind it (max_attempts allows up to 1000) is
# claimed with the backoff's cap, not an interval out of range that would
# stop every later run of work().
q -d bt_retry >/dev/null <<'SQL'
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('persistent', '[]', '[]');
UPDATE buildtrace.pairs SET attempts = 60 WHERE drawing_id = 'persistent';
SET buildtrace.max_attempts = 100;
CALL buildtrace.work();
SQL
[ "$(q -d bt_retry -c "SELECT status || ' ' || attempts FROM buildtrace.pairs WHERE drawing_id = 'persistent'")" = \
  "done 61" ] || fail "a pair with 60 attempts behind it was not processed"
echo "deferred: a pair's 61st attempt backs off by the hour's cap"

# 3. One pair that cannot be processed fails alone.
q -d bt_retry >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_deferred_acme;
CREATE ROLE bt_deferred_acme NOLOGIN IN ROLE buildtrace_tenant;
SET buildtrace.tenant = 'bt_deferred_acme';
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('acme-1', '[]', '[]');
RESET buildtrace.tenant;
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('mine-1', '[]', '[]'), ('acme-2', '[]', '[]'), ('mine-2', '[]', '[]');
-- A deferred pair claims its drawing when inserted, so a pair into acme's
-- drawing is refused then; the owner giving the drawing to acme afterwards
-- makes one that work() cannot process.
UPDATE buildtrace.drawing_state SET tenant = 'bt_deferred_acme' WHERE drawing_id = 'acme-2';
CALL buildtrace.work();
SQL
got=$(q -d bt_retry -c "SELECT string_agg(drawing_id || ':' || status || coalesce(':' || (error -> 0 ->> 'sqlstate'), ''), ' ' ORDER BY pair_id)
                        FROM buildtrace.pairs WHERE pair_id > (SELECT pair_id FROM buildtrace.pairs WHERE drawing_id = 'acme-1' ORDER BY pair_id LIMIT 1)")
[ "$got" = "mine-1:done acme-2:failed:42501 mine-2:done" ] || fail "one bad pair took its batch with it: $got"
echo "deferred: a pair of another tenant's drawing fails alone, its batch is processed"
# 4. A transaction that holds a drawing's lock and stays open holds up that
#    drawing's pairs only, which stay pending and unclaimed (not charged the
#    attempt, no backoff): work() neither waits for it nor takes them.
q -d bt_retry >/dev/null <<'SQL'
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('stuck', '[]', '[]');
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('stuck', '[]', '[]'), ('moving', '[]', '[]');
SQL
q -d bt_retry -c "BEGIN; SELECT 1 FROM buildtrace.drawing_state WHERE drawing_id = 'stuck' FOR UPDATE;
                  SELECT pg_sleep(30); COMMIT;" >/dev/null 2>&1 &
holder_pid=$!
sleep 0.5
q -d bt_retry -c "SET statement_timeout = '10s'" -c "CALL buildtrace.work()" > "$work/held.out" 2>&1 ||
    { cat "$work/held.out"; fail "work() waited for as long as a drawing's lock was held"; }
got=$(q -d bt_retry -c "SELECT string_agg(drawing_id || ':' || status || ':' || attempts
                                   || CASE WHEN status = 'pending' AND next_attempt_at IS NOT NULL
                                           THEN ':claimed' ELSE '' END, ' ' ORDER BY pair_id)
                        FROM buildtrace.pairs WHERE drawing_id IN ('stuck', 'moving') AND pair_id >
                            (SELECT min(pair_id) FROM buildtrace.pairs WHERE drawing_id = 'stuck')")
q -d bt_retry -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = 'bt_retry' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder_pid" 2>/dev/null || true
[ "$got" = "stuck:pending:0 moving:done:1" ] || fail "a drawing's lock held open held up other drawings: $got"
echo "deferred: a drawing's lock held open holds up that drawing's pairs only"
# The same for a drawing that a deferred pair named first, held by an upload
# of a version left open: the pair claimed the drawing when it was
# inserted, so work() finds its row in place and passes over it, instead of
# waiting to create it (and holding its whole batch).
q -d bt_retry >/dev/null <<'SQL'
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('fresh', '[]', '[]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('other', '[]', '[]');
SQL
q -d bt_retry -c "BEGIN; INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('fresh', '[]');
                  SELECT pg_sleep(30); COMMIT;" >/dev/null 2>&1 &
holder_pid=$!
sleep 0.5
q -d bt_retry -c "SET statement_timeout = '10s'" -c "CALL buildtrace.work()" > "$work/held.out" 2>&1 ||
    { cat "$work/held.out"; fail "work() waited for an upload to a new drawing left open"; }
got=$(q -d bt_retry -c "SELECT string_agg(drawing_id || ':' || status, ' ' ORDER BY pair_id)
                        FROM buildtrace.pairs WHERE drawing_id IN ('fresh', 'other')")
q -d bt_retry -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = 'bt_retry' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder_pid" 2>/dev/null || true
[ "$got" = "fresh:pending other:done" ] || fail "an upload to a new drawing left open held up others: $got"
echo "deferred: an upload left open to a drawing a deferred pair named first holds up that drawing's pairs only"
# 5. A pair that stops its worker every time (here a trigger of the user's
#    that terminates the session; a crash, a cancel or a statement_timeout
#    alike). Each run of work() stands for a worker started anew, its pairs'
#    backoff run out.
q -d bt_poison >/dev/null <<'SQL'
CREATE FUNCTION stop_worker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.drawing_id = 'poison' AND NEW.status = 'done' THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(10);   -- the termination lands here
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER a_stop_worker BEFORE UPDATE OF status ON buildtrace.pairs
    FOR EACH ROW EXECUTE FUNCTION stop_worker();
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('ok-1', '[]', '[]'), ('poison', '[]', '[]'), ('ok-2', '[]', '[]'),
       ('ok-1', '[]', '[]'), ('ok-3', '[]', '[]');
SQL
for run in 1 2 3 4 5 6 7; do
    q -d bt_poison -c "UPDATE buildtrace.pairs SET next_attempt_at = NULL WHERE status = 'pending'"
    q -d bt_poison -c "CALL buildtrace.work()" >/dev/null 2>&1 || true
done
got=$(q -d bt_poison -c "SELECT string_agg(drawing_id || ':' || status || ':' || attempts, ' ' ORDER BY pair_id)
                         FROM buildtrace.pairs")
[ "$got" = "ok-1:done:2 poison:failed:5 ok-2:done:2 ok-1:done:2 ok-3:done:2" ] ||
    fail "a pair that stops its worker took its batch with it: $got"
[ "$(q -d bt_poison -c "SELECT problems -> 0 ->> 'message' FROM buildtrace.dead_letters")" = \
  "processing gave up after 5 attempts" ] || fail "the pair that stops its worker is not the one dead letter"
echo "deferred: a pair that stops its worker every time fails alone, its batch is processed"

# 6. Two pairs in each of 1,001 drawings; the first pair of the first 1,000
#    claimed by another worker (not due for an hour): the next worker takes
#    the due pairs of the last drawing, not nothing.
q -d bt_poison >/dev/null <<'SQL'
DROP TRIGGER a_stop_worker ON buildtrace.pairs;
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'w-' || d, '[]', '[]' FROM generate_series(1, 1001) d, generate_series(1, 2) n ORDER BY d, n;
UPDATE buildtrace.pairs p SET attempts = 1, next_attempt_at = now() + interval '1 hour'
WHERE p.pair_id IN (SELECT min(o.pair_id) FROM buildtrace.pairs o WHERE o.drawing_id LIKE 'w-%'
                    GROUP BY o.drawing_id ORDER BY 1 LIMIT 1000);
SQL
got=$(q -d bt_poison -c "SELECT string_agg(drawing_id, ',') FROM buildtrace._work_take(10)")
[ "$got" = "w-1001,w-1001" ] || fail "drawings whose oldest pair is claimed hid a due drawing: '$got'"
echo "deferred: drawings whose oldest pair is claimed elsewhere do not hide one that is due"

# 7. A worker that waits for pairs.
now_ms() { date +%s%3N; }
t0=$(now_ms)
[ "$(q -d bt_poll -c "CALL buildtrace.work(1000, 5)")" = 0 ] || fail "work() without poll_ms processed a pair of nothing"
[ $(( $(now_ms) - t0 )) -lt 2000 ] || fail "work() without poll_ms waited when nothing was due"
for bad in -1 NULL; do
    q -d bt_poll -c "\set VERBOSITY sqlstate" -c "CALL buildtrace.work(1000, 5, $bad)" > "$work/bad.out" 2>&1 &&
        fail "work() took poll_ms $bad"
    grep -q 22023 "$work/bad.out" || { cat "$work/bad.out"; fail "work() refused poll_ms $bad without 22023"; }
done
t0=$(now_ms)
q -d bt_poll -c "SET application_name = 'bt_polling_worker'" -c "CALL buildtrace.work(1000, 4, 50)" \
    > "$work/poll.out" 2>&1 &
poller=$!
sleep 1
worker_xmin() {   # the waiting worker's horizon, read while it has one
    local x
    for i in $(seq 100); do
        x=$(q -d bt_poll -c "SELECT backend_xmin FROM pg_stat_activity
                             WHERE application_name = 'bt_polling_worker'")
        [ -z "$x" ] || { echo "$x"; return; }
        sleep 0.01
    done
    fail "the waiting worker showed no horizon"
}
xmin_before=$(worker_xmin)
for i in 1 2 3; do q -d bt_poll -c "SELECT txid_current()" >/dev/null; done
t_insert=$(now_ms)
q -d bt_poll -c "SET buildtrace.processing = deferred" \
    -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('polled', '[]', '[]')"
until [ "$(q -d bt_poll -c "SELECT status FROM buildtrace.pairs WHERE drawing_id = 'polled'")" = done ]; do
    [ $(( $(now_ms) - t_insert )) -lt 2000 ] || fail "a waiting worker left a new pair pending for 2 s"
    sleep 0.02
done
took=$(( $(now_ms) - t_insert ))
xmin_after=$(worker_xmin)
[ "$xmin_after" -gt "$xmin_before" ] ||
    fail "a waiting worker held its transaction's horizon ($xmin_before, then $xmin_after)"
q -d bt_poll -c "SET lock_timeout = '1s'" \
    -c "BEGIN; LOCK TABLE buildtrace.pairs IN ACCESS EXCLUSIVE MODE; COMMIT" > "$work/lock.out" 2>&1 ||
    { cat "$work/lock.out"; fail "a waiting worker kept its locks while it waited"; }
kill -0 "$poller" 2>/dev/null || { cat "$work/poll.out"; fail "the waiting worker ended before max_seconds"; }
wait "$poller" || { cat "$work/poll.out"; fail "the waiting worker"; }
[ "$(cat "$work/poll.out")" = 1 ] || { cat "$work/poll.out"; fail "the waiting worker did not count its pair"; }
ran=$(( $(now_ms) - t0 ))
[ "$ran" -ge 3500 ] || fail "the waiting worker returned after $ran ms, before max_seconds"
echo "deferred: a worker with poll_ms 50 processed a pair $took ms after its INSERT, and waited its $ran ms"

# 8. New drawings claimed in opposite orders by two statements at once.
claim() {
    q -d bt_poll -c "SET buildtrace.processing = deferred" \
        -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
            SELECT 'claimed-' || i, '[]', '[]' FROM generate_series(1, 3000) i ORDER BY i $1" \
        > "$work/claim-$1.out" 2>&1
}
claim ASC & ascending=$!
claim DESC & descending=$!
wait "$ascending" || { cat "$work/claim-ASC.out"; fail "claims in ascending order"; }
wait "$descending" || { cat "$work/claim-DESC.out"; fail "claims in descending order"; }
[ "$(q -d bt_poll -c "SELECT count(*) FROM buildtrace.drawing_state WHERE drawing_id LIKE 'claimed-%'")" = 3000 ] ||
    fail "the new drawings of two statements were not claimed once each"
echo "deferred: two statements claimed the same 3,000 new drawings in opposite orders without a deadlock"
for db in bt_inline bt_deferred bt_retry bt_poison bt_poll; do dropdb "$db"; done
q -d postgres -c "DROP ROLE bt_deferred_acme"
