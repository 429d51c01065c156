#!/usr/bin/env bash
# Checks META.json against the PGXN Meta Spec 1.0.0 (the required keys and
# their shapes, semantic versions, a known license, resources that name
# something) and against
# buildtrace.control: the release version and the extension's version must
# be the control file's default_version. Run by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 - <<'PY'
import json, re, sys
problems = []
meta = json.load(open('META.json'))
control = open('buildtrace.control').read()
version = re.search(r"^default_version\s*=\s*'([^']+)'", control, re.M).group(1)
semver = re.compile(r'^\d+\.\d+\.\d+(-[0-9A-Za-z-]+)?$')
for key in ('name', 'abstract', 'version', 'maintainer', 'license', 'provides', 'meta-spec'):
    if key not in meta:
        problems.append(f'missing required key "{key}"')
if meta.get('meta-spec', {}).get('version') != '1.0.0':
    problems.append('meta-spec.version must be "1.0.0"')
if not semver.match(str(meta.get('version', ''))):
    problems.append(f'version {meta.get("version")!r} is not a semantic version')
if meta.get('version') != version:
    problems.append(f'version {meta.get("version")} differs from the control file\'s {version}')
licenses = {'postgresql', 'mit', 'bsd', 'gpl_3', 'apache_2_0', 'artistic_2', 'lgpl_3_0', 'restricted', 'open_source', 'unknown'}
lic = meta.get('license')
if not (isinstance(lic, str) and lic in licenses or isinstance(lic, dict) and lic):
    problems.append(f'license {lic!r} is not one the spec knows')
maint = meta.get('maintainer')
if not (isinstance(maint, str) and maint or isinstance(maint, list) and maint and all(isinstance(m, str) for m in maint)):
    problems.append('maintainer must be a string or a list of strings')
provides = meta.get('provides', {})
ext = provides.get('buildtrace')
if not isinstance(ext, dict):
    problems.append('provides must describe the extension "buildtrace"')
else:
    for key in ('file', 'version'):
        if key not in ext:
            problems.append(f'provides.buildtrace lacks "{key}"')
    if ext.get('version') != version:
        problems.append(f'provides.buildtrace.version {ext.get("version")} differs from the control file\'s {version}')
    if not semver.match(str(ext.get('version', ''))):
        problems.append('provides.buildtrace.version is not a semantic version')
if 'resources' in meta and not any(meta['resources'].get(k) for k in ('homepage', 'bugtracker', 'repository')):
    problems.append('resources, when present, must name a homepage, bugtracker or repository')
status = meta.get('release_status', 'stable')
if status not in ('stable', 'testing', 'unstable'):
    problems.append(f'release_status {status!r} is not stable, testing or unstable')
for p in problems:
    print('META.json:', p)
print(f'META.json: {"FAILED" if problems else "valid"} (version {meta.get("version")}, control {version})')
sys.exit(1 if problems else 0)
PY
