#!/usr/bin/env bash
# SBOMs checked by independent tools: `airlift sbom` of a home, in both
# formats, validated by cyclonedx-python-lib (the CycloneDX 1.6 JSON schema,
# strictly, then its own model reads the document back) and by spdx-tools
# (SPDX 2.3 JSON parsed and fully validated), with packageurl-python
# parsing every package URL (tests/sbom/validate.py).
#
# The home holds plain files collected through file:// URLs, then a second
# generation adds one index entry of each other ecosystem (written straight
# into the index, the shape each collect writes: PyPI files with the
# licences and required projects of their core metadata, a crate with its
# licence, npm versions with their SHA-512 `integrity` and manifest, an
# OCI manifest, a Debian package), so every registered ecosystem's package
# URL, licences and dependency relations go through the validators without
# an upstream or the network. An SBOM reads only the
# index, so the entries need no blobs.
#
# The SBOMs collect carries with the generation (served at /sbom/) go
# through the same validators, and so does `airlift sbom --image` of an OCI
# image layout (built below: a dpkg status, a Python distribution with a
# licence, an npm package), where packages have licences and no hashes.
#
# Usage: AIRLIFT=path/to/airlift PYTHON=venv/bin/python tests/sbom/run.sh
#   PYTHON: a python with tests/sbom/requirements.txt installed.
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
: "${PYTHON:?set PYTHON to a python with tests/sbom/requirements.txt installed}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-sbom
CHECK_LOG=$WORK/sbom.log
HERE=$ROOT/tests/sbom
H=$WORK/home
export SOURCE_DATE_EPOCH=1767225600

mkdir -p "$WORK/files"
: >"$WORK/airlift.toml"
for name in tool.bin readme.txt; do
    echo "the $name" >"$WORK/files/$name"
    digest=$(sha256sum "$WORK/files/$name" | cut -d' ' -f1)
    printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "dist/%s"\n\n' \
        "$WORK/files/$name" "$digest" "$name" >>"$WORK/airlift.toml"
done
check "collect two files" "$AIRLIFT" --home "$H" collect --config "$WORK/airlift.toml"

# The generation's SBOMs, as collect carries them and the server serves them.
start_server "$H" 5111
check "GET /sbom/cyclonedx.json" \
    curl -fsS -o "$WORK/site.cdx.json" http://127.0.0.1:5111/sbom/cyclonedx.json
check "GET /sbom/spdx.json" \
    curl -fsS -o "$WORK/site.spdx.json" http://127.0.0.1:5111/sbom/spdx.json
stop_server "$SERVER"
check "cyclonedx-python-lib: the carried CycloneDX is valid, 2 components" \
    "$PYTHON" "$HERE/validate.py" cyclonedx "$WORK/site.cdx.json" 2
check "spdx-tools: the carried SPDX is valid, 2 packages" \
    "$PYTHON" "$HERE/validate.py" spdx "$WORK/site.spdx.json" 2

"$PYTHON" - "$H/store/index.sqlite" <<'PY'
import hashlib, json, sqlite3, sys

