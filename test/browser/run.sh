#!/usr/bin/env bash
# Pictures in a real browser. Headless Chromium (Debian's) renders bt_svg's
# picture of the FZK-Haus revision and report_html()'s page to PNG. The test
# reads the pixels where the picture has an added, a removed and a moved
# object and checks their colours, checks that the page loaded without a
# console message and drew its thumbnails, and that both documents are
# well-formed XML (xmllint). The PNGs, documents and browser logs stay in
# test/browser/out/ as artefacts. Runs against the server in the PG*
# environment (the suite), or standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
[ -n "${BT_IN_CLUSTER:-}" ] || bt_install_deps "${BT_TEST_PACKAGES[@]}"
bt_in_cluster "$0" "$@"
out=test/browser/out
rm -rf "$out"
mkdir -p "$out"
db=buildtrace_browser
fail() { echo "browser: FAILED: $*"; exit 1; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
psql -qXAt -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE EXTENSION buildtrace;
\i test/data/fzk-revision.sql
\o $out/fzk-diff.svg
SELECT buildtrace.bt_svg(v1, v2) FROM fzk;
\o
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b)
SELECT 'FZK-Haus', 'browser', v1, v2 FROM fzk;
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT drawing_id, 'browser', version_a, version_b, 20 + pair_no % 50
FROM buildtrace.generate_pairs(120, 40, 0.1, 7, 0.05, drawings => 10);
\o $out/report.html
SELECT buildtrace.report_html();
SQL
dropdb "$db"

for f in "$out/fzk-diff.svg" "$out/report.html"; do
    xmllint --noout "$f" || fail "$f is not well-formed XML"
done
echo "browser: fzk-diff.svg and report.html are well-formed XML"

# render FILE PNG WIDTH HEIGHT: a screenshot at one pixel per CSS pixel; the
# browser's log (console messages included) goes to PNG.log.
render() {
    local profile
    profile=$(mktemp -d)
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --force-device-scale-factor=1 \
        --enable-logging=stderr --v=0 --window-size="$3,$4" --screenshot="$2" \
        "file://$PWD/$1" >"$2.log" 2>&1 || { cat "$2.log"; rm -rf "$profile"; fail "chromium could not render $1"; }
    rm -rf "$profile"
    [ -s "$2" ] || fail "no screenshot of $1"
}

# Console messages the page caused (the page has no script: there must be none).
console_messages() { grep -c ':CONSOLE' "$1" || true; }

# is_colour PNG X Y CLASS: some pixel of the 7 x 7 around (X, Y) is of CLASS
# (green, red, purple or white).
is_colour() {
    convert "$1" -crop "7x7+$(($2 - 3))+$(($3 - 3))" +repage -depth 8 txt:- |
        sed -n 's/^[^(]*(\([0-9]*\),\([0-9]*\),\([0-9]*\).*/\1 \2 \3/p' |
        awk -v c="$4" '
            c == "green"  && $2 > $1 + 40 && $2 > $3 + 40 { hit = 1 }
            c == "red"    && $1 > $2 + 60 && $1 > $3 + 60 { hit = 1 }
            c == "purple" && $1 > $2 + 40 && $3 > $2 + 40 { hit = 1 }
            c == "white"  && $1 > 245 && $2 > 245 && $3 > 245 { hit = 1 }
            END { exit !hit }'
}

# The first object element of a kind: "data-id x-centre y-centre" (the
# centre does not move when the box is turned about it).
object_of() {
    local q="(//*[local-name()='rect'][@class='obj $2'])[1]"
    local id x y w h
    id=$(xmllint --xpath "string($q/@data-id)" "$1")
    x=$(xmllint --xpath "string($q/@x)" "$1"); y=$(xmllint --xpath "string($q/@y)" "$1")
    w=$(xmllint --xpath "string($q/@width)" "$1"); h=$(xmllint --xpath "string($q/@height)" "$1")
    [ -n "$id" ] || fail "no object of kind $2 in $1"
    awk -v id="$id" -v x="$x" -v y="$y" -v w="$w" -v h="$h" \
        'BEGIN { printf "%s %d %d\n", id, x + w / 2 + 0.5, y + h / 2 + 0.5 }'
}

svg="$out/fzk-diff.svg"
width=$(xmllint --xpath "string(/*/@width)" "$svg")
height=$(xmllint --xpath "string(/*/@height)" "$svg")
render "$svg" "$out/fzk-diff.png" "$width" "$height"
[ "$(console_messages "$out/fzk-diff.png.log")" = 0 ] || fail "console messages while showing the picture"
is_colour "$out/fzk-diff.png" 3 3 white || fail "the paper is not white"
# The revision adds NEW-COLUMN-1, removes a railing and moves the door named
# Innentuer-2.
for want in "added green NEW-COLUMN-1" "removed red 09axaKU7X1_O8n6dmmiZ1E" "moved purple 0pGAjlJMP3ifYPATVF5xAR"; do
    read -r kind colour expected_id <<<"$want"
    read -r id x y <<<"$(object_of "$svg" "$kind")"
    [ "$id" = "$expected_id" ] || fail "the $kind object is $id, not $expected_id"
    is_colour "$out/fzk-diff.png" "$x" "$y" "$colour" || fail "$kind object $id at ($x, $y) is not $colour"
    # and the check can tell colours apart
    ! is_colour "$out/fzk-diff.png" "$x" "$y" white || [ "$kind" = removed ] ||
        fail "$kind object $id at ($x, $y) shows white paper"
    echo "browser: $kind object $id is $colour at ($x, $y)"
done
read -r id x y <<<"$(object_of "$svg" added)"
! is_colour "$out/fzk-diff.png" "$x" "$y" red || fail "the colour check sees red where the added object is"

# The console check itself: a page that logs an error is caught.
printf '<!DOCTYPE html><html><body><script>console.error("control")</script></body></html>' > "$out/control.html"
render "$out/control.html" "$out/control.png" 200 100
[ "$(console_messages "$out/control.png.log")" -ge 1 ] || fail "the console check misses a console error"

render "$out/report.html" "$out/report.png" 1100 4000
render "$out/report.html" "$out/report-phone.png" 390 6000
for png in report.png report-phone.png; do
    [ "$(console_messages "$out/$png.log")" = 0 ] || { grep ':CONSOLE' "$out/$png.log"; fail "console messages in $png"; }
done
# The thumbnails: added objects (green at bt_svg's opacity over white) are
# drawn somewhere on the page.
thumb_green=$(convert "$out/report.png" -fuzz 3% -fill black +opaque 'rgb(123,189,126)' \
                  -fill white -opaque 'rgb(123,189,126)' -format '%[fx:round(mean*w*h)]' info:)
[ "$thumb_green" -gt 20 ] || fail "the report's thumbnails show no added object ($thumb_green pixels)"
echo "browser: the report loaded without console messages; its thumbnails show added objects ($thumb_green pixels)"
echo "browser: pictures kept in $out/"
