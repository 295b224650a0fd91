"""Builds npm fixture packages with `npm pack` for tests/npm/run.sh.

  @fx/scoped 1.0.0           a scoped package
  fx-left 1.0.0 1.1.0 2.0.0
  fx-mid 1.0.0               needs fx-left ^1, so it nests under a root that has fx-left 2
  fx-script 1.0.0            an install script that writes installed.txt
  fx-peer-host 1.0.0         peerDependencies fx-left >=1
  fx-opt 1.0.0               optionalDependencies fx-linux-only (os linux), fx-win-only (os win32)
  fx-zeta 1.0.0              needs fx-left ^9, which does not exist
  fx-bad 1.0.0               the upstream states a wrong integrity (tests/npm/upstream.py)

Usage: python fixtures.py OUT_DIR   (OUT_DIR/tarballs receives the .tgz files)
"""

import json
import pathlib
import subprocess
import sys

OUT = pathlib.Path(sys.argv[1])
SRC = OUT / "src"
TARBALLS = OUT / "tarballs"


def package(name, version, **fields):
    root = SRC / f"{name.replace('/', '+')}-{version}"
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"name": name, "version": version, "main": "index.js", "license": "MIT", **fields}
    (root / "package.json").write_text(json.dumps(manifest, indent=2))
    (root / "index.js").write_text(f"module.exports = {json.dumps(name + ' ' + version)};\n")
    done = subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(TARBALLS)],
                          cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"npm pack {name}@{version} failed:\n{done.stdout}\n{done.stderr}")


def main():
    TARBALLS.mkdir(parents=True, exist_ok=True)
    package("@fx/scoped", "1.0.0")
    for version in ["1.0.0", "1.1.0", "2.0.0"]:
        package("fx-left", version)
    package("fx-mid", "1.0.0", dependencies={"fx-left": "^1"})
    package("fx-script", "1.0.0",
            scripts={"install": "node -e \"require('fs').writeFileSync('installed.txt', 'yes')\""})
    package("fx-peer-host", "1.0.0", peerDependencies={"fx-left": ">=1"})
    package("fx-linux-only", "1.0.0", os=["linux"])
    package("fx-win-only", "1.0.0", os=["win32"])
    package("fx-opt", "1.0.0", optionalDependencies={"fx-linux-only": "1.0.0", "fx-win-only": "1.0.0"})
    package("fx-zeta", "1.0.0", dependencies={"fx-left": "^9"})
    package("fx-bad", "1.0.0")
    for path in sorted(TARBALLS.iterdir()):
        print(path.name)


main()
