#!/usr/bin/env bash
# The main job: a throwaway cluster with pg_cron and buildtrace, drawings
# flowing through the pipeline, and a report. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
bt_install_deps
bt_build_install
bt_virtualenv buildtrace_demo bash -c '
    set -e
    createdb buildtrace_demo
    psql -qX -v ON_ERROR_STOP=1 -d buildtrace_demo -f test/demo.sql'
