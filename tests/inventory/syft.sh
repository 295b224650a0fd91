#!/usr/bin/env bash
# Cross-check of airlift's image SBOMs against syft (v1.57.2, built here
# from its Go module): both read the same small OCI image layouts, and the
# sets of (type, name, version) they report must be equal.
#
# airlift's side is the command users run, `airlift sbom --image
# oci-layout:<layout> --format cyclonedx`, inside a network namespace with
# only loopback (in_gap); the purls of its CycloneDX components are parsed
# into (type, name, version), and so are syft's.
#
# The image (three gzip layers, built below from fixtures):
#   1. Debian 12's etc/os-release, a dpkg status with installed packages
#      (one with an epoch) and one that is only "deinstall ok config-files",
#      distroless status.d files (one repeating a status package), Python
#      distributions (a .dist-info, an .egg-info file, an .egg-info
#      directory, names that PEP 503 normalizes) and node_modules packages
#      (plain and scoped).
#   2. A Go binary built by `go build` of a tiny program with one module
#      dependency, and a Rust binary built with `cargo auditable` with one
#      crate dependency (its .dep-v0 section).
#   3. A whiteout deleting one Python package (.wh.<name>) and an opaque
#      node_modules directory (.wh..wh..opq) with one new package, hiding
#      the two that layer 1 had there.
# A second image, one layer: Alpine 3.19's etc/os-release and
# lib/apk/db/installed.
#
# purl types and syft package types compared:
#   deb, apk, pypi (python), npm, golang (go-module), cargo (rust-crate).
# Only those are compared; syft's other catalogers find nothing in this
# image anyway (any such find is printed, not compared). For what both
# find, the package URLs must be equal as well, qualifiers included.
#
# Justified difference, handled here: a Go main module built from a work
# tree without version information is "(devel)" in its build info; syft
# lists it with an empty version, which its default compliance setting
# (missing-version: stub) writes as "UNKNOWN"; airlift leaves it out (there
# is no version to match advisories against). syft's entries with an empty
# or "UNKNOWN" version are printed as ignored, not compared.
#
# Usage: AIRLIFT=path/to/airlift tests/inventory/syft.sh
#   INSPECT  instead of airlift, a command that prints airlift-inventory's
#            JSON lines ({kind,name,version,purl}) for an OCI layout given
#            as its last argument, e.g. the crate's example:
#            "cargo run -q -p airlift-inventory --example inspect --".
#   syft and cargo-auditable are built once into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/airlift-peers/ (go and cargo fetch their
#   sources from the package registries); KEEP=1 keeps the work directory.
# Ends with "syft: N passed, M failed".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-inventory-syft

PEERS=${XDG_CACHE_HOME:-$HOME/.cache}/airlift-peers
SYFT_VERSION=v1.57.2
SYFT=$PEERS/syft-$SYFT_VERSION/syft
AUDITABLE_VERSION=0.7.7
AUDITABLE_ROOT=$PEERS/cargo-auditable-v$AUDITABLE_VERSION
INSPECT=${INSPECT:-}
if [ -z "$INSPECT" ]; then
    AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary (or INSPECT, see the header)}")
fi
AIRLIFT=${AIRLIFT:-}
export AIRLIFT INSPECT WORK ROOT

if [ ! -x "$SYFT" ]; then
    echo "building syft $SYFT_VERSION (once) into $(dirname "$SYFT")"
    mkdir -p "$(dirname "$SYFT")"
    GOBIN=$(dirname "$SYFT") GOFLAGS=-mod=mod go install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
fi
if [ ! -x "$AUDITABLE_ROOT/bin/cargo-auditable" ]; then
    echo "building cargo-auditable $AUDITABLE_VERSION (once) into $AUDITABLE_ROOT"
    CARGO_TARGET_DIR=$WORK/auditable-build cargo install "cargo-auditable@$AUDITABLE_VERSION" --locked --root "$AUDITABLE_ROOT"
    rm -rf "$WORK/auditable-build"
fi

# --- fixtures -----------------------------------------------------------
L1=$WORK/layers/1
L2=$WORK/layers/2
L3=$WORK/layers/3
SITE=usr/lib/python3/dist-packages
mkdir -p "$L1/etc" "$L1/var/lib/dpkg/status.d" "$L1/$SITE" "$L2/usr/local/bin" "$L3/$SITE" "$L3/app/node_modules/is-odd"

