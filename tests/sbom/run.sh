#!/usr/bin/env bash
# SBOMs checked by independent tools: `airlift sbom` of a home, in both
# formats, validated by cyclonedx-python-lib (the CycloneDX 1.6 JSON schema,
# strictly, then its own model reads the document back) and by spdx-tools
# (SPDX 2.3 JSON parsed and fully validated), with packageurl-python
# parsing every package URL (tests/sbom/validate.py).
#
# The home holds plain files collected through file:// URLs, then a second
# generation adds one index entry of each other ecosystem (written straight
# into the index, the shape each collect writes: a PyPI file, a crate, an
# npm version with its SHA-512 `integrity`, an OCI manifest, a Debian
# package), so every registered ecosystem's package URL goes through the
# validators without an upstream or the network. An SBOM reads only the
# index, so the entries need no blobs.
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

"$PYTHON" - "$H/store/index.sqlite" <<'PY'
import hashlib, json, sqlite3, sys

def sha(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

manifest = sha("manifest")
entries = [
    ("pypi", "f:alpha/alpha-1.0-py3-none-any.whl", {"version": "1.0"}),
    ("cargo", "c:itoa/1.0.11", {}),
    ("npm", "v:@scope/pkg/1.2.3",
     {"integrity": "sha512-" + __import__("base64").b64encode(hashlib.sha512(b"pkg").digest()).decode()}),
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

# Two files and five packages of the other ecosystems.
COUNT=7
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

summary sbom
