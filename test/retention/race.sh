#!/usr/bin/env bash
# purge() against a retry of the dead letter it is removing: with
# buildtrace.keep_dead_letters set, a retry committed after the batch's
# snapshot and before its lock on the dead letter must keep the dead letter
# (and itself) rather than be deleted with it or be left without the pair
# it retries. A pause injected into the dead-letter test (its result is
# unchanged) holds the batch between its snapshot and its lock while
# another session retries the dead letter. Runs against the server in the
# PG* environment, or standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "retention race: FAILED: $*"; exit 1; }
db=bt_purge_race
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for retry in failing done; do
    dropdb --if-exists "$db" >/dev/null 2>&1
    createdb "$db"
    q -d "$db" <<'SQL'
CREATE EXTENSION buildtrace;
-- pair 1 failed 100 days ago (a dead letter), pair 2 is the drawing's later upload
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('RACE', '[]', '[{"id":"B"}]');
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('RACE', '[]', '[]');
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '100 days',
                            submitted_at = submitted_at - interval '100 days' WHERE pair_id = 1;
-- the injected pause: the same answer, three seconds later when it is yes
-- (replaced in place: the functions that call it are bound to it)
CREATE OR REPLACE FUNCTION buildtrace._retries_failed_before(pair_id bigint, cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(bool_and(coalesce(r.processed_at < cutoff, false) AND r.status = 'failed'), true)
        FROM buildtrace._retries(ARRAY[pair_id]) r)
       AND (SELECT true FROM pg_sleep(3));
SQL
    PGOPTIONS="-c buildtrace.keep_pairs=30d -c buildtrace.keep_dead_letters=30d" \
        q -d "$db" -c "CALL buildtrace.purge()" > "$work/purged" &
    purge=$!
    # the batch has its snapshot and sits in the pause, before its locks
    paused=0
    for _ in $(seq 100); do
        paused=$(q -d "$db" -c "SELECT count(*) FROM pg_stat_activity
                                WHERE datname = current_database() AND wait_event = 'PgSleep'")
        [ "$paused" = 1 ] && break
        sleep 0.05
    done
    [ "$paused" = 1 ] || fail "purge() did not reach the injected pause"
    if [ "$retry" = failing ]; then
        q -d "$db" -c "SELECT count(*) FROM buildtrace.retry_failed(ARRAY[1::bigint])" > /dev/null
    else
        q -d "$db" -c "INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, retry_of)
                       VALUES ('RACE', '[]', '[{\"id\":\"B\",\"type\":\"wall\",\"x\":0,\"y\":0,\"width\":1,\"height\":1}]', 1)"
    fi
    wait "$purge" || fail "purge() failed"
    state=$(q -d "$db" -c "SELECT string_agg(pair_id || ':' || status || ':' || coalesce(retry_of::text, '-'), ' '
                           ORDER BY pair_id) FROM buildtrace.pairs")
    [ "$state" = "1:failed:- 2:done:- 3:$([ "$retry" = failing ] && echo failed || echo done):1" ] ||
        fail "a $retry retry made during the purge: pairs are $state (purge removed $(cut -d'|' -f1 "$work/purged"))"
    echo "retention race: a $retry retry made while purge() judged its dead letter kept both ($state)"
done
dropdb "$db"