cat >"$L1/etc/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
cat >"$L1/var/lib/dpkg/status" <<'EOF'
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system.

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs.

Package: curl
Status: install ok installed
Priority: optional
Section: web
Installed-Size: 500
Maintainer: Alessandro Ghedini <ghedo@debian.org>
Architecture: amd64
Version: 7.88.1-10+deb12u5
Depends: libc6 (>= 2.34)
Description: command line tool for transferring data with URL syntax

Package: git
Status: install ok installed
Priority: optional
Section: vcs
Installed-Size: 44627
Architecture: amd64
Version: 1:2.39.5-0+deb12u3
Description: fast, scalable, distributed revision control system

Package: oldtool
Status: deinstall ok config-files
Priority: optional
Architecture: amd64
Version: 1.0-1
Description: removed, its configuration kept
EOF
# curl is in status too: one package, however many files name it.
printf 'Package: curl\nVersion: 7.88.1-10+deb12u5\nArchitecture: amd64\n' >"$L1/var/lib/dpkg/status.d/curl"
cat >"$L1/var/lib/dpkg/status.d/tzdata" <<'EOF'
Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: time zone and daylight-saving time data
EOF

mkdir -p "$L1/$SITE/requests-2.31.0.dist-info" "$L1/$SITE/attrs-23.1.0.egg-info"
printf 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nlong description\n' \
    >"$L1/$SITE/requests-2.31.0.dist-info/METADATA"
printf 'Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\nClassifier: License :: OSI Approved :: MIT License\n' \
    >"$L1/$SITE/six-1.16.0.egg-info"
printf 'Metadata-Version: 2.1\nName: attrs\nVersion: 23.1.0\nLicense-Expression: MIT\n' \
    >"$L1/$SITE/attrs-23.1.0.egg-info/PKG-INFO"
# Names compare as PEP 503 normalizes them (pyyaml, zope-interface).
mkdir -p "$L1/$SITE/PyYAML-6.0.1.dist-info"
printf 'Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nLicense: MIT\n' >"$L1/$SITE/PyYAML-6.0.1.dist-info/METADATA"
printf 'Metadata-Version: 1.2\nName: zope.interface\nVersion: 6.1\n' >"$L1/$SITE/zope.interface-6.1.egg-info"

for package in left-pad:1.3.0 @scope/thing:2.0.0 express:4.18.2; do
    name=${package%:*}
    mkdir -p "$L1/srv/node_modules/$name"
    printf '{"name":"%s","version":"%s","license":"MIT"}\n' "$name" "${package##*:}" >"$L1/srv/node_modules/$name/package.json"
done
mkdir -p "$L1/app/node_modules/old-one" "$L1/app/node_modules/@old/two"
printf '{"name":"old-one","version":"1.0.0"}\n' >"$L1/app/node_modules/old-one/package.json"
printf '{"name":"@old/two","version":"2.0.0"}\n' >"$L1/app/node_modules/@old/two/package.json"

# A Go program with one dependency from the Go module proxy.
GO_SOURCE=$WORK/go-hello
mkdir -p "$GO_SOURCE"
cat >"$GO_SOURCE/go.mod" <<'EOF'
module example.com/hello

go 1.21

