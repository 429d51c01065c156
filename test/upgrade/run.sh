#!/usr/bin/env bash
# Upgrade test: install the previous release (0.1.0, its script as shipped),
# load data through its pipeline, ALTER EXTENSION buildtrace UPDATE, and check
# that the data and metrics are intact, that the pipeline works afterwards,
# and that the updated schema equals a fresh install (test/upgrade/catalog.sql).
# Also: the update refuses a schema that a non-superuser owns. Runs against
# the server in the PG* environment, or standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
previous=0.1.0
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" buildtrace.control)
old=buildtrace_upgrade new=buildtrace_fresh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "upgrade: FAILED: $*"; exit 1; }

for db in $old $new; do dropdb --if-exists "$db" >/dev/null; createdb "$db"; done
q -d "$old" -c "CREATE EXTENSION buildtrace VERSION '$previous'"
q -d "$old" <<'SQL'
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT drawing_id, 'job-' || (pair_no % 7), version_a, version_b, 5 + pair_no % 40
FROM buildtrace.generate_pairs(300, 30, 0.1, 11, 0.05);
INSERT INTO buildtrace.versions (drawing_id, payload)
SELECT drawing_id, payload FROM buildtrace.generate_versions(4, 5, 20, 0.1, 3)
ORDER BY version_no, drawing_id;
-- diffed by this build's module on 0.1.0's schema, which has no column for
-- a rotation, a re-identified object or a shift: their counts are in the diff
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('turned',
 '[{"id":"a","type":"wall","x":0,"y":0,"width":4,"height":0.2,"rotation":0},
   {"id":"b","type":"door","x":10,"y":0,"width":1,"height":0.2}]',
 '[{"id":"a","type":"wall","x":0,"y":0,"width":4,"height":0.2,"rotation":90},
   {"id":"b2","type":"door","x":10.02,"y":0,"width":1,"height":0.2}]');
SQL

