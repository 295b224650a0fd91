"""Builds a static sparse registry of small crates for tests/cargo/run.sh.

Each crate is a real `.crate` (a gzipped tar of `<name>-<version>/` with
Cargo.toml and src/lib.rs) and the index lines are written as cargo's
registry writes them, so cargo can build everything from it:

  fx-util 1.0.0, 1.1.0, 1.2.0   1.2.0 is yanked
  fx-core 0.3.0                 needs fx-util ^1, build-dependency fx-build,
                                dev-dependency fx-dev (never carried),
                                optional fx-extra behind feature "extra",
                                fx-win only on cfg(windows) (carried anyway)
  fx-extra, fx-build, fx-win, fx-dev 1.0.0 / 0.1.0
  fx-zeta 1.0.0                 needs fx-util ^5, which does not exist
  fx-bad 1.0.0                  the index states a wrong checksum
  fx-broken                     its index file is not JSON
  fx-feat 1.0.0, 1.1.0          feature "more" enables fx-optdep-old (1.0.0) or
                                fx-optdep-new (1.1.0)
  fx-pin 1.0.0                  needs fx-feat =1.0.0: a project that also asks
                                for fx-feat ^1 with "more" builds 1.0.0 with
                                "more", so fx-optdep-old must be carried

Layout: OUT/index/config.json, OUT/index/<bucket>/<name>, OUT/dl/<name>-<version>.crate
Usage: python fixtures.py OUT_DIR PORT
"""

import gzip
import hashlib
import io
import json
import pathlib
import sys
import tarfile

OUT = pathlib.Path(sys.argv[1])
PORT = sys.argv[2]


def bucket(name):
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def dep(name, req, kind="normal", optional=False, target=None, features=()):
    return {"name": name, "req": req, "features": list(features), "optional": optional,
            "default_features": True, "target": target, "kind": kind}


def toml_deps(deps):
    sections = {}
    for d in deps:
        table = {"normal": "dependencies", "build": "build-dependencies", "dev": "dev-dependencies"}[d["kind"]]
        if d["target"]:
            table = f"target.'{d['target']}'.{table}"
        line = f'{d["name"]} = {{ version = "{d["req"]}"' + (", optional = true" if d["optional"] else "") + " }"
        sections.setdefault(table, []).append(line)
    return "".join(f"\n[{t}]\n" + "\n".join(lines) + "\n" for t, lines in sections.items())


def publish(name, version, deps=(), features=None, yanked=False, lib=None, build=None, wrong_cksum=False):
    features = features or {}
    manifest = f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
    if build:
        manifest += 'build = "build.rs"\n'
    manifest += toml_deps(deps)
    if features:
        manifest += "\n[features]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in features.items())
    files = {"Cargo.toml": manifest, "src/lib.rs": lib or f'pub fn id() -> &\'static str {{ "{name} {version}" }}\n'}
    if build:
        files["build.rs"] = build
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    crate = gzip.compress(raw.getvalue(), mtime=0)
    (OUT / "dl").mkdir(parents=True, exist_ok=True)
    (OUT / "dl" / f"{name}-{version}.crate").write_bytes(crate)
    cksum = hashlib.sha256(crate).hexdigest()
    if wrong_cksum:
        cksum = "0" * 64
    line = {"name": name, "vers": version, "deps": list(deps), "cksum": cksum,
            "features": features, "yanked": yanked, "links": None}
    index = OUT / "index" / bucket(name)
    index.parent.mkdir(parents=True, exist_ok=True)
    with open(index, "a") as f:
        f.write(json.dumps(line, separators=(",", ":")) + "\n")


def main():
    (OUT / "index").mkdir(parents=True, exist_ok=True)
    (OUT / "index" / "config.json").write_text(
        json.dumps({"dl": f"http://127.0.0.1:{PORT}/dl/{{crate}}-{{version}}.crate"}))
    for version, yanked in [("1.0.0", False), ("1.1.0", False), ("1.2.0", True)]:
        publish("fx-util", version, yanked=yanked)
    publish("fx-extra", "0.1.0")
    publish("fx-build", "1.0.0", lib='pub fn stamp() -> &\'static str { "built" }\n')
    publish("fx-win", "1.0.0")
    publish("fx-dev", "1.0.0")
    publish(
        "fx-core", "0.3.0",
        deps=[dep("fx-util", "^1"), dep("fx-build", "^1", kind="build"), dep("fx-dev", "^1", kind="dev"),
              dep("fx-extra", "^0.1", optional=True), dep("fx-win", "^1", target="cfg(windows)")],
        features={"extra": ["dep:fx-extra"]},
        build='fn main() { println!("cargo:rustc-env=FX_BUILD={}", fx_build::stamp()); }\n',
        lib='pub fn describe() -> String {\n'
            '    #[cfg(feature = "extra")]\n    let extra = fx_extra::id();\n'
            '    #[cfg(not(feature = "extra"))]\n    let extra = "no extra";\n'
            '    format!("{} + {} ({})", fx_util::id(), extra, env!("FX_BUILD"))\n}\n',
    )
    publish("fx-zeta", "1.0.0", deps=[dep("fx-util", "^5")])
    publish("fx-optdep-old", "1.0.0")
    publish("fx-optdep-new", "1.0.0")
    publish("fx-feat", "1.0.0", deps=[dep("fx-optdep-old", "^1", optional=True)],
            features={"more": ["dep:fx-optdep-old"]},
            lib='#[cfg(feature = "more")]\npub fn id() -> &\'static str { fx_optdep_old::id() }\n')
    publish("fx-feat", "1.1.0", deps=[dep("fx-optdep-new", "^1", optional=True)],
            features={"more": ["dep:fx-optdep-new"]},
            lib='#[cfg(feature = "more")]\npub fn id() -> &\'static str { fx_optdep_new::id() }\n')
    publish("fx-pin", "1.0.0", deps=[dep("fx-feat", "=1.0.0")])
    publish("fx-bad", "1.0.0", wrong_cksum=True)
    broken = OUT / "index" / bucket("fx-broken")
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("this is not an index line\n")


main()
