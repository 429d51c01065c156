#!/usr/bin/env bash
# The C sources in pgindent's layout: pg_bsd_indent (Debian's pg-bsd-indent)
# with the options of PostgreSQL 15's src/tools/pgindent, and its one
# rewrite that matters here, a single space before the '*' of a function's
# return type. The list of type names, which the indenter needs to tell a
# declaration from an expression, is read from the debugging information of
# the sources compiled with every type of the headers they include.
#
#   bash test/meta/indent.sh          report the files that differ (exit 1)
#   bash test/meta/indent.sh --fix    rewrite them in place
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
command -v pg_bsd_indent >/dev/null || bt_install_deps pg-bsd-indent
fix=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in src/*.c; do
    gcc -g -O0 -fno-eliminate-unused-debug-types -c -I"$("$PG_CONFIG" --includedir-server)" \
        -Isrc "$f" -o "$work/$(basename "$f" .c).o"
done
{
    for o in "$work"/*.o; do objdump -Wi "$o"; done |
        awk '/DW_TAG_typedef/ { t = 1; next } t && /DW_AT_name/ { print $NF; t = 0 }'
    # the project's own, also those no source happens to use
    sed -n 's/^} \([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' src/*.h src/*.c
} | sort -u > "$work/typedefs"

status=0
for f in src/*.c src/*.h; do
    pg_bsd_indent -bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 \
        -i4 -l79 -lp -lpl -nip -npro -sac -tpg -ts4 -U"$work/typedefs" \
        "$f" "$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
    sed -E -i 's/^([A-Za-z_][^ \t]*)[ \t]+\*$/\1 */' "$work/out"
    if ! cmp -s "$f" "$work/out"; then
        if [ "$fix" = --fix ]; then
            cp "$work/out" "$f"
            echo "indent: rewrote $f"
        else
            diff -u "$f" "$work/out" | head -40 || true
            status=1
        fi
    fi
done
[ $status -eq 0 ] && echo "indent: every C source is in pgindent's layout"
exit $status