# What must survive the update, as text.
snapshot() {
    q -d "$old" <<'SQL'
-- (hourly_changes grouped by the session's hours in 0.1.0, by UTC hours now)
SET timezone = 'UTC';
SELECT 'pairs', count(*), count(*) FILTER (WHERE status = 'failed'), md5(string_agg(pair_id || status || coalesce(error::text, ''), ',' ORDER BY pair_id)) FROM buildtrace.pairs;
SELECT 'changes', count(*), md5(string_agg(pair_id || diff::text || summary, ',' ORDER BY pair_id)) FROM buildtrace.changes;
SELECT 'anomalies', count(*), md5(string_agg(kind || coalesce(pair_id::text, '') || details::text, ',' ORDER BY anomaly_id)) FROM buildtrace.anomalies;
SELECT 'rollups', md5(string_agg(row(hour, drawing_id, pairs, failed, added, removed, moved, resized,
                                      retyped, modified, unchanged, processing_ms,
                                      reported_latency_ms)::text, ',' ORDER BY hour, drawing_id))
FROM buildtrace.hourly_rollups r;
SELECT 'hourly_changes', md5(string_agg(row(hour, pairs, drawings, added, removed, moved, resized,
                                             retyped, modified)::text, ',' ORDER BY hour))
FROM buildtrace.hourly_changes;
-- less what 0.2.0 adds: the counts of new kinds (0 for 0.1.0's pairs), the
-- data_quality list, and jobs without a reported latency
SELECT 'metrics', regexp_replace(
           jsonb_set(m - 'until' - 'since' - 'data_quality', '{jobs}',
                     coalesce((SELECT jsonb_agg(j ORDER BY o) FROM jsonb_array_elements(m -> 'jobs')
                                   WITH ORDINALITY x(j, o) WHERE j ->> 'latency_ms' IS NOT NULL), '[]'))::text,
           ', "(rotated|reidentified)": [0-9]+', '', 'g')
FROM buildtrace.metrics('100 years') m;
SELECT 'links', count(*) FROM buildtrace.pairs WHERE from_version IS NOT NULL;
SQL
}
snapshot >"$work/before"
grep -q '^pairs|3[0-9][0-9]|' "$work/before" || fail "the $previous pipeline did not store the pairs: $(head -1 "$work/before")"
# drawing_state's rows, packed in the previous release, are spread ten to a page
rows_per_page="SELECT max(n) FROM (SELECT count(*) AS n FROM buildtrace.drawing_state
                                    GROUP BY (ctid::text::point)[0]) p"
[ "$(q -d "$old" -c "$rows_per_page")" -gt 20 ] || fail "too few drawings to see drawing_state's rows spread"
# what a site granted on a function of the previous release stays granted
q -d "$old" -c "DROP ROLE IF EXISTS bt_upgrade_ops" -c "CREATE ROLE bt_upgrade_ops" \
    -c "GRANT EXECUTE ON FUNCTION buildtrace.rebuild_rollups() TO bt_upgrade_ops"
q -d "$old" -c "ALTER EXTENSION buildtrace UPDATE"
[ "$(q -d "$old" -c "SELECT has_function_privilege('bt_upgrade_ops', 'buildtrace.rebuild_rollups()', 'EXECUTE')")" = t ] ||
    fail "a grant on rebuild_rollups() was lost in the update"
q -d "$old" -c "REVOKE EXECUTE ON FUNCTION buildtrace.rebuild_rollups() FROM bt_upgrade_ops" -c "DROP ROLE bt_upgrade_ops"
version=$(q -d "$old" -c "SELECT extversion FROM pg_extension WHERE extname = 'buildtrace'")
[ "$version" = "$current" ] || fail "version after update is $version, not $current"
snapshot >"$work/after"
diff -u "$work/before" "$work/after" || fail "data or metrics changed in the update"
[ "$(q -d "$old" -c "$rows_per_page")" -le 11 ] || fail "drawing_state's rows were not spread in the update"
echo "upgrade: $previous -> $current kept $(head -1 "$work/after" | cut -d'|' -f2) pairs, their changes, anomalies, rollups, hourly changes and metrics"
# The counts of the new kinds that 0.1.0's schema kept in the diff only are
# in their columns, the rollups (as rebuild_rollups() makes them) and the
# drawings' last totals.
got=$(q -d "$old" <<'SQL'
SELECT count(*) FILTER (WHERE (c.rotated, c.reidentified, c.shifted) IS DISTINCT FROM
                               (coalesce((c.diff -> 'counts' ->> 'rotated')::int, 0),
                                coalesce((c.diff -> 'counts' ->> 'reidentified')::int, 0),
                                coalesce((c.diff -> 'counts' ->> 'shifted')::int, 0)))
       || ' off, turned ' || (SELECT c2.rotated || '/' || c2.reidentified || '/' || c2.total
                              FROM buildtrace.changes c2 WHERE c2.drawing_id = 'turned')
FROM buildtrace.changes c;
SELECT count(*) || ' last totals off' FROM buildtrace.drawing_state s
JOIN buildtrace.changes c ON c.pair_id = s.last_pair_id WHERE s.last_total IS DISTINCT FROM c.total;
CREATE TEMP TABLE kept AS SELECT * FROM buildtrace.hourly_rollups;
SELECT buildtrace.rebuild_rollups() > 0;
SELECT count(*) || ' rollups off'
FROM ((SELECT k::text FROM kept k EXCEPT SELECT r::text FROM buildtrace.hourly_rollups r)
      UNION ALL
      (SELECT r::text FROM buildtrace.hourly_rollups r EXCEPT SELECT k::text FROM kept k)) d;
SQL
)
[ "$got" = "$(printf '0 off, turned 1/1/1\n0 last totals off\nt\n0 rollups off')" ] ||
    fail "counts of rotations and re-identified objects made on the previous schema: $got"
echo "upgrade: a rotation and a re-identified object diffed on the previous schema are counted as a fresh install counts them"

# Every pair of the previous release made from versions is marked so, and
# no other: the mark keeps it out of the uploads once purge() removes them.
got=$(q -d "$old" -c "SELECT count(*) FILTER (WHERE made_from_versions) > 0,
                             count(*) FILTER (WHERE made_from_versions
                                              <> (from_version IS NOT NULL OR to_version IS NOT NULL))
                      FROM buildtrace.pairs")
[ "$got" = "t|0" ] || fail "pairs made from versions marked in the update: $got"
echo "upgrade: the pairs made from versions are marked so"

# The updated pipeline goes on where the old one stopped.
q -d "$old" <<'SQL' >"$work/more" || fail "pipeline after the update"
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
SELECT drawing_id, version_a, version_b, 'NaN' FROM buildtrace.generate_pairs(5, 10, 0.2, 99);
SELECT count(*) FILTER (WHERE status = 'failed') || ' of ' || count(*) FROM buildtrace.pairs WHERE latency_ms = 'NaN';
SQL
[ "$(tail -1 "$work/more")" = "5 of 5" ] || fail "new pairs after the update: $(cat "$work/more")"

q -d "$new" -c "CREATE EXTENSION buildtrace"
q -d "$old" -f test/upgrade/catalog.sql >"$work/updated.txt"
q -d "$new" -f test/upgrade/catalog.sql >"$work/fresh.txt"
[ "$(wc -l <"$work/fresh.txt")" -gt 100 ] || fail "catalog description too short"
diff -u "$work/fresh.txt" "$work/updated.txt" || fail "the updated schema differs from a fresh install of $current"
echo "upgrade: updated schema equals a fresh install ($(wc -l <"$work/fresh.txt") catalog lines compared)"

# A schema handed to a non-superuser stops the update.
dropdb "$old"; createdb "$old"
q -d "$old" -c "CREATE EXTENSION buildtrace VERSION '$previous'"
q -d "$old" -c "DROP ROLE IF EXISTS bt_upgrade_intruder" -c "CREATE ROLE bt_upgrade_intruder" \
    -c "ALTER SCHEMA buildtrace OWNER TO bt_upgrade_intruder"
if out=$(psql -qXAt -d "$old" -c "ALTER EXTENSION buildtrace UPDATE" 2>&1); then
    fail "update went on in a schema owned by a non-superuser"
fi
grep -q 'owned by role bt_upgrade_intruder' <<<"$out" || fail "unexpected refusal: $out"
echo "upgrade: refused in a schema owned by a non-superuser"

# A version uploaded at -infinity (0.1.0 took it) stops the update, which
# leaves 0.1.0 in place and says how to go on.
dropdb "$old"; createdb "$old"
q -d "$old" -c "CREATE EXTENSION buildtrace VERSION '$previous'" \
    -c "INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES ('inf', '[]', '-infinity')"
if out=$(psql -qXAt -v VERBOSITY=verbose -d "$old" -c "ALTER EXTENSION buildtrace UPDATE" 2>&1); then
    fail "update went on with a version uploaded at -infinity"
fi
grep -q '23514.*1 versions have an infinite uploaded_at' <<<"$out" || fail "unexpected refusal: $out"
[ "$(q -d "$old" -c "SELECT extversion FROM pg_extension WHERE extname = 'buildtrace'")" = "$previous" ] ||
    fail "a refused update left the extension changed"
q -d "$old" -c "UPDATE buildtrace.versions SET uploaded_at = '2026-01-01' WHERE drawing_id = 'inf'" \
    -c "ALTER EXTENSION buildtrace UPDATE" || fail "the update after the fix"
echo "upgrade: refused with a version uploaded at -infinity, done once it is fixed"

# So does a drawing id longer than 2000 bytes (0.1.0 took one that
# compresses into an index entry).
dropdb "$old"; createdb "$old"
q -d "$old" -c "CREATE EXTENSION buildtrace VERSION '$previous'" \
    -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES (repeat('d', 2001), '[]', '[]')"
if out=$(psql -qXAt -v VERBOSITY=verbose -d "$old" -c "ALTER EXTENSION buildtrace UPDATE" 2>&1); then
    fail "update went on with a drawing id of 2001 bytes"
fi
grep -q '23514.*1 rows have a drawing_id or job_id longer than 2000 bytes' <<<"$out" || fail "unexpected refusal: $out"
grep -q 'HINT:  Delete those versions, pairs' <<<"$out" || fail "no hint with the refusal: $out"
q -d "$old" -c "DELETE FROM buildtrace.pairs WHERE octet_length(drawing_id) > 2000" \
    -c "ALTER EXTENSION buildtrace UPDATE" || fail "the update after the fix"
[ "$(q -d "$old" -c "SELECT count(*) FROM buildtrace.changes")" = 0 ] || fail "the pair's change set outlived it"
echo "upgrade: refused with a drawing id over 2000 bytes, done once its pair is deleted as the hint says"
# So does a pair stored done with an infinite latency (0.1.0's check let
# one through).
dropdb "$old"; createdb "$old"
q -d "$old" -c "CREATE EXTENSION buildtrace VERSION '$previous'" \
    -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('inf', '[]', '[]')" \
    -c "UPDATE buildtrace.pairs SET latency_ms = 'Infinity'"
if out=$(psql -qXAt -v VERBOSITY=verbose -d "$old" -c "ALTER EXTENSION buildtrace UPDATE" 2>&1); then
    fail "update went on with a done pair of infinite latency"
fi
grep -q '23514.*1 pairs not failed have an infinite or NaN latency_ms' <<<"$out" || fail "unexpected refusal: $out"
q -d "$old" -c "UPDATE buildtrace.pairs SET latency_ms = NULL" \
    -c "ALTER EXTENSION buildtrace UPDATE" || fail "the update after the fix"
echo "upgrade: refused with a done pair of infinite latency, done once it is fixed"

# Updated by another superuser than the one who created the extension, with
# the site's own grants and version ids that 0.1.0's writers chose: every
# object keeps one owner, the site's grants are still dumped (not taken for
# the extension's own), and uploads go on past the chosen ids.
dropdb "$old"; createdb "$old"
q -d "$old" <<'SQL'
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_upgrade_creator;
DROP ROLE IF EXISTS bt_upgrade_site;
CREATE ROLE bt_upgrade_creator SUPERUSER;
CREATE ROLE bt_upgrade_site;
SET ROLE bt_upgrade_creator;
CREATE EXTENSION buildtrace VERSION '0.1.0';
-- the id the unused sequence would give next
INSERT INTO buildtrace.versions (version_id, drawing_id, payload) VALUES (1, 'chosen', '[]');
RESET ROLE;
GRANT USAGE ON SCHEMA buildtrace TO bt_upgrade_site;
GRANT SELECT ON buildtrace.changes TO bt_upgrade_site;
GRANT INSERT (version_id) ON buildtrace.versions TO bt_upgrade_site;
REVOKE USAGE ON SCHEMA buildtrace FROM buildtrace_reader;
REVOKE SELECT ON buildtrace.pairs FROM buildtrace_writer;
SQL
got=$(q -d "$old" <<'SQL'
BEGIN;
ALTER EXTENSION buildtrace UPDATE;
SELECT current_user;
COMMIT;
SELECT string_agg(DISTINCT pg_get_userbyid(coalesce(c.relowner, p.proowner, t.typowner, n.nspowner)), ',')
FROM pg_depend d
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
LEFT JOIN pg_namespace n ON d.classid = 'pg_namespace'::regclass AND n.oid = d.objid
WHERE d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'buildtrace') AND d.deptype = 'e';
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('next', '[]');
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('next', '[]');
SELECT string_agg(v.version_id::text, ',' ORDER BY v.version_id) FROM buildtrace.versions v;
SQL
)
[ "$got" = "$(printf 'postgres\nbt_upgrade_creator\n1,2,3')" ] ||
    fail "role after the update, owners of buildtrace's objects, version ids: $got"
pg_dump -s -d "$old" 2>/dev/null | grep -E '^(GRANT|REVOKE)' >"$work/grants" || true
printf '%s\n' 'REVOKE USAGE ON SCHEMA buildtrace FROM buildtrace_reader;' \
    'GRANT USAGE ON SCHEMA buildtrace TO bt_upgrade_site;' \
    'GRANT SELECT ON TABLE buildtrace.changes TO bt_upgrade_site;' \
    'REVOKE SELECT ON TABLE buildtrace.pairs FROM buildtrace_writer;' \
    'GRANT INSERT(version_id) ON TABLE buildtrace.versions TO bt_upgrade_site;' |
    diff -u - "$work/grants" || fail "pg_dump of the updated database does not dump the site's grants and revokes as they are"
echo "upgrade: by another superuser in a transaction: one owner, its role back after, the site's grants and revokes dumped, uploads past a chosen version id"

for db in $old $new; do dropdb "$db"; done
q -d postgres -c "DROP ROLE bt_upgrade_intruder" -c "DROP ROLE bt_upgrade_site" -c "DROP ROLE bt_upgrade_creator"