require github.com/google/uuid v1.6.0
EOF
cat >"$GO_SOURCE/main.go" <<'EOF'
package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() { fmt.Println(uuid.NewString()) }
EOF
(cd "$GO_SOURCE" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$L2/usr/local/bin/hello" .)

# A Rust program with one crate dependency, built with cargo-auditable.
RUST_SOURCE=$WORK/rust-hello
mkdir -p "$RUST_SOURCE/src"
cat >"$RUST_SOURCE/Cargo.toml" <<'EOF'
[package]
name = "hello-auditable"
version = "0.1.0"
edition = "2021"

[dependencies]
itoa = "=1.0.11"

[workspace]
EOF
printf 'fn main() {\n    let mut buffer = itoa::Buffer::new();\n    println!("{}", buffer.format(42));\n}\n' >"$RUST_SOURCE/src/main.rs"
(cd "$RUST_SOURCE" && PATH="$AUDITABLE_ROOT/bin:$PATH" CARGO_TARGET_DIR=$WORK/rust-target cargo auditable build --release --quiet)
cp "$WORK/rust-target/release/hello-auditable" "$L2/usr/local/bin/hello-auditable"
rm -rf "$WORK/rust-target"

# Layer 3: delete six (an .egg-info file) and make app/node_modules opaque.
: >"$L3/$SITE/.wh.six-1.16.0.egg-info"
: >"$L3/app/node_modules/.wh..wh..opq"
printf '{"name":"is-odd","version":"3.0.1","license":"MIT"}\n' >"$L3/app/node_modules/is-odd/package.json"

# --- a second image: Alpine's apk database ------------------------------
A1=$WORK/layers/alpine
mkdir -p "$A1/etc" "$A1/lib/apk/db"
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n' >"$A1/etc/os-release"
cat >"$A1/lib/apk/db/installed" <<'EOF'
C:Q1SYDBOdBRQ9GhvCo7qJOz0LDXJe8=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
L:MIT
o:musl
t:1700000000
F:lib
R:ld-musl-x86_64.so.1

C:Q1xHXnVK3LrAwRXtjbbDnzoM2EMSg=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:bin
R:busybox

C:Q1k5yEb0n2VZ6W0kN5o7ZbZp2zHP4=
P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl

EOF

# --- OCI image layouts --------------------------------------------------
# make_layout LAYOUT LAYER_DIR...: one gzip layer per directory, in order.
make_layout() {
    python3 - "$@" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile

layout, layer_dirs = sys.argv[1], sys.argv[2:]
os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)

def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as out:
        out.write(data)
    return "sha256:" + digest, len(data)

def layer_tar(root):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, subdirectories, files in os.walk(root):
            subdirectories.sort()
            for name in sorted(subdirectories) + sorted(files):
                path = os.path.join(directory, name)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, root))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 1700000000
                if info.isfile():
                    with open(path, "rb") as data:
                        tar.addfile(info, data)
                else:
                    tar.addfile(info)
    return buffer.getvalue()

layers, diff_ids = [], []
for root in layer_dirs:
    plain = layer_tar(root)
    diff_ids.append("sha256:" + hashlib.sha256(plain).hexdigest())
    digest, size = put(gzip.compress(plain, mtime=0))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})

config = {
    "architecture": "amd64",
    "os": "linux",
    "config": {},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created_by": "fixture layer %d" % index} for index in range(len(layers))],
}
config_digest, config_size = put(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
    "layers": layers,
}
manifest_digest, manifest_size = put(json.dumps(manifest).encode())
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"},
        "platform": {"architecture": "amd64", "os": "linux"},
    }],
}
with open(os.path.join(layout, "index.json"), "w") as out:
    json.dump(index, out)
with open(os.path.join(layout, "oci-layout"), "w") as out:
    json.dump({"imageLayoutVersion": "1.0.0"}, out)
EOF
}

# ours NAME: airlift's view of layout $WORK/NAME, in $WORK/NAME.ours
# (CycloneDX JSON, or JSON lines with INSPECT); run inside the gap.
ours() {
    local name=$1 layout=$WORK/$1 inspect_command
    if [ -n "$INSPECT" ]; then
        read -r -a inspect_command <<<"$INSPECT"
        (cd "$ROOT" && "${inspect_command[@]}" "$layout") >"$WORK/$name.ours"
    else
        "$AIRLIFT" --home "$WORK/home" sbom --image "oci-layout:$layout" --format cyclonedx >"$WORK/$name.ours"
    fi
}

isolated() {
    check_only_loopback
    check "airlift reads the Debian image's layout offline" ours debian
    check "airlift reads the Alpine image's layout offline" ours alpine
}

