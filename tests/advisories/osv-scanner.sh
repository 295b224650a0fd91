#!/usr/bin/env bash
# Cross-check oracle: scan lockfiles with a pinned osv-scanner against a local
# OSV database built from tests/advisories/fixtures/osv, and write the findings
# as normalized TSV (the form of expected.tsv, see normalize.py).
#
# Usage: osv-scanner.sh OUT_TSV LOCKFILE...
#   LOCKFILE is a path, optionally prefixed with osv-scanner's parse-as name
#   (dpkg-status:PATH, apk-installed:PATH, requirements.txt:PATH, ...). Without
#   a prefix the file name decides: requirements.txt, Cargo.lock,
#   package-lock.json, go.mod, pom.xml, dpkg-status, apk-installed.
#
# Environment:
#   OSV_SCANNER   use this osv-scanner binary instead of the pinned build
#   OSV_FIXTURES  directory of <Ecosystem>/<ID>.json records (default: fixtures/osv
#                 here, filled in by materialize.py)
#   KEEP_WORK=1   keep the temporary directory (database, raw reports, logs)
#
# --no-call-analysis=all and --all-vulns keep osv-scanner a pure matcher: no
# govulncheck reachability filter, no hiding of "unimportant" findings.
#
# The scanner never gets a network: as root it runs inside `unshare --net`
# (otherwise inside a user namespace when the kernel allows one). OS package
# databases take their release from /etc/os-release, so dpkg-status files are
# scanned with a Debian 12 os-release and apk-installed files with an Alpine
# 3.20 one bind-mounted in a private mount namespace; the host's is never read.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures=${OSV_FIXTURES:-}

usage() {
	echo "usage: $0 OUT_TSV LOCKFILE..." >&2
	exit 2
}
[[ $# -ge 2 ]] || usage
out_tsv=$1
shift

# The pinned build (tests/advisories/tools.sh), unless OSV_SCANNER names one.
if [[ -z ${OSV_SCANNER:-} ]]; then
	# shellcheck source=tools.sh
	source "$here/tools.sh"
fi
scanner=$OSV_SCANNER
OSV_SCANNER_VERSION=${OSV_SCANNER_VERSION:-v2.5.0}
version_line=$("$scanner" --version)
version_line=${version_line%%$'\n'*}
if [[ $version_line != "osv-scanner version: ${OSV_SCANNER_VERSION#v}" ]]; then
	echo "$scanner is not osv-scanner $OSV_SCANNER_VERSION: $version_line" >&2
	exit 1
fi

work=$(mktemp -d)
cleanup() {
	if [[ ${KEEP_WORK:-0} == 1 ]]; then
		echo "kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
if [[ -z $fixtures ]]; then
	python3 "$here/materialize.py" "$work/fixtures"
	fixtures=$work/fixtures/osv
fi

# Local database in osv-scanner's offline layout (osv-scalibr's local matcher,
# v2.5.0 and v2.6.0): <local-db-path>/osv-scalibr/<Ecosystem>/all.zip, one zip of JSON
# records per base ecosystem (Debian, not Debian:12).
db=$work/db
python3 - "$fixtures" "$db/osv-scalibr" <<'PY'
import os, sys, zipfile
source, target = sys.argv[1], sys.argv[2]
ecosystems = sorted(d for d in os.listdir(source) if os.path.isdir(os.path.join(source, d)))
if not ecosystems:
    sys.exit(f"{source}: no ecosystem directories")
for ecosystem in ecosystems:
    records = sorted(f for f in os.listdir(os.path.join(source, ecosystem)) if f.endswith(".json"))
    os.makedirs(os.path.join(target, ecosystem), exist_ok=True)
    with zipfile.ZipFile(os.path.join(target, ecosystem, "all.zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.write(os.path.join(source, ecosystem, record), record)
PY

printf '%s\n' 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' 'NAME="Debian GNU/Linux"' \
	'VERSION_ID="12"' 'VERSION="12 (bookworm)"' 'VERSION_CODENAME=bookworm' 'ID=debian' \
	>"$work/os-release-debian"
printf '%s\n' 'NAME="Alpine Linux"' 'ID=alpine' 'VERSION_ID=3.20.3' \
	'PRETTY_NAME="Alpine Linux v3.20"' >"$work/os-release-alpine"

# Sort the lockfiles into runs by the os-release each needs.
language=()
debian=()
alpine=()
for argument in "$@"; do
	parse_as=${argument%%:*}
	path=${argument#*:}
	# A path that exists is a path, even with a colon in it.
	if [[ $parse_as == "$argument" || -f $argument ]]; then
		path=$argument
		parse_as=$(basename "$argument")
	fi
	[[ -f $path ]] || {
		echo "$path: no such lockfile" >&2
		exit 1
	}
	path=$(cd "$(dirname "$path")" && pwd)/$(basename "$path")
	case $parse_as in
	dpkg-status | status) debian+=("-L" "dpkg-status:$path") ;;
	apk-installed | installed) alpine+=("-L" "apk-installed:$path") ;;
	*) language+=("-L" "$parse_as:$path") ;;
	esac
done

# isolate OS_RELEASE COMMAND...: run COMMAND without a network, with OS_RELEASE
# (if not empty) bind-mounted over /etc/os-release.
isolate() {
	local os_release=$1
	shift
	local namespaces=(unshare --net --mount)
	if [[ $(id -u) != 0 ]]; then
		namespaces=(unshare --user --map-root-user --net --mount)
		if ! "${namespaces[@]}" true 2>/dev/null; then
			if [[ -n $os_release ]]; then
				echo "cannot create a network and mount namespace as $(id -un); OS package scans need one" >&2
				return 1
			fi
			echo "warning: no namespaces as $(id -un); osv-scanner runs with the host network" >&2
			"$@"
			return
		fi
	fi
	# shellcheck disable=SC2016 # expanded by the inner shell
	"${namespaces[@]}" sh -c '
		os_release=$1; shift
		if [ -n "$os_release" ]; then mount --bind "$os_release" /etc/os-release || exit 1; fi
		exec "$@"' isolate "$os_release" "$@"
}

reports=()
run() {
	local name=$1 os_release=$2
	shift 2
	[[ $# -gt 0 ]] || return 0
	local report=$work/$name.json log=$work/$name.log status=0
	isolate "$os_release" "$scanner" scan source --offline --offline-vulnerabilities \
		--local-db-path "$db" --no-call-analysis=all --all-vulns \
		--format json --verbosity info "$@" >"$report" 2>"$log" || status=$?
	# 0: no findings, 1: findings; anything else is a failed scan.
	if [[ $status -gt 1 ]] || grep -q 'could not load db\|unable to fetch OSV database' "$log"; then
		echo "osv-scanner failed for the $name lockfiles (exit $status):" >&2
		cat "$log" >&2
		return 1
	fi
	reports+=("$report")
}

run language "" "${language[@]}"
run debian "$work/os-release-debian" "${debian[@]}"
run alpine "$work/os-release-alpine" "${alpine[@]}"

python3 "$here/normalize.py" "${reports[@]}" >"$out_tsv"
echo "$(wc -l <"$out_tsv") findings from osv-scanner $OSV_SCANNER_VERSION written to $out_tsv" >&2
