#!/usr/bin/env bash
# Sharding with PL/Proxy: two shard clusters on loopback behind a proxy
# database (sharding/setup.sh). 1,200 pairs of 64 drawings go in through the
# proxy, one call each, and the same pairs straight into one server; then:
#  - none is lost, each drawing's pairs are on exactly one shard, the one
#    hashtext(drawing_id) picks, with the statuses and change sets the single
#    server gave them;
#  - the proxy's metrics() equal the single server's counts, jobs and data
#    quality, and its merged latency sketch is, bit for bit, the sketch of
#    every shard's processing times (so P95/P99 carry the one-server error
#    bound);
#  - changes(), history(), report(), health() and process() answer through
#    the proxy;
#  - with one shard down, its drawings give a clear connection error while
#    the other shard's drawings keep working.
# Runs against the server in the PG* environment (the proxy lives there), or
# standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_install_deps "postgresql-$BT_PG_MAJOR-plproxy"
bt_in_cluster "$0" "$@"
. test/sharding/lib.sh
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "sharding: FAILED: $*"; exit 1; }
work=$(mktemp -d)
hung_pid=""
trap '[ -z "$hung_pid" ] || kill -CONT "$hung_pid" 2>/dev/null; bt_drop_shards; rm -rf "$work"' EXIT

bt_start_shards 2
bt_make_proxy bt_proxy || fail "setup"
dropdb --if-exists bt_single >/dev/null 2>&1
createdb bt_single
q -d bt_single -c "CREATE EXTENSION buildtrace"

load="SELECT drawing_id, version_a, version_b, 'job-' || (pair_no % 4) AS job_id,
             (3 + pair_no % 11)::float8 AS latency_ms, pair_no
      FROM buildtrace.generate_pairs(1200, 20, 0.1, 7, 0.03, drawings => 64)"
q -d bt_proxy -c "SELECT count(buildtrace_proxy.insert_pair(drawing_id, version_a, version_b, job_id, latency_ms))
                  FROM ($load ORDER BY pair_no) g" >/dev/null
q -d bt_single -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, job_id, latency_ms)
                   SELECT drawing_id, version_a, version_b, job_id, latency_ms FROM ($load) g ORDER BY pair_no"

# Routing: every pair arrived, each drawing on one shard, the hashed one.
for i in 0 1; do
    bt_shard_psql "$i" -c "SELECT drawing_id, count(*) FROM buildtrace.pairs GROUP BY 1 ORDER BY 1" > "$work/shard$i"
done
total=$(cat "$work/shard0" "$work/shard1" | awk -F'|' '{s += $2} END {print s}')
[ "$total" = 1200 ] || fail "$total of 1200 pairs on the shards"
both=$(cut -d'|' -f1 "$work/shard0" "$work/shard1" | sort | uniq -d | wc -l)
[ "$both" = 0 ] || fail "$both drawings on both shards"
for i in 0 1; do
    [ -s "$work/shard$i" ] || fail "shard $i got no drawing"
    wrong=$(cut -d'|' -f1 "$work/shard$i" | while read -r d; do
                [ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('$d')")" = "$i" ] || echo "$d"; done | wc -l)
    [ "$wrong" = 0 ] || fail "$wrong drawings on shard $i are not hashed there"
done
echo "sharding: 1200 of 1200 pairs stored; $(wc -l < "$work/shard0") and $(wc -l < "$work/shard1") drawings, each on the shard its hash picks"

# Each pair as on one server: per drawing, in order, the same status and diff.
per_pair="SELECT p.drawing_id, row_number() OVER (PARTITION BY p.drawing_id ORDER BY p.pair_id), p.status, c.diff
          FROM buildtrace.pairs p LEFT JOIN buildtrace.changes c USING (pair_id)"
{ bt_shard_psql 0 -c "$per_pair"; bt_shard_psql 1 -c "$per_pair"; } | sort | md5sum > "$work/sharded.md5"
q -d bt_single -c "$per_pair" | sort | md5sum > "$work/single.md5"
cmp -s "$work/sharded.md5" "$work/single.md5" || fail "statuses or change sets differ from one server's"
echo "sharding: every pair's status and change set equal one server's"

# Merged metrics: counts as on one server; the latency sketch exact.
counts="SELECT m -> 'pairs', m -> 'data_quality_issues',
               (SELECT jsonb_agg(v) FROM jsonb_each(m -> 'hourly_stats') x(k, v)),
               (SELECT jsonb_agg(j - 'processed_at' ORDER BY j ->> 'job_id') FROM jsonb_array_elements(m -> 'jobs') j),
               m -> 'data_quality'"
[ "$(q -d bt_proxy -c "$counts FROM buildtrace_proxy.metrics() m")" = \
  "$(q -d bt_single -c "$counts FROM buildtrace.metrics() m")" ] || fail "merged metrics' counts differ from one server's"
{ bt_shard_psql 0 -c "SELECT processing_us FROM buildtrace.changes"
  bt_shard_psql 1 -c "SELECT processing_us FROM buildtrace.changes"; } > "$work/processing_us"
q -d bt_single -c "CREATE TABLE shard_times (processing_us bigint)"
q -d bt_single -c "\copy shard_times FROM '$work/processing_us'"
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.metrics() ->> 'processing_ms'")" = \
  "$(q -d bt_single -c "SELECT buildtrace.bt_sketch(processing_us / 1000.0::float8)::text FROM shard_times")" ] ||
    fail "the merged latency sketch is not the sketch of every shard's processing times"
