#!/usr/bin/env bash
# Runs the bt_diff regression queries (sql/diff_*.sql) under valgrind in a
# single-user backend, against this checkout's buildtrace.so (functions are
# bound to a copy by path, so the installed extension is not touched).
# Prints valgrind's reports; exits 1 if any frame is in buildtrace.so.
#
#   make && bash test/valgrind/diff_valgrind.sh
#
# Debian's postgres is not built with USE_VALGRIND, so misuse of memory
# inside a palloc'd chunk's context is not seen; reads of uninitialised
# memory, invalid reads/writes outside chunks and bad frees are.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/bt_valgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp buildtrace.so "$work/buildtrace.so"
chown -R postgres "$work"
su postgres -c "$bin/initdb -D $work/data -A trust" >/dev/null

python3 - "$work" <<'PY' > "$work/run.sql"
import glob, json, re, sys
work = sys.argv[1]
so = work + '/buildtrace.so'
fzk = json.dumps(json.load(open('test/data/fzk-haus.json'))).replace("'", "''")
print("CREATE SCHEMA buildtrace;\n")
for f in ('bt_diff', 'bt_try_diff'):
    print(f"CREATE FUNCTION buildtrace.{f}(a jsonb, b jsonb, move_tolerance float8 DEFAULT NULL, "
          f"size_tolerance float8 DEFAULT NULL) RETURNS jsonb AS '{so}', '{f}' LANGUAGE C STABLE;\n")
print(f"CREATE FUNCTION buildtrace.bt_validate(v jsonb) RETURNS jsonb AS '{so}', 'bt_validate' "
      "LANGUAGE C IMMUTABLE STRICT;\n")
print("SET search_path = buildtrace, pg_catalog;\n")
for path in sorted(glob.glob('sql/diff_*.sql')):
    # drop helper functions (their bodies are not single statements)
    text = re.sub(r"^CREATE FUNCTION .*?\$\$;$", "", open(path).read(), flags=re.S | re.M)
    env = {'fzk': fzk}
    env.update(dict(re.findall(r"^\\set (\w+) '(.*)'$", text, re.M)))
    for stmt in re.split(r";\s*\n", text):
        lines = [l for l in stmt.split('\n') if not l.startswith(('\\', '--'))]
        stmt = '\n'.join(lines).strip().replace('pg_temp.err(', 'bt_diff(')
        # psql-only or plpgsql helper statements cannot run single-user
        if not stmt or 'pg_temp' in stmt or 'EXTENSION' in stmt or 'client_min' in stmt:
            continue
        stmt = re.sub(r":'(\w+)'", lambda m: "'" + env[m.group(1)] + "'", stmt)
        print(stmt + ";\n")
PY

su postgres -c "valgrind --quiet --error-limit=no --num-callers=30 --log-file=$work/valgrind.log \
    $bin/postgres --single -j -D $work/data postgres < $work/run.sql > $work/out.txt 2>&1"
echo "statements run: $(grep -c '^CREATE\|^SELECT\|^WITH\|^SET' "$work/run.sql")," \
     "errors raised: $(grep -c 'ERROR:' "$work/out.txt")"
echo "valgrind reports: $(grep -c '^==[0-9]*== [A-Z]' "$work/valgrind.log" || true)"
cat "$work/valgrind.log"
! grep -q 'buildtrace.so' "$work/valgrind.log"
