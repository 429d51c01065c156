# Shard clusters for the sharding test and benchmark: bt_start_shards N
# creates and starts N clusters (buildtrace installed in database "shard" of
# each, trust on loopback) and sets BT_SHARD_PORTS and BT_SHARD_CONNSTRS;
# bt_stop_shard I / bt_start_shard I stop and start one; bt_drop_shards drops
# them all (call it from an EXIT trap); bt_make_proxy DB makes DB, in the
# PG* server, their PL/Proxy front (sharding/setup.sh).
bt_shard_name() { echo "bt_shard_$1"; }

bt_start_shards() {
    local n=$1 i port
    BT_SHARD_PORTS=() BT_SHARD_CONNSTRS=()
    port=55440
    for ((i = 0; i < n; i++)); do
        while pg_lsclusters -h | awk '{print $3}' | grep -qx "$port" ||
              (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
            port=$((port + 1))
        done
        pg_dropcluster "$BT_PG_MAJOR" "$(bt_shard_name "$i")" --stop >/dev/null 2>&1 || true
        # fsync off, as in pg_virtualenv's clusters: throwaway data, and the
        # shards' commits then cost what the proxy's server's cost
        pg_createcluster "$BT_PG_MAJOR" "$(bt_shard_name "$i")" -p "$port" --start \
            -o fsync=off -- --auth=trust >/dev/null
        psql -qX -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
            -c "CREATE DATABASE shard" >/dev/null
        psql -qX -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d shard \
            -c "CREATE EXTENSION buildtrace" >/dev/null
        BT_SHARD_PORTS+=("$port")
        BT_SHARD_CONNSTRS+=("host=127.0.0.1 port=$port dbname=shard")
        port=$((port + 1))
    done
}

bt_shard_psql() { local i=$1; shift; psql -qXAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${BT_SHARD_PORTS[$i]}" -U postgres -d shard "$@"; }
bt_stop_shard() { pg_ctlcluster "$BT_PG_MAJOR" "$(bt_shard_name "$1")" stop -m fast; }
bt_start_shard() { pg_ctlcluster "$BT_PG_MAJOR" "$(bt_shard_name "$1")" start; }

bt_drop_shards() {
    local c
    for c in $(pg_lsclusters -h | awk '$2 ~ /^bt_shard_/ {print $2}'); do
        pg_dropcluster "$BT_PG_MAJOR" "$c" --stop >/dev/null 2>&1 || true
    done
}

bt_make_proxy() {
    local out rc=0
    dropdb --if-exists "$1" >/dev/null 2>&1
    createdb "$1"
    out=$(bash sharding/setup.sh "$1" "${BT_SHARD_CONNSTRS[@]}" 2>&1) || rc=$?
    [ "$rc" = 0 ] || echo "$out"
    return "$rc"
}
