#!/usr/bin/env bash
# Benchmark of one pair per INSERT, as an ingestion service sends them:
# pgbench, autocommit, the extended protocol (each INSERT parses its JSON
# text, as with a parameter), 1 and 2 clients, into (a) a plain table with
# the same columns and indexes as buildtrace.pairs, (b) buildtrace.pairs, (c)
# the PL/pgSQL peer (test/bench/peer.sql), (d) buildtrace.pairs as a
# tenant's writer, under row-level security (the others run as a superuser,
# whom no policy binds), (e) buildtrace.pairs with buildtrace.processing
# = deferred (stored pending, for buildtrace.work()), and (f) the same with
# a worker processing them as they come (CALL work() waiting with poll_ms 10,
# on the same two cores; the run waits for the backlog to drain, and the
# seconds it took after pgbench ended are printed), and (g) buildtrace.pairs
# with buildtrace.store_directly = off: every one-pair result stored by the
# SQL store function, _pairs_store_one, as before the direct store. Pairs: 100 objects with 30 %
# moved, the same 100 objects twice, and an empty pair. Each (variant, pair,
# clients) runs ROUNDS times for SECONDS, interleaved; medians of the average
# latency are printed with the ratios. The first three variants run again
# with durable commits (fsync = on; the throwaway cluster otherwise runs
# without, which makes every commit almost free), and (g) with them. Before
# them, one client, where a one-pair INSERT's time goes in the SQL store:
# the pipeline with _pairs_store_one cut short a part at a time against the
# plain insert. After them, one client:
# INSERTs of one pair and of two pairs into a database of few drawings and
# into one that already holds 100,000 drawings and 20,000 open anomalies,
# interleaved; the ratio says whether an INSERT's cost grows with what is
# stored. Not part of the pass/fail suite; BT_INSERT_SMOKE=1
# (test/bench/smoke.sh) runs each once for one second with one client and
# checks the rows arrived and were processed, timing nothing.
#
#   bash test/bench/insert_bench.sh [SECONDS [ROUNDS]]    default 5 3
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
bt_keep_freed_memory
seconds=${1:-5}
rounds=${2:-3}
clients="1 2"
[ -z "${BT_INSERT_SMOKE:-}" ] || { seconds=1; rounds=1; clients=1; }
db=buildtrace_insert_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
# Variant (f) runs in a database of its own, so that its worker processes
# its pairs only, not the backlog variant (e) leaves.
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db-worker"
createdb "$db-worker"
q -d "$db-worker" -c "CREATE EXTENSION buildtrace"
q <<'SQL'
CREATE EXTENSION buildtrace;
CREATE SCHEMA bench;
CREATE TABLE bench.plain (LIKE buildtrace.pairs INCLUDING ALL);
\ir test/bench/peer.sql
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_bench_tenant_writer;
DROP ROLE IF EXISTS bt_bench_tenant;
CREATE ROLE bt_bench_tenant NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE bt_bench_tenant_writer NOLOGIN IN ROLE bt_bench_tenant, buildtrace_writer;
SQL

# The pairs as JSON text: 100 objects, then the same with 30 % moved.
bt_bench_moved_pair "$db" "$work"

declare -A pair_a pair_b
pair_a[moved]=$(cat "$work/a.json"); pair_b[moved]=$(cat "$work/b.json")
pair_a[same]=$(cat "$work/a.json"); pair_b[same]=$(cat "$work/a.json")
pair_a[empty]='[]'; pair_b[empty]='[]'
declare -A target=([plain]=bench.plain [pipeline]=buildtrace.pairs [peer]=bench.peer_pairs
                   [tenant]=buildtrace.pairs [deferred]=buildtrace.pairs [worker]=buildtrace.pairs
                   [sqlstore]=buildtrace.pairs)
# The tenant's writer: its role and tenant set at connection, as a pooler's
# login would have them.
declare -A options=([tenant]="-c role=bt_bench_tenant_writer -c buildtrace.tenant=bt_bench_tenant"
                    [deferred]="-c buildtrace.processing=deferred"
                    [worker]="-c buildtrace.processing=deferred"
                    [sqlstore]="-c buildtrace.store_directly=off")
variants="plain pipeline peer tenant deferred worker sqlstore"

for v in $variants; do
    # a drawing is of one tenant: the tenant's writer has drawings of its own
    prefix=drawing-; [ "$v" != tenant ] || prefix=tenant-drawing-
    [ "$v" != deferred ] || prefix=deferred-drawing-
    [ "$v" != worker ] || prefix=worker-drawing-
    for p in moved same empty; do
        printf '\\set d random(1, 500)\nINSERT INTO %s (drawing_id, version_a, version_b) VALUES (%s, %s, %s);\n' \
            "${target[$v]}" "'$prefix' || :d" "'${pair_a[$p]}'" "'${pair_b[$p]}'" > "$work/$v-$p.sql"
    done
