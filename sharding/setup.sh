#!/usr/bin/env bash
# Makes database PROXY_DB (which must exist) the PL/Proxy front of buildtrace
# shards: installs plproxy and buildtrace there, defines server
# buildtrace_shards with one partition per connection string, in order, and
# loads sharding/proxy.sql. Each shard is a database with buildtrace
# installed. PL/Proxy needs a power of two of partitions.
#
#   bash sharding/setup.sh PROXY_DB 'host=… dbname=…' 'host=… dbname=…' [...]
#
# A connection string names no user and no password: PL/Proxy then connects
# as the calling role (current_user), so each shard applies that role's own
# rights and tenant, and no password sits in the server's options, which
# every role can read. Passwords go in the proxy server's .pgpass (the
# database server's operating-system user), one line per role. The proxy
# database's own buildtrace tables take no writes: data goes through
# buildtrace_proxy only.
set -euo pipefail
cd "$(dirname "$0")/.."
db=$1; shift
n=$#
(( n >= 1 && (n & (n - 1)) == 0 )) || { echo "setup: $n shards: PL/Proxy needs 1, 2, 4, 8, ... partitions" >&2; exit 2; }
parts=""
i=0
for connstr in "$@"; do
    # Also refused: sslpassword, a service (its file may name a user) and
    # the URI form (user:password@host); so, to be safe, is a quoted value
    # that merely contains such a word. libpq reads a keyword right after a
    # quoted value's closing quote, with no space between.
    if [[ " $connstr" =~ [[:space:]\'](user|password|sslpassword|service)[[:space:]]*= ]] ||
       [[ "$connstr" == *://* ]]; then
        echo "setup: connection string $((i + 1)) names a ${BASH_REMATCH[1]:-user in a URI}: leave it out (PL/Proxy connects as the caller; passwords go in .pgpass)" >&2
        exit 2
    fi
    parts+="${parts:+, }('partition_$i', $i, '${connstr//\'/\'\'}')"
    i=$((i + 1))
done
# Run again (say with more shards), it changes the partitions of the server
# in place, keeping its other options and the user mappings made for it.
psql -qX -v ON_ERROR_STOP=1 -d "$db" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plproxy;
CREATE EXTENSION IF NOT EXISTS buildtrace;
DROP SCHEMA IF EXISTS buildtrace_proxy CASCADE;
CREATE TEMP TABLE shard_partitions (name text, ordinal integer, connstr text);
INSERT INTO shard_partitions VALUES $parts;
DO \$\$
DECLARE
    changes text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = 'buildtrace_shards') THEN
        EXECUTE format('CREATE SERVER buildtrace_shards FOREIGN DATA WRAPPER plproxy OPTIONS (%s)',
                       (SELECT string_agg(format('%I %L', p.name, p.connstr), ', ' ORDER BY p.ordinal)
                        FROM shard_partitions p));
    ELSE
        SELECT string_agg(CASE WHEN o.name IS NULL THEN format('ADD %I %L', n.name, n.connstr)
                               WHEN n.name IS NULL THEN format('DROP %I', o.name)
                               ELSE format('SET %I %L', n.name, n.connstr) END, ', ')
        INTO changes
        FROM shard_partitions n
        FULL JOIN (SELECT split_part(x.option, '=', 1) AS name
                   FROM pg_foreign_server s, unnest(s.srvoptions) x(option)
                   WHERE s.srvname = 'buildtrace_shards' AND x.option LIKE 'partition\_%') o
            ON o.name = n.name;
        EXECUTE format('ALTER SERVER buildtrace_shards OPTIONS (%s)', changes);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_user_mappings m
                   WHERE m.srvname = 'buildtrace_shards' AND m.usename = 'public') THEN
        CREATE USER MAPPING FOR PUBLIC SERVER buildtrace_shards;
    END IF;
END
\$\$;
GRANT USAGE ON FOREIGN SERVER buildtrace_shards TO buildtrace_writer, buildtrace_reader;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA buildtrace
    FROM buildtrace_writer, buildtrace_reader;
\i sharding/proxy.sql
SQL
echo "setup: $db routes to $n shard(s)"
