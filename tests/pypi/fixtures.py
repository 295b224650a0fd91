"""Builds the Python fixture packages for tests/pypi/run.sh.

Small local projects are built with `python -m build` (setuptools, no build
isolation) and one wheel is retagged with `python -m wheel tags` into
platform-specific wheels, so the upstream holds real wheels and sdists:

  alpha 1.0, 2.0   2.0 needs Beta>=1.1, gamma on Python < 3.12, a Windows-only
                   package (never collected for Linux), extra [fast] -> delta
  beta 1.0-1.2     1.2 is yanked upstream; pages served as HTML
  gamma 0.5        sdist only, needs beta
  delta 1.0        cp311 and cp312 manylinux wheels, a win_amd64 wheel, sdist
  epsilon 1.0      yanked ("broken build"): only an exact pin takes it
  zeta 1.0         needs beta>=5, which does not exist
  badhash 1.0      the upstream states a wrong sha256
  broken 1.0       the upstream's PEP 658 metadata file is garbage

Usage: python fixtures.py OUT_DIR   (OUT_DIR/files receives the distributions)
"""

import json
import pathlib
import shutil
import subprocess
import sys
import textwrap

OUT = pathlib.Path(sys.argv[1])
SRC = OUT / "src"
FILES = OUT / "files"


def project(name, version, deps=(), extras=None, requires_python=None, sdist_only=False):
    root = SRC / f"{name}-{version}"
    package = root / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f'VERSION = "{version}"\n')
    lines = [
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f'name = "{name}"',
        f'version = "{version}"',
        f"dependencies = {json.dumps(list(deps))}",
    ]
    if requires_python:
        lines.append(f'requires-python = "{requires_python}"')
    if extras:
        lines.append("")
        lines.append("[project.optional-dependencies]")
        for extra, needs in extras.items():
            lines.append(f"{extra} = {json.dumps(list(needs))}")
    lines += ["", "[tool.setuptools]", f'packages = ["{name}"]', ""]
    (root / "pyproject.toml").write_text("\n".join(lines))
    kinds = ["--sdist"] if sdist_only else ["--sdist", "--wheel"]
    run([sys.executable, "-m", "build", "--no-isolation", *kinds, "--outdir", str(FILES), str(root)])


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def main():
    FILES.mkdir(parents=True, exist_ok=True)
    project("alpha", "1.0", deps=["beta>=1.0"])
    project(
        "alpha",
        "2.0",
        deps=["Beta>=1.1", "gamma; python_version < '3.12'", "winonly-fixture; sys_platform == 'win32'"],
        extras={"fast": ["delta>=1.0"]},
        requires_python=">=3.8",
    )
    for version in ["1.0", "1.1", "1.2"]:
        project("beta", version)
    project("gamma", "0.5", deps=["beta"], sdist_only=True)
    project("delta", "1.0")
    pure = FILES / "delta-1.0-py3-none-any.whl"
    for python, platform in [("cp311", "manylinux_2_17_x86_64"), ("cp312", "manylinux_2_17_x86_64"), ("cp311", "win_amd64")]:
        run([sys.executable, "-m", "wheel", "tags", "--python-tag", python, "--abi-tag", python,
             "--platform-tag", platform, str(pure)])
    pure.unlink()
    project("epsilon", "1.0")
    project("zeta", "1.0", deps=["beta>=5"])
    project("badhash", "1.0")
    project("broken", "1.0")
    shutil.rmtree(SRC)
    for path in sorted(FILES.iterdir()):
        print(path.name)


main()
