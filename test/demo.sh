#!/usr/bin/env bash
# The main job: a throwaway cluster with pg_cron and buildtrace, drawings
# flowing through the pipeline, and a report; the HTML report and the picture
# of the FZK-Haus revision are written to the current folder (report.html,
# fzk-diff.svg). Run as root on Debian 12.
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."
. test/lib.sh
bt_install_deps
bt_build_install
BT_OUT=$here bt_virtualenv buildtrace_demo bash -c '
    set -e
    createdb buildtrace_demo
    psql -qX -v ON_ERROR_STOP=1 -d buildtrace_demo -f test/demo.sql
    psql -qXAt -v ON_ERROR_STOP=1 -d buildtrace_demo -c "SELECT buildtrace.report_html()" > "$BT_OUT/report.html"
    psql -qXAt -v ON_ERROR_STOP=1 -d buildtrace_demo -f - > "$BT_OUT/fzk-diff.svg" <<SQL
\i test/data/fzk-revision.sql
SELECT buildtrace.bt_svg(v1, v2) FROM fzk;
SQL
    echo
    echo "The HTML report is $BT_OUT/report.html; the picture of the FZK-Haus revision is $BT_OUT/fzk-diff.svg."'
