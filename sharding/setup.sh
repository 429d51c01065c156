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
options=""
i=0
for connstr in "$@"; do
    # Also refused: sslpassword, a service (its file may name a user) and
    # the URI form (user:password@host); so, to be safe, is a quoted value
    # that merely contains such a word.
    if [[ " $connstr" =~ [[:space:]](user|password|sslpassword|service)[[:space:]]*= ]] ||
       [[ "$connstr" == *://* ]]; then
        echo "setup: connection string $((i + 1)) names a ${BASH_REMATCH[1]:-user in a URI}: leave it out (PL/Proxy connects as the caller; passwords go in .pgpass)" >&2
        exit 2
    fi
    options+="${options:+, }partition_$i '${connstr//\'/\'\'}'"
    i=$((i + 1))
done
psql -qX -v ON_ERROR_STOP=1 -d "$db" <<SQL
CREATE EXTENSION IF NOT EXISTS plproxy;
CREATE EXTENSION IF NOT EXISTS buildtrace;
DROP SCHEMA IF EXISTS buildtrace_proxy CASCADE;
DROP SERVER IF EXISTS buildtrace_shards CASCADE;
CREATE SERVER buildtrace_shards FOREIGN DATA WRAPPER plproxy OPTIONS ($options);
CREATE USER MAPPING FOR PUBLIC SERVER buildtrace_shards;
GRANT USAGE ON FOREIGN SERVER buildtrace_shards TO buildtrace_writer, buildtrace_reader;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA buildtrace
    FROM buildtrace_writer, buildtrace_reader;
\i sharding/proxy.sql
SQL
echo "setup: $db routes to $n shard(s)"