echo "sharding: merged metrics count as one server's; the merged latency sketch is exact"

# The rest of the API through the proxy.
d0=$(head -1 "$work/shard0" | cut -d'|' -f1) d1=$(head -1 "$work/shard1" | cut -d'|' -f1)
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.changes('$d1') ->> 'drawing_id'")" = "$d1" ] || fail "changes()"
[ "$(q -d bt_proxy -c "SELECT count(*) FROM buildtrace_proxy.history('$d0')")" = \
  "$(q -d bt_single -c "SELECT count(*) FROM buildtrace.history('$d0')")" ] || fail "history()"
q -d bt_proxy -c "SELECT buildtrace_proxy.report('job-1')" > "$work/report.out"
grep -c '^BuildTrace report for job job-1$' "$work/report.out" | grep -qx 2 &&
    head -1 "$work/report.out" | grep -qx "Job job-1 is on 2 shards; each part below is one shard's, with at most 50 pairs." &&
    ! grep -q 'buildtrace\.report(' "$work/report.out" || fail "report() of a job on both shards"
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.report('job-1', NULL) IS NULL")" = t ] || fail "report(job, NULL)"
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.health() ->> 'shards'")" = 2 ] || fail "health()"
q -d bt_proxy -c "SELECT buildtrace_proxy.process('{\"version_pairs\": [{\"drawing_id\": \"$d0\", \"version_a\": [], \"version_b\": []},
                                                                         {\"drawing_id\": \"$d1\", \"version_a\": [], \"version_b\": []}]}')
                  ->> 'tasks_created'" | grep -qx 2 || fail "process() across shards"
# A request is routed by the drawings it names: one of two drawings cannot be
# sent to either's shard.
if q -d bt_proxy -c "SELECT buildtrace_proxy._process_on('{\"version_pairs\": [{\"drawing_id\": \"$d0\", \"version_a\": [], \"version_b\": []},
                                                                             {\"drawing_id\": \"$d1\", \"version_a\": [], \"version_b\": []}]}')" \
        > "$work/route.out" 2>&1; then
    fail "a request of two drawings was sent to one shard"
fi
grep -q 'a request for one shard must name one drawing' "$work/route.out" || fail "routing error: $(cat "$work/route.out")"
echo "sharding: changes, history, report, health and process answer through the proxy"

# The rest of the API answers as the drawing's shard, or as every shard, does.
# js SQL: SQL over the JSON answers held in $r, $h, $h0, $h1 (as psql variables).
js() { q -d bt_single -v r="${r:-null}" -v h="${h:-null}" -v h0="${h0:-null}" -v h1="${h1:-null}" <<<"$1"; }
p1=$(bt_shard_psql 1 -c "SELECT min(pair_id) FROM buildtrace.pairs WHERE drawing_id = '$d1' AND status = 'done'")
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.changes('$d1', $p1)")" = \
  "$(bt_shard_psql 1 -c "SELECT buildtrace.changes('$d1', $p1)")" ] || fail "changes(drawing, pair_id) of a shard 1 drawing"
for window in "now() + interval '1 hour', NULL" "NULL, now() - interval '1 day'"; do
    [ "$(q -d bt_proxy -c "SELECT count(*) FROM buildtrace_proxy.history('$d0', $window)")" = \
      "$(q -d bt_single -c "SELECT count(*) FROM buildtrace.history('$d0', $window)")" ] || fail "history('$d0', $window)"
done
# The caller's DateStyle, TimeZone and extra_float_digits count as on one
# server: a history window under DateStyle SQL, DMY (as under ISO); a job state's time read
# as the caller reads it (13/04 under DMY, in Tokyo); a latency with every
# digit under extra_float_digits 0.
window="date_trunc('day', now()) - interval '1 day', date_trunc('day', now()) + interval '1 day'"
in_dmy=$(q -d bt_proxy -c "SET datestyle = 'SQL, DMY'" -c "SELECT count(*) FROM buildtrace_proxy.history('$d0', $window)")
[ "$in_dmy" -gt 0 ] && [ "$in_dmy" = "$(q -d bt_proxy -c "SELECT count(*) FROM buildtrace_proxy.history('$d0', $window)")" ] ||
    fail "history('$d0') under DateStyle SQL, DMY: $in_dmy pairs, not as under ISO"
state='{"job_id": "ds-job", "jobs": [{"drawing_id": "DS-1", "objects": [], "timestamp": "13/04/2026 10:00"}]}'
q -d bt_proxy -c "SET datestyle = 'ISO, DMY'" -c "SET timezone = 'Asia/Tokyo'" \
  -c "SELECT buildtrace_proxy.process('$state')" >/dev/null || fail "a job state's time under DMY through the proxy"
q -d bt_single -c "SET datestyle = 'ISO, DMY'" -c "SET timezone = 'Asia/Tokyo'" \
  -c "SELECT buildtrace.process('$state')" >/dev/null || fail "a job state's time under DMY on one server"
q -d bt_proxy -c "SET extra_float_digits = 0" \
  -c "SELECT buildtrace_proxy.insert_pair('FL-1', '[]', '[]', 'fl', 0.12345678901234568)" >/dev/null || fail "insert_pair"
q -d bt_single -c "SELECT buildtrace.process('{\"version_pairs\": [{\"drawing_id\": \"FL-1\", \"version_a\": [], \"version_b\": [], \"latency_ms\": 0.12345678901234568}]}')" >/dev/null ||
    fail "process of a latency on one server"
settled="SELECT (SELECT uploaded_at AT TIME ZONE 'UTC' FROM buildtrace.versions WHERE drawing_id = 'DS-1')
                || ' ' || (SELECT latency_ms FROM buildtrace.pairs WHERE drawing_id = 'FL-1')"
[ "$(bt_shard_psql "$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('DS-1')")" \
       -c "SELECT uploaded_at AT TIME ZONE 'UTC' FROM buildtrace.versions WHERE drawing_id = 'DS-1'") $(
     bt_shard_psql "$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('FL-1')")" \
       -c "SELECT latency_ms FROM buildtrace.pairs WHERE drawing_id = 'FL-1'")" = "$(q -d bt_single -c "$settled")" ] ||
    fail "a job state's time or a latency stored through the proxy differs from one server's"
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.metrics() ->> 'shards'")" = 2 ] || fail "metrics()' shards"
# The latency keys come from the merged sketches: processing time as the
# sketch of every shard's times, reported latency as one server's.
{ bt_shard_psql 0 -c "SELECT processing_us FROM buildtrace.changes"
  bt_shard_psql 1 -c "SELECT processing_us FROM buildtrace.changes"; } > "$work/processing_us"