done

q -c "CREATE TABLE bench.timing (variant text, pair text, clients int, round int, latency_ms float8, tps float8)"
q -c "CREATE TABLE bench.drain (pair text, clients int, round int, seconds float8)"
# timed DATABASE SCRIPT CLIENTS VARIANT PAIR ROUND [PGOPTIONS]: one pgbench
# run with those options, after a CHECKPOINT (the WAL of the run before is
# written out first, not during this one), its average latency and tps kept
# in bench.timing.
timed() {
    q -d "$1" -c "CHECKPOINT"
    PGOPTIONS="${7:-}" pgbench -n -M extended -c "$3" -j "$3" -T "$seconds" -f "$2" "$1" > "$work/out" 2>&1 ||
        { cat "$work/out"; echo "pgbench failed"; exit 1; }
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$work/out")
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/out")
    q -c "INSERT INTO bench.timing VALUES ('$4', '$5', $3, $6, $lat, $tps)"
}
# Where a one-pair INSERT's time goes in the SQL store (the direct store
# off): one client, the pipeline with its store step (_pairs_store_one)
# cut short a part at a time (no rollup
# upsert, then no drawing_state update, then no drawing lock, then nothing
# after taking the hand-over: no changes row), against the plain insert.
# Each cut edits the installed function's text and stops if its part is
# gone, so a changed store step cannot be measured as a cut it no longer
# has. It runs first, and its rows are truncated afterwards, so the runs
# below start from empty tables.
q <<'SQL'
CREATE TABLE bench.store_source AS
SELECT pg_get_functiondef('buildtrace._pairs_store_one()'::regprocedure) AS src;
-- The steps in the order of their cuts: each drops what "adds" names,
-- replacing it by "put".
CREATE TABLE bench.store_cut (ord int PRIMARY KEY, step text UNIQUE, cut text, put text, adds text);
INSERT INTO bench.store_cut VALUES
    (1, 'full', NULL, NULL, '+ the rollup upsert'),
    (2, 'no-rollup', 'PERFORM buildtrace\._add_rollups\(.*?\]\);', '', '+ the drawing_state update'),
    (3, 'no-state', 'UPDATE buildtrace\.drawing_state s.*?WHERE s\.drawing_id = pr\.drawing_id;', '',
     '+ the drawing lock'),
    (4, 'no-lock', 'prev := buildtrace\._lock_drawing\([^;]*\);',
     'SELECT NULL::bigint AS last_pair_id, NULL::integer AS last_total INTO prev;', '+ the changes row'),
    (5, 'hand-over-only', '(_pairs_take_results\(\);).*(\n    RETURN 1;)', '\1\2',
     'the row trigger, diff and hand-over');
