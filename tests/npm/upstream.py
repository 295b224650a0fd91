"""A small npm registry for tests/npm/run.sh, serving DIR/tarballs.

Packuments are built from the tarballs' package.json (full form, with
`time`, `dist-tags` and `dist.integrity`), at /<name>, /@scope%2fname and
/@scope/name; tarballs at /<name>/-/<base>-<version>.tgz. It also plays the
misbehaving upstream: `fx-bad` states a wrong integrity and `fx-broken`'s
packument is not JSON.

Usage: python upstream.py DIR PORT
"""

import base64
import hashlib
import http.server
import json
import pathlib
import sys
import tarfile
import urllib.parse

DIR = pathlib.Path(sys.argv[1])
PORT = int(sys.argv[2])
BASE = f"http://127.0.0.1:{PORT}"
PACKAGES = {}
TARBALLS = {}


def key(version):
    return tuple(int(x) for x in version.split("-")[0].split("."))


for path in sorted((DIR / "tarballs").iterdir()):
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("package/package.json"))
    name, version = manifest["name"], manifest["version"]
    data = path.read_bytes()
    base = name.split("/")[-1]
    url_path = f"/{name}/-/{base}-{version}.tgz"
    TARBALLS[url_path] = data
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if name == "fx-bad":
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(b"something else").digest()).decode()
    manifest["dist"] = {"tarball": BASE + url_path, "integrity": integrity,
                        "shasum": hashlib.sha1(data).hexdigest()}
    manifest["_id"] = f"{name}@{version}"
    p = PACKAGES.setdefault(name, {"_id": name, "name": name, "description": f"fixture {name}",
                                   "dist-tags": {}, "versions": {},
                                   "time": {"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z"}})
    p["versions"][version] = manifest
    p["time"][version] = "2026-01-01T12:00:00.000Z"
    latest = max(p["versions"], key=key)
    p["dist-tags"]["latest"] = latest


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.unquote(self.path.split("?")[0])
        if path in TARBALLS:
            return self.send(200, "application/octet-stream", TARBALLS[path])
        name = path.lstrip("/")
        if name == "fx-broken":
            return self.send(200, "application/json", b"{this is not json")
        if name in PACKAGES:
            return self.send(200, "application/json", json.dumps(PACKAGES[name]).encode())
        self.send(404, "application/json", b'{"error":"Not found"}')


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
