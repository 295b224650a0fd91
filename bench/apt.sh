#!/usr/bin/env bash
# Debian benchmark, side by side in one run, from this machine's own Debian
# mirror (read at run time from its apt sources, never written here):
#
# 1. Collect a package set with its closure into an empty store:
#    `airlift collect` vs `apt-get update` + `apt-get install --download-only
#    --no-install-recommends` into an empty cache and state (isolated
#    configuration, empty dpkg status) vs `aptly mirror create
#    -filter-with-deps` + `aptly mirror update` (both verify the upstream
#    signature; apt-get and aptly with their default concurrency, airlift
#    with its own).
# 2. Publish a signed repository of the same packages: `airlift import` of
#    the bundle + the first `InRelease` and `Packages.xz` served (the index
#    is built and signed on that request) vs `reprepro includedeb` + export
#    (signed by gpg) vs `aptly repo add` + `aptly publish repo` (signed by
#    gpg).
# Alternating, median of N runs.
#
# Usage: bench/apt.sh   (env: APT_BENCH_RUNS=3, APT_BENCH_SET="curl git ...")
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-$ROOT/target/release/airlift}
RUNS=${APT_BENCH_RUNS:-3}
SET=${APT_BENCH_SET:-curl git nginx-light python3}
read -ra PACKAGES <<<"$SET"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-apt-bench.XXXXXX")
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$WORK"' EXIT
for tool in aptly reprepro gpg; do
    command -v "$tool" >/dev/null || { echo "bench/apt.sh needs $tool (apt-get install aptly reprepro gnupg)" >&2; exit 1; }
done
# shellcheck source=../tests/apt/lib.sh
source "$ROOT/tests/apt/lib.sh"
[ -n "$MIRROR" ] || { echo "no Debian mirror for $CODENAME in this machine's apt sources" >&2; exit 1; }

quoted=$(printf '"%s", ' "${PACKAGES[@]}")
cat >"$WORK/airlift.toml" <<TOML
[[apt]]
name = "debian"
url = "$MIRROR"
suites = ["$CODENAME"]
components = ["main"]
architectures = ["amd64"]
keyring = "$DEBIAN_KEYRING"
packages = [${quoted%, }]
TOML