-- Installs _pairs_store_one cut short to the named step.
CREATE FUNCTION bench.store_step(step text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src text := (SELECT s.src FROM bench.store_source s);
    shorter text;
    c record;
BEGIN
    IF NOT EXISTS (SELECT FROM bench.store_cut k WHERE k.step = store_step.step) THEN
        RAISE EXCEPTION 'insert_bench: no store step "%"', step;
    END IF;
    FOR c IN SELECT k.* FROM bench.store_cut k
             WHERE k.cut IS NOT NULL
               AND k.ord <= (SELECT t.ord FROM bench.store_cut t WHERE t.step = store_step.step)
             ORDER BY k.ord LOOP
        shorter := regexp_replace(src, c.cut, c.put);
        IF shorter = src THEN
            RAISE EXCEPTION 'insert_bench: _pairs_store_one has no part left for the cut "%"', c.step;
        END IF;
        src := shorter;
    END LOOP;
    EXECUTE src;
END
$$;
SQL
# The worker of variant (f), started before the run (bt_start_waiting_worker);
# after it, the wait for the backlog to drain is recorded and the worker is
# stopped.
drain_and_stop_worker() {   # pair clients round
    local t0 pending
    t0=$(date +%s%3N)
    while pending=$(q -d "$db-worker" -c "SELECT count(*) FROM buildtrace.pairs WHERE status = 'pending'") &&
          [ "$pending" != 0 ]; do
        [ $(( $(date +%s%3N) - t0 )) -lt 300000 ] ||
            { echo "insert_bench: FAILED: the worker left $pending pairs pending 300 s after the run"; exit 1; }
        sleep 0.05
    done
    q -c "INSERT INTO bench.drain VALUES ('$1', $2, $3, $(( $(date +%s%3N) - t0 )) / 1000.0)"
    bt_stop_waiting_worker "$db-worker"
}
step_pairs="moved empty"; [ -z "${BT_INSERT_SMOKE:-}" ] || step_pairs=empty
for r in $(seq 1 "$rounds"); do
    for p in $step_pairs; do
        timed "$db" "$work/plain-$p.sql" 1 step-plain "$p" "$r"
        for s in $(q -c "SELECT step FROM bench.store_cut ORDER BY ord"); do
            q -c "SELECT bench.store_step('$s')" >/dev/null
            timed "$db" "$work/pipeline-$p.sql" 1 "step-$s" "$p" "$r" "${options[sqlstore]}"
        done
    done
done
q -c "SELECT bench.store_step('full')" >/dev/null
# All done; the cuts took effect: pairs of the last step have no changes
# row, and pairs of three steps are missing from the rollups.
q -c "SELECT CASE WHEN count(*) > 0 AND count(*) FILTER (WHERE status = 'done') = count(*)
                       AND (SELECT count(*) FROM buildtrace.changes) < count(*)
                       AND (SELECT sum(pairs) FROM buildtrace.hourly_rollups)
                           < (SELECT count(*) FROM buildtrace.changes)
                  THEN 'insert_bench: ' || count(*) || ' pairs inserted with the store step cut short, all done, '
                       || (SELECT count(*) FROM buildtrace.changes) || ' with changes rows, '
                       || (SELECT sum(pairs) FROM buildtrace.hourly_rollups) || ' in the rollups'
                  ELSE 'insert_bench: FAILED: the store step cut short: pairs not done, or a cut without effect' END
      FROM buildtrace.pairs" | tee "$work/step_checks"
! grep -q FAILED "$work/step_checks" || exit 1
q -c "TRUNCATE buildtrace.pairs, buildtrace.changes, buildtrace.drawing_state, buildtrace.hourly_rollups,
               buildtrace.anomalies, bench.plain"

for r in $(seq 1 "$rounds"); do
    for c in $clients; do
        for p in moved same empty; do
            for v in $variants; do
                if [ "$v" = worker ]; then
                    bt_start_waiting_worker "$db-worker" 10
                    timed "$db-worker" "$work/$v-$p.sql" "$c" "$v" "$p" "$r" "${options[$v]}"
                    drain_and_stop_worker "$p" "$c" "$r"
                else
                    timed "$db" "$work/$v-$p.sql" "$c" "$v" "$p" "$r" "${options[$v]:-}"
                fi
            done
        done
    done
done

# Durable commits: the throwaway cluster runs with fsync = off, which makes
# every commit almost free; a production server flushes its WAL to disk at
# each commit, which a plain INSERT pays as well.  The same INSERTs (plain,
# pipeline, peer) with fsync = on, which a reload turns on.
if [ -z "${BT_INSERT_SMOKE:-}" ]; then
    q -c "ALTER SYSTEM SET fsync = on" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    [ "$(q -c "SHOW fsync")" = on ] || { echo "insert_bench: could not turn fsync on"; exit 1; }
    for r in $(seq 1 "$rounds"); do
        for c in $clients; do
            for p in moved empty; do
                for v in plain pipeline peer sqlstore; do
                    timed "$db" "$work/$v-$p.sql" "$c" "durable-$v" "$p" "$r" "${options[$v]:-}"
                done
            done
        done
    done
    q -c "ALTER SYSTEM RESET fsync" -c "SELECT pg_reload_conf()" >/dev/null
fi

# Few drawings or many: the same INSERTs into two databases, one of which
# holds 100,000 other drawings and 20,000 open anomalies.
for d in few many; do
    PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db-$d"
    createdb "$db-$d"
    q -d "$db-$d" -c "CREATE EXTENSION buildtrace"
done
q -d "$db-many" <<'SQL'
INSERT INTO buildtrace.drawing_state (drawing_id, last_pair_id, last_total)
SELECT 'stored-' || i, NULL, i % 50 FROM generate_series(1, 100000) i;
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details)
SELECT 'missing_upload', 'medium', 'stored-' || i, '{}' FROM generate_series(1, 20000) i;
ANALYZE;
SQL
for p in moved empty; do
    printf '\\set d random(1, 500)\nINSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES (%s, %s, %s), (%s, %s, %s);\n' \
        "'drawing-' || :d" "'${pair_a[$p]}'" "'${pair_b[$p]}'" "'other-' || :d" "'${pair_a[$p]}'" "'${pair_b[$p]}'" > "$work/two-$p.sql"
