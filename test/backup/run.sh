#!/usr/bin/env bash
# Backup and restore: pg_dump of a buildtrace database holds every row of
# its tables and the positions of its sequences; pg_restore with the
# triggers off (session_replication_role = replica) gives a database whose
# tables equal the source's, table by table, and whose pipeline carries on
# where the source's does. With the triggers on, the restore fails instead
# of processing the rows a second time. Runs against the server in the PG*
# environment, or standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
src=bt_backup_src dst=bt_backup_dst bad=bt_backup_triggers_on
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "backup: FAILED: $*"; exit 1; }

for db in $src $dst $bad; do dropdb --if-exists "$db" >/dev/null; createdb "$db"; done

# Something of everything: pairs with spikes, a failed pair and its retry,
# versions, a resolved anomaly, an upload expectation and a missed upload,
# a purged pair.
q -d $src <<'SQL'
CREATE EXTENSION buildtrace;
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT drawing_id, 'job-' || (pair_no % 5), version_a, version_b, 1 + pair_no % 9
FROM buildtrace.generate_pairs(200, 20, 0.1, 5, 0.05, drawings => 8, spike_at => 20)
ORDER BY pair_no;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('broken', '[]', '7');
SELECT count(*) FROM buildtrace.retry_failed(drawing => 'broken');
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
SELECT drawing_id, payload, timestamptz '2026-01-01' + version_no * interval '1 minute'
FROM buildtrace.generate_versions(3, 4, 20, 0.2, 9)
ORDER BY version_no, drawing_id;
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
VALUES ('expected', interval '1 hour', interval '5 minutes', now() - interval '3 hours');
SELECT count(*) FROM buildtrace.check_uploads();
SELECT count(*) FROM buildtrace.resolve_anomalies(ARRAY(SELECT min(anomaly_id) FROM buildtrace.anomalies));
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('purged', '[]', '[]');
UPDATE buildtrace.pairs SET processed_at = now() - interval '40 days' WHERE drawing_id = 'purged';
-- a later upload, so that the old pair is not the drawing's last one
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('purged', '[]', '[]');
SET buildtrace.keep_pairs = '30d';
CALL buildtrace.purge();
SQL

# Every table of the extension and every sequence, one line each.
cat > "$work/contents.sql" <<'SQL'
SELECT c.oid::regclass || ' ' || CASE c.relkind
    WHEN 'S' THEN (SELECT 'at ' || coalesce(s.last_value::text, 'start')
                   FROM pg_sequences s WHERE s.schemaname = 'buildtrace' AND s.sequencename = c.relname)
    ELSE (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass),
                                              false, true, '')))[1]::text || ' rows, md5 ' ||
         (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS h FROM %s t',
                                                     c.oid::regclass), false, true, '')))[1]::text
    END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'buildtrace' AND c.relkind IN ('r', 'S')
ORDER BY 1;
SQL
q -d $src -f "$work/contents.sql" > "$work/src.txt"
[ "$(grep -c ' 0 rows' "$work/src.txt")" = 1 ] || { cat "$work/src.txt"; fail "the source should have rows in every table but scheduled_jobs"; }

pg_dump -Fc -d $src -f "$work/dump" 2> "$work/dump.err" || { cat "$work/dump.err"; fail "pg_dump"; }
pg_restore -l "$work/dump" > "$work/toc"
for t in versions pairs changes anomalies drawing_state hourly_rollups upload_expectations scheduled_jobs \
         purge_horizon; do
    grep -q "TABLE DATA buildtrace $t " "$work/toc" || fail "the dump holds no rows of $t"
done

PGOPTIONS='-c session_replication_role=replica' pg_restore --exit-on-error -d $dst "$work/dump" ||
    fail "pg_restore with the triggers off"
q -d $dst -f "$work/contents.sql" > "$work/dst.txt"
diff -u "$work/src.txt" "$work/dst.txt" || fail "the restored tables differ from the source's"
echo "backup: pg_dump and pg_restore keep every table and sequence ($(wc -l < "$work/src.txt") compared)"

# The restored pipeline carries on as the source's: the next version of a
# drawing pairs with its last, the spike rule reads the last pair, and the
# ids continue.
next="INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
      SELECT drawing_id, '[]', timestamptz '2026-02-01' FROM buildtrace.versions GROUP BY drawing_id
      ORDER BY drawing_id;
      INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
      SELECT drawing_id, '[]', '[]' FROM buildtrace.drawing_state WHERE last_pair_id IS NOT NULL
      ORDER BY drawing_id;"
after="SELECT p.pair_id, p.drawing_id, p.status, p.from_version, p.to_version, c.total, a.kind
       FROM buildtrace.pairs p LEFT JOIN buildtrace.changes c USING (pair_id)
       LEFT JOIN buildtrace.anomalies a ON a.pair_id = p.pair_id AND a.kind = 'change_spike'
       ORDER BY p.pair_id"
q -d $src -c "$next"
q -d $dst -c "$next"
[ "$(q -d $src -c "$after" | md5sum)" = "$(q -d $dst -c "$after" | md5sum)" ] ||
    fail "the restored database processes new uploads differently"
echo "backup: the restored pipeline carries on as the source's"

# With the triggers on, the versions would make pairs again: the restore
# stops at the first duplicate instead.
if pg_restore --exit-on-error -d $bad "$work/dump" > "$work/bad.out" 2>&1; then
    fail "a restore with the triggers on went through"
fi
grep -q 'duplicate key value violates unique constraint "pairs_pkey"' "$work/bad.out" ||
    { cat "$work/bad.out"; fail "a restore with the triggers on failed otherwise"; }
echo "backup: a restore with the triggers on stops at the first pair made twice"