apt_get() {
    apt_root "$WORK/apt"
    printf 'deb [signed-by=%s] %s %s main\n' "$DEBIAN_KEYRING" "$MIRROR" "$CODENAME" >"$WORK/apt/etc/sources.list"
    APT_CONFIG=$WORK/apt/apt.conf apt-get update -qq &&
        APT_CONFIG=$WORK/apt/apt.conf apt-get install -qq -y --download-only --no-install-recommends "${PACKAGES[@]}"
}
aptly_conf() { # dir
    printf '{"rootDir": "%s", "architectures": ["amd64"], "gpgProvider": "gpg"}\n' "$1" >"$1.conf"
}
aptly_mirror() {
    rm -rf "$WORK/aptly" && mkdir -p "$WORK/aptly" && aptly_conf "$WORK/aptly"
    local filter
    filter=${PACKAGES[*]}
    filter=${filter// / | }
    aptly -config="$WORK/aptly.conf" mirror create -keyring="$DEBIAN_KEYRING" -architectures=amd64 \
        -filter="$filter" -filter-with-deps bench "$MIRROR" "$CODENAME" main &&
        aptly -config="$WORK/aptly.conf" mirror update -keyring="$DEBIAN_KEYRING" bench
}

# shellcheck source=lib.sh
source "$HERE/lib.sh"

# A gpg key for the peers' publishing.
export GNUPGHOME=$WORK/gnupg
install -d -m 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "bench <bench@example.com>" ed25519 sign never 2>/dev/null
FPR=$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')

a=() g=() m=()
for run in $(seq 1 "$RUNS"); do
    echo "bench: collect, run $run of $RUNS" >&2
    rm -rf "${WORK:?}/home"
    a+=("$(seconds "$AIRLIFT" --home "$WORK/home" collect --config "$WORK/airlift.toml")")
    g+=("$(seconds apt_get)")
    m+=("$(seconds aptly_mirror)")
done
read -r count bytes < <("$AIRLIFT" --home "$WORK/home" --json collect --config "$WORK/airlift.toml" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["debian_packages"], d["debian_bytes"])')
apt_count=$(find "$WORK/apt/cache/archives" -maxdepth 1 -name '*.deb' | wc -l)
aptly_count=$(find "$WORK/aptly/pool" -name '*.deb' | wc -l)

# Publishing: the same .debs.
"$AIRLIFT" --home "$WORK/home" keys init >/dev/null
"$AIRLIFT" --home "$WORK/home" pack --out "$WORK/bundle.tar" >/dev/null
mkdir -p "$WORK/debs"
find "$WORK/aptly/pool" -name '*.deb' -exec cp {} "$WORK/debs/" \;
airlift_publish() {
    rm -rf "$WORK/gap"
    "$AIRLIFT" --home "$WORK/gap" init --trust "$WORK/home/keys/roots/1.root.json" &&
        "$AIRLIFT" --home "$WORK/gap" import "$WORK/bundle.tar" &&
        "$AIRLIFT" --home "$WORK/gap" apt key >/dev/null
    "$AIRLIFT" --home "$WORK/gap" serve --listen 127.0.0.1:5069 >"$WORK/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 200); do curl -sf http://127.0.0.1:5069/healthz >/dev/null && break; sleep 0.02; done
    local base=http://127.0.0.1:5069/apt/debian/dists/$CODENAME
    curl -sf "$base/InRelease" >/dev/null && curl -sf "$base/main/binary-amd64/Packages.xz" >/dev/null
    local rc=$?
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
    return $rc
}
reprepro_publish() {
    rm -rf "$WORK/rr" && mkdir -p "$WORK/rr/conf"
    printf 'Codename: %s\nArchitectures: amd64\nComponents: main\nSignWith: %s\nDebIndices: Packages Release . .gz .xz\n' "$CODENAME" "$FPR" >"$WORK/rr/conf/distributions"
    reprepro -b "$WORK/rr" --silent includedeb "$CODENAME" "$WORK"/debs/*.deb
}
aptly_publish() {
    rm -rf "$WORK/ap" && mkdir -p "$WORK/ap" && aptly_conf "$WORK/ap"
    aptly -config="$WORK/ap.conf" repo create -distribution="$CODENAME" -component=main bench &&
        aptly -config="$WORK/ap.conf" repo add bench "$WORK/debs" &&
        aptly -config="$WORK/ap.conf" publish repo -gpg-key="$FPR" -batch bench
}
pa=() pr=() pp=()
for run in $(seq 1 "$RUNS"); do
    echo "bench: publish, run $run of $RUNS" >&2
    pa+=("$(seconds airlift_publish)")
    pr+=("$(seconds reprepro_publish)")
    pp+=("$(seconds aptly_publish)")
done

python3 - "${a[*]}" "${g[*]}" "${m[*]}" "${pa[*]}" "${pr[*]}" "${pp[*]}" "$count $bytes $apt_count $aptly_count" "$RUNS" "$SET" <<'PY'
import statistics, sys
a, g, m, pa, pr, pp = ([float(x) for x in s.split()] for s in sys.argv[1:7])
count, size, apt_count, aptly_count = sys.argv[7].split()
runs, pkgs = sys.argv[8:]
med = statistics.median
print(f"## Debian benchmark ({pkgs} with their closure from the machine's mirror; median of {runs}; 2 cores)\n")
print("| figure | airlift | peer | ratio (peer / airlift) |")
print("|---|---:|---:|---:|")
print(f"| collect the closure, empty cache (s; airlift {count} .debs, {int(size)/1048576:.1f} MiB; apt-get {apt_count}; aptly {aptly_count}) | {med(a):.2f} | {med(g):.2f} (apt-get update + install --download-only) | {med(g)/med(a):.2f}× faster |")
print(f"| the same | {med(a):.2f} | {med(m):.2f} (aptly mirror create -filter-with-deps + update) | {med(m)/med(a):.2f}× faster |")
print(f"| publish a signed repository of those .debs (s) | {med(pa):.2f} (import + first InRelease and Packages.xz) | {med(pr):.2f} (reprepro includedeb + export) | {med(pr)/med(pa):.2f}× faster |")
print(f"| the same | {med(pa):.2f} | {med(pp):.2f} (aptly repo add + publish repo) | {med(pp)/med(pa):.2f}× faster |")
print(f"\nruns: airlift collect {a}, apt-get {g}, aptly mirror {m}; publish: airlift {pa}, reprepro {pr}, aptly {pp}")
PY