done
scale_rounds=$rounds; [ -z "${BT_INSERT_SMOKE:-}" ] || scale_rounds=1
for r in $(seq 1 "$scale_rounds"); do
    for p in moved empty; do
        for shape in one two; do
            script=$work/pipeline-$p.sql; [ "$shape" = one ] || script=$work/two-$p.sql
            for d in few many; do
                timed "$db-$d" "$script" 1 "$shape-$d" "$p" "$r"
            done
        done
    done
done
for d in few many; do
    q -d "$db-$d" -c "SELECT CASE WHEN count(*) > 0 AND count(*) FILTER (WHERE status = 'done') = count(*)
                                   AND count(*) = (SELECT count(*) FROM buildtrace.changes)
                              THEN 'insert_bench: ' || count(*) || ' pairs among $d drawings, all done with their changes'
                              ELSE 'insert_bench: FAILED: pairs among $d drawings not all processed' END
                       FROM buildtrace.pairs"
done | tee "$work/scale_checks"
! grep -q FAILED "$work/scale_checks" || exit 1
for d in few many; do PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db-$d"; done

# Every pipeline pair was processed (done, a change row each).
q > "$work/checks" <<'SQL'
SELECT CASE WHEN count(*) FILTER (WHERE status <> 'done' AND drawing_id NOT LIKE 'deferred-%') = 0
             AND count(*) FILTER (WHERE status <> 'pending' AND drawing_id LIKE 'deferred-%') = 0
             AND count(*) FILTER (WHERE drawing_id LIKE 'deferred-%') > 0
             AND count(*) FILTER (WHERE status = 'done') = (SELECT count(*) FROM buildtrace.changes)
             AND count(*) FILTER (WHERE tenant = '') > 0
             AND count(*) FILTER (WHERE tenant = 'bt_bench_tenant') > 0
             AND NOT EXISTS (SELECT 1 FROM buildtrace.changes c JOIN buildtrace.pairs p USING (pair_id)
                             WHERE c.tenant <> p.tenant)
            THEN format('insert_bench: %s pipeline pairs inserted (%s as a tenant''s writer, %s deferred and pending), the others all done with their changes',
                        count(*), count(*) FILTER (WHERE tenant = 'bt_bench_tenant'),
                        count(*) FILTER (WHERE drawing_id LIKE 'deferred-%'))
            ELSE 'insert_bench: FAILED: pipeline pairs not all processed' END
FROM buildtrace.pairs;
SELECT CASE WHEN (SELECT count(*) FROM bench.peer_pairs) = (SELECT count(*) FROM bench.peer_changes)
            THEN 'insert_bench: every peer pair has its change row'
            ELSE 'insert_bench: FAILED: peer pairs without change rows' END;
SQL
q -d "$db-worker" >> "$work/checks" <<'SQL'
SELECT CASE WHEN count(*) > 0 AND count(*) FILTER (WHERE status = 'done') = count(*)
             AND count(*) = (SELECT count(*) FROM buildtrace.changes)
            THEN format('insert_bench: %s pairs inserted deferred and processed by a waiting worker meanwhile, all done with their changes', count(*))
            ELSE 'insert_bench: FAILED: pairs inserted deferred not all processed by the waiting worker' END
FROM buildtrace.pairs;
SQL
cat "$work/checks"
! grep -q FAILED "$work/checks" || exit 1
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db-worker"
if [ -n "${BT_INSERT_SMOKE:-}" ]; then
    PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
    psql -qX -d postgres -c "DROP ROLE bt_bench_tenant_writer" -c "DROP ROLE bt_bench_tenant"
    exit 0
fi

echo
echo "Average latency per INSERT (ms), median of $rounds rounds of $seconds s; pairs/s with it."
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, pair, clients, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS ms,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps
           FROM bench.timing GROUP BY 1, 2, 3)
SELECT p.pair, p.clients,
       round(a.ms::numeric, 3) AS plain_ms, round(p.ms::numeric, 3) AS pipeline_ms, round(c.ms::numeric, 3) AS peer_ms,
       round(t.ms::numeric, 3) AS tenant_ms, round(d.ms::numeric, 3) AS deferred_ms,
       round(w.ms::numeric, 3) AS worker_ms, round(s.ms::numeric, 3) AS sqlstore_ms,
       round(a.tps::numeric) AS plain_per_s, round(p.tps::numeric) AS pipeline_per_s, round(c.tps::numeric) AS peer_per_s,
       round((p.ms / a.ms)::numeric, 2) AS "pipeline x plain",
       round((c.ms / p.ms)::numeric, 2) AS "peer / pipeline",
       round((t.ms / p.ms)::numeric, 2) AS "tenant x pipeline",
       round((d.ms / a.ms)::numeric, 2) AS "deferred x plain",
       round((w.ms / a.ms)::numeric, 2) AS "worker x plain",
       round((s.ms / p.ms)::numeric, 2) AS "sqlstore / pipeline",
       (SELECT round(max(r.seconds)::numeric, 2) FROM bench.drain r
        WHERE r.pair = p.pair AND r.clients = p.clients) AS "drained after, s (max)"
