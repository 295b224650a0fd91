#!/usr/bin/env bash
# The web UI (/ui/) in a real browser, inside the gap.
#
# The connected side collects two plain files (file:// URLs), packs a signed
# bundle, and a courier signs a hand-off. The isolated side trusts the root,
# requires the courier's hand-off (a custody policy) and imports the bundle;
# then a generation with one entry of each other ecosystem is written
# straight into the index (the shape each collect writes, as
# tests/sbom/run.sh does; pages read only the index), among them a file
# whose key is markup. `airlift serve` runs inside a network namespace with
# only loopback, behind access rules: users read, `admin` may move
# environments, anonymous callers get a login prompt.
#
# tests/ui/browse.py then drives headless Chromium (Debian's chromium and
# chromium-driver) with Selenium (pinned in tests/ui/requirements.txt): every
# page under its own Content-Security-Policy, the main flows (search a
# package, open an image, read an import's custody chain, filter the audit
# log, promote and roll back when the binary has environments), a
# screenshot of each page (kept under the work directory's screenshots/,
# which KEEP=1 keeps), and axe-core (pinned in tests/ui/package-lock.json,
# installed once into the user's cache) on every page, failing on any
# serious or critical violation.
#
# Usage: AIRLIFT=path/to/airlift PYTHON=venv/bin/python tests/ui/run.sh
#   PYTHON: a python with tests/ui/requirements.txt installed.
#   Ports 5131-5132 on loopback (inside the namespace).
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
: "${PYTHON:?set PYTHON to a python with tests/ui/requirements.txt installed}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-ui
CHECK_LOG=$WORK/ui.log
HERE=$ROOT/tests/ui
SHOTS=$WORK/screenshots
mkdir -p "$SHOTS"

for tool in chromium chromedriver; do
    command -v "$tool" >/dev/null || { echo "tests/ui/run.sh needs $tool (apt-get install chromium chromium-driver)" >&2; exit 1; }
done

# axe-core, pinned by the lockfile, installed once per lockfile.
AXE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/airlift-peers/axe-core-$(sha256sum "$HERE/package-lock.json" | cut -c1-16)
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
    rm -rf "$AXE_DIR"
    mkdir -p "$AXE_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$AXE_DIR/"
    (cd "$AXE_DIR" && npm ci --no-audit --no-fund --silent >&2)
fi
AXE=$AXE_DIR/node_modules/axe-core/axe.min.js

# The connected side: two files, a signed bundle, a courier's hand-off.
H=$WORK/connected
mkdir -p "$WORK/files"
: >"$WORK/airlift.toml"
for name in tool.bin readme.txt; do
    echo "the $name" >"$WORK/files/$name"
    digest=$(sha256sum "$WORK/files/$name" | cut -d' ' -f1)
    printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "dist/%s"\n\n' \
        "$WORK/files/$name" "$digest" "$name" >>"$WORK/airlift.toml"
done
check "collect two files" "$AIRLIFT" --home "$H" collect --config "$WORK/airlift.toml"
check "keys init" "$AIRLIFT" --home "$H" keys init
check "pack" "$AIRLIFT" --home "$H" pack --out "$WORK/bundle"
check "a courier's key" "$AIRLIFT" --home "$H" keys new courier --dir "$WORK/people"
check "the courier signs a hand-off" "$AIRLIFT" --home "$H" custody sign "$WORK/bundle" \
    --as courier --to site --key "$WORK/people/courier.pk8" --note "seal 42"

# The isolated side: trust, a custody policy, the import.
G=$WORK/site
check "init trust" "$AIRLIFT" --home "$G" init --trust "$H/keys/roots/1.root.json"
printf 'required = ["courier"]\nmin-handoffs = 1\n[signers]\ncourier = "%s/people/courier.pub.json"\n' "$WORK" >"$WORK/custody.toml"
check "custody policy" "$AIRLIFT" --home "$G" custody policy "$WORK/custody.toml"
check "import the bundle with its hand-off" "$AIRLIFT" --home "$G" import "$WORK/bundle"
# A site CA and server certificate, whose expiry the overview shows.
check "tls init" "$AIRLIFT" --home "$G" tls init

