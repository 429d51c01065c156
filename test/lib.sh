# shellcheck shell=bash
# Shared by test/check.sh and test/demo.sh: install what buildtrace needs from
# Debian, build and install the extension. Safe to run any number of times.

BT_PG_MAJOR=15
BT_PACKAGES=(
    make gcc
    "postgresql-$BT_PG_MAJOR" "postgresql-server-dev-$BT_PG_MAJOR"
    "postgresql-$BT_PG_MAJOR-cron" "postgresql-$BT_PG_MAJOR-pgtap"
    "postgresql-$BT_PG_MAJOR-tdigest"
    libtap-parser-sourcehandler-pgtap-perl
    postgresql-common postgresql-contrib
)
# What only the tests need: a real browser for the pictures, and the tools
# that read what it shows (ImageMagick's pixels, xmllint's XML checks); the
# Prometheus exporter, promtool (in prometheus) and curl for monitoring;
# PL/Proxy for the sharding test.
BT_TEST_PACKAGES=(chromium fonts-dejavu-core imagemagick libxml2-utils pg-bsd-indent
                  prometheus-postgres-exporter prometheus curl
                  "postgresql-$BT_PG_MAJOR-plproxy")
export PG_CONFIG="/usr/lib/postgresql/$BT_PG_MAJOR/bin/pg_config"
export PATH="/usr/lib/postgresql/$BT_PG_MAJOR/bin:$PATH"

bt_log() { printf '\n== %s\n' "$*"; }

# bt_install_deps [EXTRA_PACKAGE...]
bt_install_deps() {
    local missing=()
    for p in "${BT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        bt_log "dependencies already installed"
        return
    fi
    bt_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Debian's postgresql package would create and start a default cluster;
    # we only ever use throwaway clusters from pg_virtualenv.
    mkdir -p /etc/postgresql-common
    grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
        echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
    # Packages with a service (the exporter, prometheus) must not start it:
    # the tests start what they need themselves.
    local policy=/usr/sbin/policy-rc.d own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
    fi
    local rc=0
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    [ -z "$own_policy" ] || rm -f "$policy"
    return "$rc"
}

# BT_MAKE_FLAGS adds make variables to the build, e.g. BT_MAKE_FLAGS=BT_ASSERTS=1.
bt_build_install() {
    bt_log "building and installing buildtrace ${BT_MAKE_FLAGS:-}"
    make -s clean >/dev/null
    # shellcheck disable=SC2086
    make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" WERROR=-Werror ${BT_MAKE_FLAGS:-} "$@"
    make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# Run "$@" inside a throwaway cluster with pg_cron preloaded; cron lives in
# the database named by $1.
bt_virtualenv() {
    local crondb=$1; shift
    pg_virtualenv -v "$BT_PG_MAJOR" \
        -o shared_preload_libraries=pg_cron \
        -o cron.database_name="$crondb" \
        -o max_worker_processes=16 \
        -o max_parallel_workers=8 \
        -o max_connections=100 \
        -o cron.use_background_workers=on \
        "$@"
}

# For scripts that need a running cluster (benchmarks, the load test): run
# standalone, they install, take the install lock, build and re-run
# themselves inside a throwaway cluster; inside one already (test/bench/run.sh,
# the suite) they just go on. Call as: bt_in_cluster "$0" "$@"
bt_in_cluster() {
    [ -n "${BT_IN_CLUSTER:-}" ] && return 0
    bt_install_deps
    exec 9>/tmp/buildtrace-check.lock
    flock 9
    bt_build_install
    export BT_IN_CLUSTER=1
    bt_virtualenv buildtrace_test bash "$@"
    exit $?
}

# For benchmarks: the median of the numbers on stdin, one a line.
bt_median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# For benchmarks of deferred processing: one worker that waits for pairs
# (CALL work() with poll_ms), started in the background, and stopped by
# terminating its session.
# Call as: bt_start_waiting_worker DATABASE POLL_MS; bt_stop_waiting_worker DATABASE
bt_start_waiting_worker() {
    psql -qXAt -d "$1" -c "CALL buildtrace.work(2000000000, 3600, $2)" >/dev/null 2>&1 &
    BT_WORKER_PID=$!
}
bt_stop_waiting_worker() {
    psql -qXAt -d "$1" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                           WHERE datname = current_database() AND query LIKE 'CALL buildtrace.work(%'" >/dev/null
    wait "$BT_WORKER_PID" 2>/dev/null || true
}

# For benchmarks of one-pair INSERTs: the pair they send, as JSON text: 100
# objects in DIR/a.json, then the same with 30 % of them moved in DIR/b.json.
# Call as: bt_bench_moved_pair DATABASE DIR
bt_bench_moved_pair() {
    psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "SELECT jsonb_agg(jsonb_build_object('id', 'O' || i, 'type', (ARRAY['wall','door','window','column','beam'])[1 + i % 5],
                                          'x', (i * 37 % 1000) / 10.0, 'y', (i * 53 % 1000) / 10.0,
                                          'width', 1 + i % 7, 'height', 1 + i % 3, 'layer', 'L' || i % 4,
                                          'material', 'concrete') ORDER BY i)
      FROM generate_series(1, 100) i" > "$2/a.json"
    psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "SELECT jsonb_agg(CASE WHEN ord % 10 < 3 THEN e || jsonb_build_object('x', (e ->> 'x')::numeric + 2.5) ELSE e END ORDER BY ord)
      FROM jsonb_array_elements('$(cat "$2/a.json")'::jsonb) WITH ORDINALITY x(e, ord)" > "$2/b.json"
}

# For benchmarks, inside the throwaway cluster: with BT_KEEP_FREED_MEMORY=1,
# restart the server with glibc told to keep freed memory for reuse
# (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ in the cluster's
# environment file; pg_ctlcluster passes nothing else). On a VM where a page
# fault costs microseconds, peers that happen to free and re-fault more
# memory than others look slower than their work; this takes that out of a
# comparison, for every variant alike. A no-op otherwise.
bt_keep_freed_memory() {
    [ "${BT_KEEP_FREED_MEMORY:-}" = 1 ] || return 0
    local env=${PG_CLUSTER_CONF_ROOT:-/etc/postgresql}/$BT_PG_MAJOR/regress/environment
    [ -f "$env" ] || { echo "bt_keep_freed_memory: no cluster environment file $env"; return 1; }
    printf 'MALLOC_MMAP_THRESHOLD_=67108864\nMALLOC_TRIM_THRESHOLD_=536870912\n' >> "$env"
    pg_ctlcluster "$BT_PG_MAJOR" regress restart
    echo "(server restarted with glibc keeping freed memory: BT_KEEP_FREED_MEMORY=1)"
}