def sha(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

manifest = sha("manifest")
entries = [
    ("pypi", "f:alpha/alpha-1.0-py3-none-any.whl", {"version": "1.0", "licenses": ["BSD-3-Clause"]}),
    ("pypi", "f:beta/beta-2.0.tar.gz",
     {"version": "2.0", "licenses": ["MIT License"], "requires": ["alpha", "absent"]}),
    ("cargo", "c:itoa/1.0.11", {"license": "MIT OR Apache-2.0"}),
    ("npm", "v:@scope/pkg/1.2.3",
     {"integrity": "sha512-" + __import__("base64").b64encode(hashlib.sha512(b"pkg").digest()).decode(),
      "manifest": {"license": "MIT", "dependencies": {"left-pad": "^1.0.0"}}}),
    ("npm", "v:left-pad/1.3.0", {"manifest": {"license": "WTFPL"}}),
    ("oci", f"m:library/alpine@{manifest}", {}),
    ("apt", "debian/pool/main/h/hello/hello_2.10-3_amd64.deb",
     {"package": "hello", "version": "2.10-3", "architecture": "amd64"}),
]
db = sqlite3.connect(sys.argv[1])
(current,) = db.execute("SELECT CAST(value AS INTEGER) FROM state WHERE key = 'current_generation'").fetchone()
(live,) = db.execute("SELECT entries FROM generations WHERE id = ?", (current,)).fetchone()
new = current + 1
db.execute("INSERT INTO generations (id, created_at, source, entries) VALUES (?, 0, 'test', ?)",
           (new, live + len(entries)))
for ecosystem, key, meta in entries:
    digest = manifest if ecosystem == "oci" else sha(key)
    db.execute("INSERT INTO entries (ecosystem, key, added_in, removed_in, digest, size, meta)"
               " VALUES (?, ?, ?, NULL, ?, 1, ?)", (ecosystem, key, new, digest, json.dumps(meta)))
db.execute("UPDATE state SET value = ? WHERE key = 'current_generation'", (str(new),))
db.commit()
PY

# Two files and seven packages of the other ecosystems, with licences in
# the forms metadata states them (one SPDX identifier, an expression, a
# name) and two dependency relations (npm, pypi).
COUNT=9
check "sbom (CycloneDX, the default) writes $COUNT components" \
    sh -c "'$AIRLIFT' --home '$H' --json sbom --out '$WORK/sbom.cdx.json' | grep -q '\"components\": $COUNT'"
check "sbom --format spdx writes $COUNT packages" \
    sh -c "'$AIRLIFT' --home '$H' --json sbom --format spdx --out '$WORK/sbom.spdx.json' | grep -q '\"components\": $COUNT'"
check "cyclonedx-python-lib: valid CycloneDX 1.6, $COUNT components with purls and SHA-256" \
    "$PYTHON" "$HERE/validate.py" cyclonedx "$WORK/sbom.cdx.json" "$COUNT"
check "spdx-tools: valid SPDX 2.3, $COUNT packages with purls and SHA-256" \
    "$PYTHON" "$HERE/validate.py" spdx "$WORK/sbom.spdx.json" "$COUNT"
check "npm's SHA-512 integrity is a CycloneDX SHA-512 hash" \
    grep -q '"alg": "SHA-512"' "$WORK/sbom.cdx.json"
check "a licence is listed by name in CycloneDX" \
    grep -q '"name": "MIT OR Apache-2.0"' "$WORK/sbom.cdx.json"
check "one SPDX identifier is SPDX's licenseDeclared" \
    grep -q '"licenseDeclared": "BSD-3-Clause"' "$WORK/sbom.spdx.json"
check "other statements are NOASSERTION with the statement as a comment" \
    grep -q '"licenseComments": "as its metadata states: MIT License"' "$WORK/sbom.spdx.json"
check "CycloneDX dependencies: npm's range and pypi's Requires-Dist" \
    "$PYTHON" -c 'import json, sys
deps = {d["ref"]: d["dependsOn"] for d in json.load(open(sys.argv[1]))["dependencies"]}
assert deps == {"npm:v:@scope/pkg/1.2.3": ["npm:v:left-pad/1.3.0"],
                "pypi:f:beta/beta-2.0.tar.gz": ["pypi:f:alpha/alpha-1.0-py3-none-any.whl"]}, deps' \
    "$WORK/sbom.cdx.json"
check "SPDX: two DEPENDS_ON relationships" \
    sh -c "[ \"\$(grep -c '\"relationshipType\": \"DEPENDS_ON\"' '$WORK/sbom.spdx.json')\" = 2 ]"
check "the same home and clock give the same bytes" \
    sh -c "'$AIRLIFT' --home '$H' sbom --out '$WORK/again.cdx.json' >/dev/null && cmp '$WORK/sbom.cdx.json' '$WORK/again.cdx.json'"

# The validators must be able to fail: a document with a broken hash, and
# one whose relationships name packages it does not have, are refused.
sed 's/"alg": "SHA-256"/"alg": "SHA-257"/' "$WORK/sbom.cdx.json" >"$WORK/bad.cdx.json"
check "cyclonedx-python-lib refuses an unknown hash algorithm" \
    sh -c "! '$PYTHON' '$HERE/validate.py' cyclonedx '$WORK/bad.cdx.json' $COUNT"
sed 's/"relatedSpdxElement": "SPDXRef-Package-/"relatedSpdxElement": "SPDXRef-Missing-/' \
    "$WORK/sbom.spdx.json" >"$WORK/bad.spdx.json"
check "spdx-tools refuses relationships to packages that are not there" \
    sh -c "! '$PYTHON' '$HERE/validate.py' spdx '$WORK/bad.spdx.json' $COUNT"

# An image's SBOM: an OCI layout of one gzip layer.
"$PYTHON" - "$WORK/layout" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile

layout = sys.argv[1]
os.makedirs(os.path.join(layout, "blobs", "sha256"))

def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as out:
        out.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}

files = {
    "etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
    "var/lib/dpkg/status": b"Package: base-files\nStatus: install ok installed\n"
    b"Architecture: amd64\nVersion: 12.4+deb12u5\n\n"
    b"Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\n"
    b"Source: openssl\nVersion: 3.0.11-1~deb12u2\n",
    "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA":
    b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache-2.0\n",
    "app/node_modules/left-pad/package.json":
    b'{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}',
}
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as tar:
    for path, data in files.items():
        info = tarfile.TarInfo(path)
        info.size = len(data)
        info.mtime = 1700000000
        tar.addfile(info, io.BytesIO(data))
layer = blob(gzip.compress(raw.getvalue(), mtime=0))
config = blob(json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": []}}).encode())
manifest = blob(json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
}).encode())
with open(os.path.join(layout, "oci-layout"), "w") as out:
    json.dump({"imageLayoutVersion": "1.0.0"}, out)
with open(os.path.join(layout, "index.json"), "w") as out:
    json.dump({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]}, out)
PY
check "sbom --image of an OCI layout (CycloneDX)" \
    "$AIRLIFT" --home "$H" sbom --image "oci-layout:$WORK/layout:1.0" --out "$WORK/image.cdx.json"
check "sbom --image of an OCI layout (SPDX)" \
    "$AIRLIFT" --home "$H" sbom --image "oci-layout:$WORK/layout:1.0" --format spdx --out "$WORK/image.spdx.json"
check "cyclonedx-python-lib: the image's CycloneDX is valid, 4 packages" \
    "$PYTHON" "$HERE/validate.py" cyclonedx-image "$WORK/image.cdx.json" 4
check "spdx-tools: the image's SPDX is valid, 4 packages" \
    "$PYTHON" "$HERE/validate.py" spdx-image "$WORK/image.spdx.json" 4
check "the image's licences are in its SBOM" \
    sh -c "grep -q Apache-2.0 '$WORK/image.cdx.json' && grep -q WTFPL '$WORK/image.spdx.json'"

summary sbom