# One entry of each other ecosystem, and a key that is markup, as a new
# generation that keeps the imported entries.
check "a generation with an entry of every ecosystem" python3 - "$G/store/index.sqlite" <<'PY'
import hashlib, json, sqlite3, sys, time

def sha(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

manifest = sha("manifest")
entries = [
    ("pypi", "f:flask/flask-3.0.0-py3-none-any.whl", {"version": "3.0.0"}),
    ("cargo", "c:itoa/1.0.11", {"license": "MIT OR Apache-2.0"}),
    ("npm", "v:left-pad/1.3.0", {"integrity": "sha512-" + "A" * 86 + "==", "manifest": {"license": "WTFPL"}}),
    ("npm", "v:@scope/pkg/1.2.3", {"integrity": "sha512-" + "B" * 86 + "=="}),
    ("oci", f"m:team/app@{manifest}", {}),
    ("oci", "t:team/app:1.0", {}),
    ("apt", "debian/pool/main/h/hello/hello_2.10-3_amd64.deb",
     {"package": "hello", "version": "2.10-3", "architecture": "amd64"}),
    ("files", "dist/<script>alert(1)</script>.txt", {}),
]
db = sqlite3.connect(sys.argv[1])
with db:
    (last,) = db.execute("SELECT max(id) FROM generations").fetchone()
    (live,) = db.execute("SELECT entries FROM generations WHERE id = ?", (last,)).fetchone()
    new = last + 1
    db.execute("INSERT INTO generations (id, created_at, source, entries) VALUES (?, ?, 'ui test', ?)",
               (new, int(time.time()), live + len(entries)))
    for ecosystem, key, meta in entries:
        digest = manifest if key.startswith(("m:", "t:")) else sha(key)
        db.execute("INSERT INTO entries (ecosystem, key, added_in, removed_in, digest, size, meta) "
                   "VALUES (?, ?, ?, NULL, ?, 100, ?)", (ecosystem, key, new, digest, json.dumps(meta)))
    db.execute("INSERT INTO state (key, value) VALUES ('current_generation', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(new),))
PY

# Users: alice reads; admin may also move environments.
printf 'a long reader pass phrase\n' | "$AIRLIFT" --home "$G" user add alice --password-stdin >>"$CHECK_LOG" 2>&1
printf 'a long admin pass phrase\n' | "$AIRLIFT" --home "$G" user add admin --password-stdin >>"$CHECK_LOG" 2>&1
cat >"$G/access.toml" <<'TOML'
[[rule]]
read = ["authenticated"]

[[rule]]
ecosystems = ["ui"]
names = ["staging", "production"]
admin = ["admin"]
TOML
ENVIRONMENTS=0
if "$AIRLIFT" env --help >/dev/null 2>&1; then
    ENVIRONMENTS=1
    check "environments: production pinned to the imported generation" \
        "$AIRLIFT" --home "$G" env create production --at 1
fi

gap() {
    start_server "$G" 5131
    check "anonymous: /ui/ asks for a login" \
        sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5131/ui/)\" = 401 ]"
    check "alice reads /ui/, under the UI's own policy" \
        sh -c "curl -fsS -D - -o /dev/null -u 'alice:a long reader pass phrase' http://127.0.0.1:5131/ui/ | grep -qi \"^content-security-policy: default-src 'none'; style-src 'self'\""
    check "alice may not move an environment" \
        sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'alice:a long reader pass phrase' -H 'Origin: http://127.0.0.1:5131' -d from=default http://127.0.0.1:5131/ui/environments/production/promote)\" = 403 ]"
    check "admin, from another site: refused" \
        sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:a long admin pass phrase' -H 'Origin: http://evil.example.com' -d from=default http://127.0.0.1:5131/ui/environments/production/promote)\" = 403 ]"
    add_result "$("$PYTHON" "$HERE/browse.py" http://127.0.0.1:5131 admin 'a long admin pass phrase' \
        "$AXE" "$SHOTS" "$ENVIRONMENTS" 2>>"$CHECK_LOG")"
}
export AIRLIFT WORK CHECK_LOG HERE SHOTS AXE PYTHON ENVIRONMENTS G
echo "screenshots: $SHOTS (KEEP=1 keeps them)"
output=$(in_gap gap 2>&1) || true
finish ui "$output"