# compare NAME KIND...: syft's and airlift's sets for image NAME must be
# equal, and hold every KIND.
compare() {
    local name=$1 layout=$WORK/$1
    shift
    echo "== $name: syft $SYFT_VERSION scans the layout"
    SYFT_CHECK_FOR_APP_UPDATE=false "$SYFT" scan "oci-dir:$layout" -o syft-json -q >"$WORK/$name.syft.json"
    python3 - "$WORK/$name.syft.json" "$WORK/$name.ours" "$@" <<'EOF'
import json, sys
from urllib.parse import unquote

SYFT_TYPE = {"deb": "deb", "apk": "apk", "python": "python", "npm": "npm", "go-module": "go", "rust-crate": "rust"}
PURL_TYPE = {"deb": "deb", "apk": "apk", "pypi": "python", "npm": "npm", "golang": "go", "cargo": "rust"}

def from_purl(purl):
    """(kind, name, version) of a package URL: a distribution's namespace
    (debian, alpine) is not part of the name; npm scopes and Go module
    paths are."""
    body = purl.split("#", 1)[0].split("?", 1)[0]
    if not body.startswith("pkg:"):
        return None
    kind, _, rest = body[4:].partition("/")
    kind = PURL_TYPE.get(kind)
    if kind is None:
        return None
    path, _, version = rest.rpartition("@")
    if not path:
        path, version = rest, ""
    parts = [unquote(part) for part in path.split("/")]
    if kind in ("deb", "apk"):
        parts = parts[1:]
    return (kind, "/".join(parts), unquote(version))

syft, syft_purls = set(), {}
with open(sys.argv[1]) as document:
    for artifact in json.load(document)["artifacts"]:
        kind = SYFT_TYPE.get(artifact["type"])
        if kind is None:
            print("not compared (syft type %s): %s %s" % (artifact["type"], artifact["name"], artifact["version"]))
        elif artifact["version"] in ("", "UNKNOWN"):
            print("ignored (syft, no version): %s %s" % (kind, artifact["name"]))
        else:
            key = from_purl(artifact["purl"])
            syft.add(key)
            syft_purls.setdefault(key, set()).add(artifact["purl"])

ours, our_purls = set(), {}
with open(sys.argv[2]) as text:
    content = text.read()
if content.lstrip().startswith("{") and '"bomFormat"' in content:
    document = json.loads(content)
    assert document["bomFormat"] == "CycloneDX", "not a CycloneDX document"
    purls = [component["purl"] for component in document.get("components", [])]
else:
    purls = [json.loads(line)["purl"] for line in content.splitlines() if line.strip()]
for purl in purls:
    key = from_purl(purl)
    if key is None:
        print("not compared (airlift purl): %s" % purl)
        continue
    ours.add(key)
    our_purls.setdefault(key, set()).add(purl)

for key in sorted(syft & ours):
    print("matched: %s %s %s" % key)
only_syft = sorted(syft - ours)
only_ours = sorted(ours - syft)
for key in only_syft:
    print("DIFFERENCE, only syft: %s %s %s" % key)
for key in only_ours:
    print("DIFFERENCE, only airlift: %s %s %s" % key)
# The package URLs of what both found must be the same too.
purl_differences = [key for key in sorted(syft & ours) if syft_purls[key] != our_purls[key]]
for key in purl_differences:
    print("DIFFERENCE in purl: %s %s %s: syft %s, airlift %s" % (key + (sorted(syft_purls[key]), sorted(our_purls[key]))))
# Each expected kind must be found, and found alike, by both.
kinds = sorted({kind for kind, _, _ in syft & ours})
expected = set(sys.argv[3:])
if not expected <= set(kinds):
    print("DIFFERENCE: both should find every kind of %s; they agree on %s" % (sorted(expected), kinds))
    sys.exit(1)
print("%d matched, %d differences" % (len(syft & ours), len(only_syft) + len(only_ours) + len(purl_differences)))
sys.exit(1 if only_syft or only_ours or purl_differences else 0)
EOF
}

make_layout "$WORK/debian" "$L1" "$L2" "$L3"
make_layout "$WORK/alpine" "$A1"
if [ -n "$INSPECT" ]; then
    echo "== airlift's side: $INSPECT"
else
    echo "== airlift's side: airlift sbom --image oci-layout:<layout> --format cyclonedx, in a network namespace"
fi
add_result "$(in_gap isolated)"
check "debian: airlift and syft agree (deb, python, npm, go, rust)" compare debian deb python npm go rust
check "alpine: airlift and syft agree (apk)" compare alpine apk
summary syft