q -d bt_single -c "TRUNCATE shard_times" -c "\copy shard_times FROM '$work/processing_us'"
latency="'latency_p95', 'latency_p99', 'latency_p95_bounds', 'latency_p99_bounds', 'latency_relative_accuracy',
         'reported_latency_p95', 'reported_latency_p99'"
got=$(q -d bt_proxy -c "SELECT jsonb_agg(m -> k) FROM buildtrace_proxy.metrics() m, unnest(ARRAY[$latency]) k")
want=$(q -d bt_single -c "SELECT jsonb_agg(l -> k)
                        FROM (SELECT buildtrace._latency_fields(buildtrace.bt_sketch(processing_us / 1000.0::float8),
                                                                (SELECT buildtrace.bt_sketch_merge(reported_latency_ms)
                                                                 FROM buildtrace.hourly_rollups)) l
                              FROM shard_times) x, unnest(ARRAY[$latency]) k")
[ "$got" = "$want" ] || fail "metrics()' latency keys $got, not the merged sketches' $want"
# A job's last processing time is its last on any shard, and jobs are listed
# by it: one more pair of job-0 makes it the last.
jd=$(q -d bt_proxy -c "SELECT d FROM generate_series(1, 100) n, LATERAL (SELECT 'LATE-' || n AS d) x
                       WHERE buildtrace_proxy.shard_of(d) = 1 LIMIT 1")
q -d bt_proxy -c "SELECT buildtrace_proxy.insert_pair('$jd', '[]', '[]', 'job-0')" >/dev/null
# A job's latency is its largest on any shard (in the load, every job has
# the same largest latency on both).
q -d bt_proxy -c "SELECT buildtrace_proxy.insert_pair('$d0', '[]', '[]', 'job-lat', 30)" \
              -c "SELECT buildtrace_proxy.insert_pair('$jd', '[]', '[]', 'job-lat', 20)" >/dev/null
[ "$(q -d bt_proxy -c "SELECT j ->> 'latency_ms' FROM jsonb_array_elements(buildtrace_proxy.metrics() -> 'jobs') j
                       WHERE j ->> 'job_id' = 'job-lat'")" = 30 ] || fail "merged jobs: job-lat's latency is not its largest"
s0=$(bt_shard_psql 0 -c "SELECT buildtrace.metrics() -> 'jobs'") s1=$(bt_shard_psql 1 -c "SELECT buildtrace.metrics() -> 'jobs'")
want=$(q -d bt_single -c "SELECT string_agg(job_id || ' ' || at, ', ' ORDER BY at, job_id)
                          FROM (SELECT j ->> 'job_id' AS job_id, max((j ->> 'processed_at')::timestamptz) AS at
                                FROM jsonb_array_elements('$s0'::jsonb || '$s1'::jsonb) j GROUP BY 1) x")
got=$(q -d bt_proxy -c "SELECT string_agg((j ->> 'job_id') || ' ' || (j ->> 'processed_at')::timestamptz, ', ' ORDER BY o)
                        FROM jsonb_array_elements(buildtrace_proxy.metrics() -> 'jobs') WITH ORDINALITY x(j, o)")
[[ "$want" == *", job-0 "* ]] || fail "job-0 is not the last job processed: '$want'"
[ "$got" = "$want" ] || fail "merged jobs: '$got', not '$want'"
# report(job, max_pairs): each part is its shard's report with that limit.
q -d bt_proxy -c "SELECT buildtrace_proxy.report('job-1', 1)" > "$work/report1.out"
head -1 "$work/report1.out" | grep -qx "Job job-1 is on 2 shards; each part below is one shard's, with at most 1 pair." ||
    fail "report(job, 1): $(head -1 "$work/report1.out")"
for i in 0 1; do
    part=$(bt_shard_psql "$i" -c "SELECT replace(buildtrace.report('job-1', 1), 'buildtrace.report(', 'buildtrace_proxy.report(')")
    [[ "$(cat "$work/report1.out")" == *"$part"* ]] || fail "report(job, 1) lacks shard $i's part"
done
# process(): one job_id on every shard, a part's items in the request's
# order, one message per part, in the order of the parts' first items.
job=proxy-split-$$
r=$(q -d bt_proxy -c "SELECT buildtrace_proxy.process('{\"job_id\": \"$job\", \"version_pairs\": [
        {\"drawing_id\": \"$d0\", \"version_a\": [], \"version_b\": [{\"id\": \"first\"}]},
        {\"drawing_id\": \"$d1\", \"version_a\": [], \"version_b\": []},
        {\"drawing_id\": \"$d0\", \"version_a\": [], \"version_b\": [{\"id\": \"second\"}]}]}')") ||
    fail "process() of two pairs of one drawing and one of another"
[ "$(js "SELECT concat_ws(' ', :'r'::jsonb ->> 'tasks_created', cardinality(string_to_array(:'r'::jsonb ->> 'message', '; ')),
                          split_part(:'r'::jsonb ->> 'message', ':', 1))")" = "3 2 Processed 2 pairs" ] ||
    fail "process() of 3 pairs of two drawings (3 tasks, 2 messages, the first drawing's first): $r"
[ "$(bt_shard_psql 0 -c "SELECT string_agg(version_b -> 0 ->> 'id', ',' ORDER BY pair_id) FROM buildtrace.pairs WHERE job_id = '$job'")" = first,second ] ||
    fail "process(): a part's pairs out of the request's order, or not under its job_id"
[ "$(bt_shard_psql 1 -c "SELECT count(*) FROM buildtrace.pairs WHERE job_id = '$job'")" = 1 ] ||
    fail "process(): the other shard's part not under the request's job_id"
# Versions: insert_version() and process() of job states store each version
# on its drawing's shard; a state naming no drawing is drawing "default"'s.
v=$(q -d bt_proxy -c "SELECT string_agg(d, ' ' ORDER BY s) FROM (SELECT DISTINCT ON (s) d, s
        FROM generate_series(1, 100) n, LATERAL (SELECT 'VER-' || n AS d) x, LATERAL (SELECT buildtrace_proxy.shard_of(d) AS s) y
        ORDER BY s, n) z")
read -r v0 v1 <<<"$v"
q -d bt_proxy -c "SELECT buildtrace_proxy.insert_version('$v1', '[{\"id\": \"w\", \"type\": \"wall\", \"x\": 0, \"y\": 0, \"width\": 1, \"height\": 1}]', 'job-ver', 4)" >/dev/null ||
    fail "insert_version()"
[ "$(bt_shard_psql 1 -c "SELECT payload -> 0 ->> 'id', job_id, latency_ms FROM buildtrace.versions WHERE drawing_id = '$v1'")" = "w|job-ver|4" ] ||
    fail "insert_version() did not store the version on its shard"
q -d bt_proxy -c "SELECT buildtrace_proxy.process('{\"job_id\": \"job-states\", \"jobs\": [{\"drawing_id\": \"$v0\", \"objects\": []},
                                                   {\"drawing_id\": \"$v1\", \"objects\": []}, {\"objects\": []}]}')" >/dev/null ||
    fail "process() of job states of three drawings"
for i in 0 1; do
    want=$(q -d bt_proxy -c "SELECT string_agg(d, ',' ORDER BY d) FROM unnest(ARRAY['$v0', '$v1', 'default']) d WHERE buildtrace_proxy.shard_of(d) = $i")
    [ "$(bt_shard_psql "$i" -c "SELECT string_agg(drawing_id, ',' ORDER BY drawing_id) FROM buildtrace.versions WHERE job_id = 'job-states'")" = "$want" ] ||
        fail "process() of job states: shard $i's versions are not of $want"
done
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.report('job-ver') IS NOT NULL")" = t ] || fail "report() of a job of versions only"
# health(): the worst status, every shard's warnings, the summed backlog,
# the 50 newest anomalies first. Shard 0 gets a fresh high anomaly (unhealthy)
# and an older pending pair than shard 1's two; shard 1's anomalies are
# resolved, so that it is not unhealthy too.
bt_shard_psql 1 -c "UPDATE buildtrace.anomalies SET resolved_at = now() WHERE resolved_at IS NULL"
# 30 low anomalies a shard, older than the high one, interleaved in time:
# more than 50 of all, of which the proxy lists the 50 newest.
for i in 0 1; do
    bt_shard_psql "$i" -c "INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, detected_at)
                           SELECT 'change_spike', 'low', '$d0', now() - (2 * n + $i) * interval '1 second'
                           FROM generate_series(1, 30) n"
done
bt_shard_psql 0 -c "INSERT INTO buildtrace.anomalies (kind, severity, drawing_id) VALUES ('change_spike', 'high', '$d0')"
bt_shard_psql 0 -c "SET buildtrace.processing = deferred" \
                -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('$v0', '[]', '[]')"
sleep 2
bt_shard_psql 1 -c "SET buildtrace.processing = deferred" \
                -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('$v1', '[]', '[]'), ('$v1', '[]', '[]')"
h0=$(bt_shard_psql 0 -c "SELECT buildtrace.health()") h1=$(bt_shard_psql 1 -c "SELECT buildtrace.health()")
h=$(q -d bt_proxy -c "SELECT buildtrace_proxy.health()")
[ "$(js "SELECT concat_ws(' ', :'h0'::jsonb ->> 'status', :'h1'::jsonb ->> 'status')")" != "unhealthy unhealthy" ] &&
  [ "$(js "SELECT :'h0'::jsonb ->> 'status'")" = unhealthy ] ||
    fail "health(): shard 0 is not the only unhealthy one: $h0, $h1"
[ "$(js "SELECT :'h'::jsonb ->> 'status'")" = unhealthy ] || fail "health()' status with one shard unhealthy: $h"
[ "$(js "SELECT (SELECT jsonb_agg(w ORDER BY w) FROM jsonb_array_elements_text(:'h'::jsonb -> 'warnings') w)
               = (SELECT jsonb_agg(w ORDER BY w) FROM jsonb_array_elements_text((:'h0'::jsonb -> 'warnings') || (:'h1'::jsonb -> 'warnings')) w)")" = t ] ||
    fail "health()' warnings are not every shard's: $h"
[ "$(js "SELECT :'h'::jsonb -> 'backlog' ->> 'pending'")" = 3 ] || fail "health()' pending backlog is not 1 + 2: $h"
[ "$(js "SELECT (:'h'::jsonb -> 'backlog' ->> 'oldest_age_seconds')::numeric >= (:'h0'::jsonb -> 'backlog' ->> 'oldest_age_seconds')::numeric")" = t ] ||
    fail "health()' oldest pending age is not the oldest shard's: $h"
[ "$(js "SELECT bool_and(at <= coalesce(prev, at)) AND min(type) FILTER (WHERE o = 1) = 'change_spike high'
         FROM (SELECT (a ->> 'detected_at')::timestamptz AS at, lag((a ->> 'detected_at')::timestamptz) OVER (ORDER BY o) AS prev,
                      concat_ws(' ', a ->> 'type', a ->> 'severity') AS type, o
               FROM jsonb_array_elements(:'h'::jsonb -> 'anomalies') WITH ORDINALITY x(a, o)) y")" = t ] ||
    fail "health()' anomalies are not newest first: $h"
[ "$(js "SELECT jsonb_array_length(:'h0'::jsonb -> 'anomalies') + jsonb_array_length(:'h1'::jsonb -> 'anomalies') > 50
               AND (SELECT array_agg((a ->> 'detected_at')::timestamptz ORDER BY o) FROM jsonb_array_elements(:'h'::jsonb -> 'anomalies') WITH ORDINALITY x(a, o))
                 = (SELECT array_agg(at ORDER BY at DESC)
                    FROM (SELECT (a ->> 'detected_at')::timestamptz AS at
                          FROM jsonb_array_elements((:'h0'::jsonb -> 'anomalies') || (:'h1'::jsonb -> 'anomalies')) a
                          ORDER BY 1 DESC LIMIT 50) n)")" = t ] ||
    fail "health()' anomalies are not the 50 newest of more than 50: $h"
# metrics(since) reads each shard's hours in the window only: shard 0's
# hours of one drawing moved three days back drop out of the last 24 hours.
bt_shard_psql 0 -c "UPDATE buildtrace.hourly_rollups SET hour = hour - interval '3 days' WHERE drawing_id = '$d0'"
[ "$(bt_shard_psql 0 -c "SELECT (buildtrace.metrics('4 days') ->> 'pairs')::int > (buildtrace.metrics() ->> 'pairs')::int")" = t ] ||
    fail "shard 0's hours moved back are not outside the window"
want=$(( $(bt_shard_psql 0 -c "SELECT buildtrace.metrics() ->> 'pairs'") + $(bt_shard_psql 1 -c "SELECT buildtrace.metrics() ->> 'pairs'") ))
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.metrics() ->> 'pairs'")" = "$want" ] ||
    fail "metrics() counts pairs outside its window: not the shards' $want"
# A part that names no drawing has no shard either.
q -d bt_proxy -c "SELECT buildtrace_proxy._process_on('{\"version_pairs\": []}')" > "$work/route.out" 2>&1 &&
    fail "a request of no drawing was sent to a shard"
grep -q 'It names 0 drawings' "$work/route.out" || fail "routing a request of no drawing: $(cat "$work/route.out")"
echo "sharding: changes(drawing, pair), history's window, metrics' window, shards, latency and jobs, report's limit, process's parts and job states, insert_version and health merge as the shards answer"

# Trust. Nothing the caller's search_path holds changes where a drawing goes:
# a hashtext that sends everything to partition 1 is searched first.
q -d bt_proxy -c "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'buildtrace_proxy'::regnamespace
                  AND NOT coalesce(p.proconfig @> '{\"search_path=pg_catalog, pg_temp\"}', false)" | grep -qx 0 ||
    fail "a buildtrace_proxy function without a pinned search_path"
n0=$(bt_shard_psql 0 -c "SELECT count(*) FROM buildtrace.pairs WHERE drawing_id = '$d0'")
q -d bt_proxy -c "CREATE SCHEMA evil" \
  -c "CREATE FUNCTION evil.hashtext(text) RETURNS integer LANGUAGE sql RETURN 1" \
  -c "SET search_path = evil, pg_catalog" -c "SELECT buildtrace_proxy.insert_pair('$d0', '[]', '[]')" >/dev/null
[ "$(bt_shard_psql 0 -c "SELECT count(*) FROM buildtrace.pairs WHERE drawing_id = '$d0'")" = $((n0 + 1)) ] ||
    fail "a hashtext in the caller's search_path moved a drawing's pair"
q -d bt_proxy -c "DROP SCHEMA evil CASCADE"
# A connection string with a user or a password is refused: it would make
# every caller that login on the shards, and show the password to every role.
if bash sharding/setup.sh bt_proxy "${BT_SHARD_CONNSTRS[0]} user=postgres" "${BT_SHARD_CONNSTRS[1]}" 2> "$work/setup.err"; then
    fail "setup accepted a connection string with a user"
fi
grep -q "names a user" "$work/setup.err" || fail "setup's refusal: $(cat "$work/setup.err")"
# so is one whose user follows a quoted value with no space between
if bash sharding/setup.sh bt_proxy "${BT_SHARD_CONNSTRS[0]} dbname='shard'user=postgres" \
        "${BT_SHARD_CONNSTRS[1]}" 2> "$work/setup.err"; then
    fail "setup accepted a connection string with a user after a quoted value"
fi
grep -q "names a user" "$work/setup.err" || fail "setup's refusal after a quoted value: $(cat "$work/setup.err")"
# A request is checked whole, as process() checks it on one server, before
# any part is sent: the same error, and nothing stored on any shard.
stored() { for i in 0 1; do bt_shard_psql "$i" -c "SELECT count(*) FROM buildtrace.pairs"; done | awk '{ s += $1 } END { print s }'; }
before=$(stored)
while IFS= read -r request; do
    p=$(q -d bt_proxy -c "SELECT buildtrace_proxy.process('$request')" 2>&1 | grep -E '^(ERROR|DETAIL)' || true)
    s=$(q -d bt_single -c "SELECT buildtrace.process('$request')" 2>&1 | grep -E '^(ERROR|DETAIL)' || true)
    [ -n "$p" ] && [ "$p" = "$s" ] || fail "process($request) through the proxy: '$p', on one server: '$s'"
done <<'REQUESTS'
{}
"hello"
{"version_pairs": {"drawing_id": "X-1"}}
{"version_pairs": [{"drawing_id": "X-1", "version_a": [], "version_b": []}], "jobs": []}
{"storage_path": "gs://b", "version_pairs": [{"drawing_id": "X-1", "version_a": [], "version_b": []}]}
{"job_id": {"a": 1}, "version_pairs": [{"drawing_id": "X-1", "version_a": [], "version_b": []}]}
{"version_pairs": [{"drawing_id": "X-1", "version_a": [], "version_b": []}, {"drawing_id": "Y-1", "version_a": []}]}
{"jobs": [{"drawing_id": "X-1", "objects": []}, {"drawing_id": "", "objects": []}]}
REQUESTS
[ "$(stored)" = "$before" ] || fail "a refused request stored $(( $(stored) - before )) pairs"
q -d bt_proxy -c "SELECT buildtrace_proxy.insert_pair(NULL, '[]', '[]')" > "$work/null.out" 2>&1 &&
    fail "insert_pair without a drawing was accepted"
grep -q 'version pair has no drawing_id' "$work/null.out" || fail "insert_pair without a drawing: $(cat "$work/null.out")"
# Tenants: the shards see the calling role, so each applies its rights and
# its default tenant. One tenant cannot write to or read another's drawing.
for conn in "-d bt_proxy" "-h 127.0.0.1 -p ${BT_SHARD_PORTS[0]} -U postgres -d shard" \
            "-h 127.0.0.1 -p ${BT_SHARD_PORTS[1]} -U postgres -d shard"; do
    # shellcheck disable=SC2086
    psql -qX -v ON_ERROR_STOP=1 $conn -c "
        DO \$\$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shard_acme') THEN
                CREATE ROLE shard_acme NOLOGIN IN ROLE buildtrace_tenant;
                CREATE ROLE shard_acme_ingest LOGIN IN ROLE shard_acme, buildtrace_writer;
                CREATE ROLE shard_globex NOLOGIN IN ROLE buildtrace_tenant;
                CREATE ROLE shard_globex_ingest LOGIN IN ROLE shard_globex, buildtrace_writer;
                CREATE ROLE shard_globex_dash LOGIN IN ROLE shard_globex, buildtrace_reader;
                ALTER ROLE shard_acme_ingest SET buildtrace.tenant = 'shard_acme';
                ALTER ROLE shard_globex_ingest SET buildtrace.tenant = 'shard_globex';
                ALTER ROLE shard_globex_dash SET buildtrace.tenant = 'shard_globex';
                -- a service acting for both, with no default
                CREATE ROLE shard_both_service LOGIN IN ROLE shard_acme, shard_globex,
                                                              buildtrace_writer, buildtrace_reader;
            END IF;
        END \$\$" >/dev/null || fail "tenant roles"
done
as_role() { local role=$1; shift; q -d bt_proxy -c "SET ROLE $role" "$@"; }
as_role shard_acme_ingest -c "SELECT buildtrace_proxy.insert_pair('T-ACME-1', '[]', '[{\"id\": \"a\"}]')" >/dev/null ||
    fail "a tenant's writer through the proxy"
t=$(shard=$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('T-ACME-1')"); bt_shard_psql "$shard" -c "SELECT tenant FROM buildtrace.pairs WHERE drawing_id = 'T-ACME-1'")
[ "$t" = shard_acme ] || fail "the pair was stored for tenant '$t', not the caller's"
as_role shard_globex_ingest -c "SELECT buildtrace_proxy.insert_pair('T-ACME-1', '[]', '[]')" > "$work/tenant.out" 2>&1 &&
    fail "another tenant's writer wrote into the drawing"
grep -q 'belongs to another tenant' "$work/tenant.out" || fail "tenant refusal: $(cat "$work/tenant.out")"
as_role shard_globex_dash -c "SELECT buildtrace_proxy.changes('T-ACME-1')" > "$work/tenant.out" 2>&1 &&
    fail "another tenant's reader read the drawing"
grep -q 'unknown drawing' "$work/tenant.out" || fail "tenant reader refusal: $(cat "$work/tenant.out")"
# Acting for a tenant, job states must name their drawing ("default" would
# be the first tenant's): checked before any part is sent, as on one
# server, and nothing stored.
versions() { for i in 0 1; do bt_shard_psql "$i" -c "SELECT count(*) FROM buildtrace.versions"; done | awk '{ s += $1 } END { print s }'; }
vbefore=$(versions)
as_role shard_acme_ingest -c "SELECT buildtrace_proxy.process('{\"jobs\": [{\"drawing_id\": \"T-ACME-1\", \"objects\": []}, {\"objects\": []}]}')" \
    > "$work/tenant.out" 2>&1 && fail "a tenant's job state without a drawing was accepted through the proxy"
grep -q 'job state must name its drawing when acting for a tenant' "$work/tenant.out" ||
    fail "a tenant's job state without a drawing: $(cat "$work/tenant.out")"
[ "$(versions)" = "$vbefore" ] || fail "a refused request of job states stored versions"
# A session's tenant reaches the shards, call by call: a service of both
# tenants, with no default, acts for the one it SETs on the proxy, and for
# none once it RESETs it (the shard's connection keeps nothing between calls).
both() { q -d bt_proxy -c "SET ROLE shard_both_service" "$@"; }
both -c "SET buildtrace.tenant = 'shard_globex'" \
     -c "SELECT buildtrace_proxy.insert_pair('T-GLOBEX-1', '[]', '[{\"id\": \"g\", \"type\": \"door\", \"x\": 1, \"y\": 2, \"width\": 1, \"height\": 2}]', 'job-globex')" \
     -c "RESET buildtrace.tenant" -c "SELECT buildtrace_proxy.insert_pair('T-GLOBEX-2', '[]', '[]')" \
     > "$work/tenant.out" 2>&1 && fail "a service of two tenants wrote with no tenant set"
grep -q 'buildtrace.tenant is not set' "$work/tenant.out" || fail "no tenant after RESET: $(cat "$work/tenant.out")"
t=$(shard=$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('T-GLOBEX-1')"); bt_shard_psql "$shard" -c "SELECT string_agg(drawing_id || ':' || tenant, ',') FROM buildtrace.pairs WHERE drawing_id LIKE 'T-GLOBEX-%'")
[ "$t" = T-GLOBEX-1:shard_globex ] || fail "the session's tenant on the shard: '$t'"
# Every kind of call acts as the session's tenant, policies included (the
# tenant is set on the shard before any policy check runs there).
as_tenant() { both -c "SET buildtrace.tenant = '$1'" -c "$2"; }
r=$(as_tenant shard_globex "SELECT concat_ws(' ', buildtrace_proxy.metrics('1 hour') ->> 'pairs',
                                             buildtrace_proxy.metrics('1 hour') ->> 'data_quality_issues',
                                             (SELECT count(*) FROM buildtrace_proxy.history('T-GLOBEX-1')),
                                             buildtrace_proxy.changes('T-GLOBEX-1') ->> 'drawing_id',
                                             split_part(buildtrace_proxy.report('job-globex'), ';', 1),
                                             buildtrace_proxy.health() ->> 'shards')") ||
    fail "the session's tenant through the proxy's read functions"
[ "$r" = "1 0 1 T-GLOBEX-1 Job job-globex is on 1 shard 2" ] || fail "as shard_globex: '$r'"
# So do changes(drawing, pair_id), insert_version() and process().
gs=$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('T-GLOBEX-1')")
gp=$(bt_shard_psql "$gs" -c "SELECT pair_id FROM buildtrace.pairs WHERE drawing_id = 'T-GLOBEX-1'")
[ "$(as_tenant shard_globex "SELECT buildtrace_proxy.changes('T-GLOBEX-1', $gp) ->> 'pair_id'")" = "$gp" ] ||
    fail "changes(drawing, pair_id) as the session's tenant"
as_tenant shard_globex "SELECT buildtrace_proxy.insert_version('T-GLOBEX-V', '[]')" >/dev/null ||
    fail "insert_version() as the session's tenant"
gs=$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('T-GLOBEX-V')")
[ "$(bt_shard_psql "$gs" -c "SELECT string_agg(tenant, ',') FROM buildtrace.versions WHERE drawing_id = 'T-GLOBEX-V'")" = shard_globex ] ||
    fail "insert_version() did not store the version for the session's tenant"
as_tenant shard_globex "SELECT buildtrace_proxy.process('{\"version_pairs\": [{\"drawing_id\": \"T-GLOBEX-P\", \"version_a\": [], \"version_b\": []}]}')" \
    >/dev/null || fail "process() as the session's tenant"
gs=$(q -d bt_proxy -c "SELECT buildtrace_proxy.shard_of('T-GLOBEX-P')")
[ "$(bt_shard_psql "$gs" -c "SELECT string_agg(tenant, ',') FROM buildtrace.pairs WHERE drawing_id = 'T-GLOBEX-P'")" = shard_globex ] ||
    fail "process() did not store the pair for the session's tenant"
# (acme's one pair, T-ACME-1, failed: its object lacks the required keys)
r=$(as_tenant shard_acme "SELECT concat_ws(' ', buildtrace_proxy.metrics('1 hour') ->> 'pairs',
                                           buildtrace_proxy.metrics('1 hour') ->> 'data_quality_issues',
                                           (SELECT count(*) FROM buildtrace_proxy.history('T-GLOBEX-1')))") ||
    fail "another tenant's session through the proxy's read functions"
[ "$r" = "0 1 0" ] || fail "as shard_acme: '$r'"
as_tenant shard_acme "SELECT buildtrace_proxy.changes('T-GLOBEX-1')" > "$work/tenant.out" 2>&1 &&
    fail "another tenant's session read the drawing"
grep -q 'unknown drawing' "$work/tenant.out" || fail "tenant session refusal: $(cat "$work/tenant.out")"
as_tenant shard_acme "SELECT buildtrace_proxy.report('job-globex')" > "$work/tenant.out" 2>&1 &&
    fail "another tenant's session read the job"
grep -q 'unknown job' "$work/tenant.out" || fail "tenant session job refusal: $(cat "$work/tenant.out")"
as_tenant shard_acme "SELECT buildtrace_proxy.insert_pair('T-ACME-3', '[]', '[]', tenant => 'shard_initech')" \
    > "$work/tenant.out" 2>&1 && fail "a call for a tenant the role is not a member of"
grep -q 'tenant "shard_initech" does not exist' "$work/tenant.out" || fail "unknown tenant: $(cat "$work/tenant.out")"
# The proxy database's own tables take no writes: they would reach no shard.
as_role shard_acme_ingest -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('T-ACME-2', '[]', '[]')" \
    > "$work/tenant.out" 2>&1 && fail "a write into the proxy database's pairs"
grep -q 'permission denied for table pairs' "$work/tenant.out" || fail "proxy table refusal: $(cat "$work/tenant.out")"
# setup.sh run again changes the server in place: a user mapping made for
# a role (say with its password) stays, and the proxy still routes.
q -d bt_proxy -c "CREATE USER MAPPING FOR shard_acme_ingest SERVER buildtrace_shards"
bash sharding/setup.sh bt_proxy "${BT_SHARD_CONNSTRS[@]}" >/dev/null || fail "setup run again"
[ "$(q -d bt_proxy -c "SELECT count(*) FROM pg_user_mappings WHERE srvname = 'buildtrace_shards'")" = 2 ] ||
    fail "setup run again dropped user mappings"
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.changes('T-GLOBEX-1') ->> 'drawing_id'")" = T-GLOBEX-1 ] ||
    fail "the proxy after setup run again"
q -d bt_proxy -c "DROP USER MAPPING FOR shard_acme_ingest SERVER buildtrace_shards"
q -d bt_proxy -c "SELECT count(*) FROM jsonb_array_elements(buildtrace_proxy.health() -> 'anomalies') a" |
    awk '$1 > 50 { exit 1 }' || fail "health() lists more than 50 anomalies"
for r in shard_both_service shard_globex_dash shard_globex_ingest shard_globex shard_acme_ingest shard_acme; do
    q -d bt_proxy -c "DROP OWNED BY $r" -c "DROP ROLE $r" >/dev/null 2>&1 || true
done
echo "sharding: routing ignores the caller's search_path; setup refuses logins in connection strings; bad requests fail whole, as on one server; each shard applies the caller's role and tenant, a session's SET tenant included; the proxy's tables take no writes"

# One shard down: its drawings fail clearly, the other shard's work.
bt_stop_shard 1
if q -d bt_proxy -c "SELECT buildtrace_proxy.changes('$d1')" > "$work/down.out" 2>&1; then
    fail "a drawing of a stopped shard answered"
fi
grep -qi "connect" "$work/down.out" || { cat "$work/down.out"; fail "no clear error for a stopped shard"; }
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.changes('$d0') ->> 'drawing_id'")" = "$d0" ] ||
    fail "the live shard's drawing did not answer"
q -d bt_proxy -c "SELECT buildtrace_proxy.insert_pair('$d0', '[]', '[]')" >/dev/null ||
    fail "insert into the live shard"
bt_start_shard 1
[ "$(q -d bt_proxy -c "SELECT buildtrace_proxy.changes('$d1') ->> 'drawing_id'")" = "$d1" ] ||
    fail "the restarted shard did not answer"
echo "sharding: with a shard down, its drawings fail with \"$(head -1 "$work/down.out" | sed 's/^ERROR: *//' | cut -c1-110)\", the others work"

# A shard whose host does not answer: its postmaster stopped (SIGSTOP), so
# connections are accepted by the kernel and then hang. PL/Proxy connects
# asynchronously and ignores libpq's connect_timeout; the caller's
# statement_timeout ends the call.
hung_pid=$(head -1 "$(pg_lsclusters -h | awk -v c="$(bt_shard_name 1)" '$2 == c {print $6}')/postmaster.pid")
kill -STOP "$hung_pid"
start=$(date +%s)
q -d bt_proxy -c "SET statement_timeout = '2s'" -c "SELECT buildtrace_proxy.changes('$d1')" > "$work/hung.out" 2>&1 &&
    fail "a drawing of a hung shard answered"
took=$(( $(date +%s) - start ))
kill -CONT "$hung_pid"; hung_pid=""
grep -q 'canceling statement due to statement timeout' "$work/hung.out" || fail "hung shard: $(cat "$work/hung.out")"
(( took <= 10 )) || fail "a call to a hung shard took ${took} s with statement_timeout 2 s"
echo "sharding: a call to a hung shard ends at the caller's statement_timeout (${took} s for 2 s)"
for db in bt_proxy bt_single; do dropdb "$db"; done
