"""A small Simple-API upstream for tests/pypi/run.sh, serving DIR/files.

PEP 691 JSON when the client prefers it, PEP 503 HTML otherwise; `beta` and
`gamma` pages are HTML only and `beta` has no PEP 658 metadata files, so both
of airlift's page parsers and its METADATA-from-the-wheel fallback run. It
also plays the misbehaving upstream: a yanked release, a wrong hash
(`badhash`) and a garbage metadata file (`broken`).

Usage: python upstream.py DIR PORT
"""

import hashlib
import http.server
import json
import pathlib
import re
import sys
import tarfile
import zipfile

DIR = pathlib.Path(sys.argv[1])
PORT = int(sys.argv[2])
FILES = DIR / "files"
YANKED = {("beta", "1.2"): "", ("epsilon", "1.0"): "broken build"}
HTML_ONLY = {"beta", "gamma"}
NO_METADATA = {"beta"}
WRONG_HASH = {"badhash"}
BROKEN_METADATA = {"broken"}


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_of(path):
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            return z.read(name)
    with tarfile.open(path) as t:
        member = next(m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        return t.extractfile(member).read()


PROJECTS = {}
METADATA = {}
for path in sorted(FILES.iterdir()):
    stem = path.name[: -len(".whl")] if path.name.endswith(".whl") else path.name[: -len(".tar.gz")]
    name, version = stem.split("-")[:2]
    project = normalize(name)
    meta = metadata_of(path)
    requires_python = None
    for line in meta.decode().splitlines():
        if line.startswith("Requires-Python:"):
            requires_python = line.split(":", 1)[1].strip()
    record = {
        "filename": path.name,
        "url": f"../../files/{path.name}",
        "hashes": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
        "size": path.stat().st_size,
        "upload-time": "2026-01-02T03:04:05.000000Z",
        "yanked": YANKED.get((project, version), False),
    }
    if project in WRONG_HASH:
        record["hashes"]["sha256"] = "0" * 64
    if requires_python:
        record["requires-python"] = requires_python
    if path.name.endswith(".whl") and project not in NO_METADATA:
        body = b"this is not core metadata\n" if project in BROKEN_METADATA else meta
        METADATA[path.name + ".metadata"] = body
        record["core-metadata"] = {"sha256": hashlib.sha256(body).hexdigest()}
    PROJECTS.setdefault(project, []).append(record)


def html_page(project):
    out = [f"<!DOCTYPE html><html><head><title>Links for {project}</title></head><body>"]
    for f in PROJECTS[project]:
        attributes = f'href="{f["url"]}#sha256={f["hashes"]["sha256"]}"'
        if "requires-python" in f:
            attributes += ' data-requires-python="%s"' % f["requires-python"].replace("<", "&lt;").replace(">", "&gt;")
        if f["yanked"] is not False:
            attributes += f' data-yanked="{f["yanked"]}"' if f["yanked"] else " data-yanked"
        if "core-metadata" in f:
            attributes += f' data-dist-info-metadata="sha256={f["core-metadata"]["sha256"]}"'
        out.append(f"<a {attributes}>{f['filename']}</a><br/>")
    out.append("</body></html>")
    return "\n".join(out).encode()


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
        path = self.path.split("?")[0]
        m = re.fullmatch(r"/simple/([^/]+)/", path)
        if m:
            project = m.group(1)
            if project not in PROJECTS:
                return self.send(404, "text/plain", b"no such project\n")
            if "json" in self.headers.get("Accept", "") and project not in HTML_ONLY:
                body = json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": PROJECTS[project]})
                return self.send(200, "application/vnd.pypi.simple.v1+json", body.encode())
            return self.send(200, "text/html", html_page(project))
        m = re.fullmatch(r"/files/([^/]+)", path)
        if m:
            name = m.group(1)
            if name in METADATA:
                return self.send(200, "application/octet-stream", METADATA[name])
            file = FILES / name
            if file.is_file():
                return self.send(200, "application/octet-stream", file.read_bytes())
        self.send(404, "text/plain", b"not found\n")


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