FROM m p JOIN m a ON a.pair = p.pair AND a.clients = p.clients AND a.variant = 'plain'
         JOIN m c ON c.pair = p.pair AND c.clients = p.clients AND c.variant = 'peer'
         JOIN m t ON t.pair = p.pair AND t.clients = p.clients AND t.variant = 'tenant'
         JOIN m d ON d.pair = p.pair AND d.clients = p.clients AND d.variant = 'deferred'
         JOIN m w ON w.pair = p.pair AND w.clients = p.clients AND w.variant = 'worker'
         JOIN m s ON s.pair = p.pair AND s.clients = p.clients AND s.variant = 'sqlstore'
WHERE p.variant = 'pipeline'
ORDER BY p.pair DESC, p.clients;
SQL
echo 'Targets: empty pair <= 1.5x plain; 100-object pair (moved) <= 1.4x plain and peer / pipeline >= 1.5.'
echo
echo "The same with durable commits (fsync = on, as in production): average latency per INSERT (ms), median of $rounds rounds."
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, pair, clients, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS ms
           FROM bench.timing WHERE variant LIKE 'durable-%' GROUP BY 1, 2, 3)
SELECT p.pair, p.clients,
       round(a.ms::numeric, 3) AS plain_ms, round(p.ms::numeric, 3) AS pipeline_ms, round(c.ms::numeric, 3) AS peer_ms,
       round(s.ms::numeric, 3) AS sqlstore_ms,
       round((p.ms / a.ms)::numeric, 2) AS "pipeline x plain",
       round((c.ms / p.ms)::numeric, 2) AS "peer / pipeline",
       round((s.ms / p.ms)::numeric, 2) AS "sqlstore / pipeline"
FROM m p JOIN m a ON a.pair = p.pair AND a.clients = p.clients AND a.variant = 'durable-plain'
         JOIN m c ON c.pair = p.pair AND c.clients = p.clients AND c.variant = 'durable-peer'
         JOIN m s ON s.pair = p.pair AND s.clients = p.clients AND s.variant = 'durable-sqlstore'
WHERE p.variant = 'durable-pipeline'
ORDER BY p.pair DESC, p.clients;
SQL
echo
echo "Where a one-pair INSERT's time goes in the SQL store (buildtrace.store_directly off; one client, fsync off): average latency (ms), median of $rounds rounds, with _pairs_store_one cut short a part at a time."
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, pair, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS ms
           FROM bench.timing WHERE variant LIKE 'step-%' GROUP BY 1, 2)
SELECT m.pair, k.step, k.adds, round(m.ms::numeric, 3) AS ms,
       round((m.ms - coalesce(lag(m.ms) OVER w, a.ms))::numeric * 1000) AS "adds us",
       round((m.ms / a.ms)::numeric, 2) AS "x plain"
FROM m JOIN bench.store_cut k ON m.variant = 'step-' || k.step
       JOIN m a ON a.pair = m.pair AND a.variant = 'step-plain'
WINDOW w AS (PARTITION BY m.pair ORDER BY k.ord DESC)
ORDER BY m.pair DESC, k.ord DESC;
SQL
echo
echo "Average latency per INSERT (ms) of one or two pairs, one client, among few drawings and among 100,000 (with 20,000 open anomalies)."
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, pair, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS ms
           FROM bench.timing WHERE variant LIKE 'one-%' OR variant LIKE 'two-%' GROUP BY 1, 2)
SELECT f.pair, split_part(f.variant, '-', 1) AS pairs_per_insert,
       round(f.ms::numeric, 3) AS few_drawings_ms, round(n.ms::numeric, 3) AS many_drawings_ms,
       round((n.ms / f.ms)::numeric, 2) AS "many / few"
FROM m f JOIN m n ON n.pair = f.pair AND n.variant = split_part(f.variant, '-', 1) || '-many'
WHERE f.variant LIKE '%-few'
ORDER BY f.pair DESC, 2 DESC;
SQL
echo 'Target: many / few about 1 (an INSERT costs the same however many drawings are stored).'
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
psql -qX -d postgres -c "DROP ROLE bt_bench_tenant_writer" -c "DROP ROLE bt_bench_tenant"
