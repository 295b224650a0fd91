#!/usr/bin/env python3
"""Verify an airlift bundle directory with python-tuf, independently of airlift.

Usage:
    python tuf_verify.py --root TRUSTED_ROOT_JSON BUNDLE_DIR
    python tuf_verify.py --root TRUSTED_ROOT_JSON --self-test BUNDLE_DIR

The TUF work is done by the reference client, ``tuf.ngclient.Updater``: it
starts from the trusted root, walks ``metadata/N.root.json`` upwards, then
verifies timestamp, snapshot and targets (signatures, thresholds, versions,
expiry, lengths and hashes).  Every target listed in the verified
``targets.json`` is then downloaded through the same client, which checks its
length and hashes.  The "network" is a fetcher that reads the bundle
directory, so nothing here touches a network.

On top of that, a few checks of the airlift layout (docs/reference/
bundle-format.md) that python-tuf cannot know about:

* every file under ``targets/`` is a listed target (no extras, no symlinks);
* ``metadata/`` holds only root versions and the three role files;
* every metadata file is OLPC canonical JSON, byte for byte;
* a bundle copy of the trusted root's version is byte-identical to it;
* a blob target ``blobs/sha256/<hex>`` is signed with sha256 ``<hex>``;
* index documents name their ecosystem and reference signed blobs only;
* the unsigned pointer ``airlift-bundle.json`` agrees with the metadata.

Prints one line per check and ends with ``tuf-verify: N passed, M failed``.
Exits 0 when nothing failed, 1 otherwise (2 for usage errors).

``--self-test`` verifies copies of the bundle instead: the untouched copy must
pass, and a copy with one flipped blob byte and one with a corrupted
``targets.json`` must each be rejected.  That shows the verifier can fail.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO
from urllib import parse

from securesystemslib.formats import encode_canonical
from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

# The Updater wants URLs. Every URL it builds starts with this prefix and the
# fetcher maps the rest onto the bundle directory.
BASE_URL = "file:///bundle/"
METADATA_URL = BASE_URL + "metadata/"
TARGETS_URL = BASE_URL + "targets/"

POINTER_FORMAT = "airlift-bundle/1"
CHUNK = 1 << 20

# Size limits of docs/reference/bundle-format.md, so that python-tuf's own
# (smaller) defaults do not refuse a bundle that airlift accepts.
MiB = 1 << 20
CONFIG = UpdaterConfig(
    max_root_rotations=1024,
    root_max_length=1 * MiB,
    timestamp_max_length=1 * MiB,
    snapshot_max_length=1 * MiB,
    targets_max_length=256 * MiB,
)

ROOT_NAME = re.compile(r"^([1-9][0-9]*)\.root\.json$")
ROLE_FILES = ("snapshot.json", "targets.json", "timestamp.json")
BLOB_TARGET = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
INDEX_TARGET = re.compile(r"^index/([^/]+)\.json$")


class BundleFetcher(FetcherInterface):
    """Serves ``file:///bundle/<name>`` from a bundle directory.

    A missing file is an HTTP 404, which is what makes the Updater stop
    probing for ``N+1.root.json``.  Symbolic links, non-regular files and
    names that could leave the bundle are refused outright.
    """

    def __init__(self, bundle_dir: Path) -> None:
        self._dir = bundle_dir

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(BASE_URL):
            raise exceptions.DownloadError(f"{url}: not a bundle URL")
        parts = parse.unquote(url[len(BASE_URL) :]).split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise exceptions.DownloadError(f"{url}: unsafe name")
        path = self._dir
        for part in parts:
            path = path / part
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                raise exceptions.DownloadHTTPError(f"{url}: not in the bundle", 404) from None
            if stat.S_ISLNK(mode):
                raise exceptions.DownloadError(f"{url}: symbolic link refused")
        if not stat.S_ISREG(mode):
            raise exceptions.DownloadError(f"{url}: not a regular file")
        # Open now, so that a missing file fails at call time, not mid-stream.
        return _chunks(path.open("rb"))


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class Report:
    """Counts checks and prints one line for each."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    def ok(self, name: str, detail: str) -> None:
        self.passed += 1
        print(f"PASS {name}: {detail}", file=self.out)

    def fail(self, name: str, detail: str) -> None:
        self.failed += 1
        self.failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=self.out)

    def summary(self) -> str:
        return f"tuf-verify: {self.passed} passed, {self.failed} failed"


def describe(error: BaseException) -> str:
    """``Type: message``, plus the cause that python-tuf often wraps."""
    text = f"{type(error).__name__}: {error}"
    if error.__cause__ is not None:
        text += f" (caused by {type(error.__cause__).__name__}: {error.__cause__})"
    return text


def verify(root_path: Path, bundle: Path, out: TextIO) -> Report:
    """Runs every check on one bundle directory."""
    report = Report(out)
    try:
        trusted_root = root_path.read_bytes()
        trusted_version = Metadata[Root].from_bytes(trusted_root).signed.version
    except Exception as error:  # noqa: BLE001 - any failure is a failed check
        report.fail("trusted root", f"{root_path}: {describe(error)}")
        return report
    if not bundle.is_dir() or bundle.is_symlink():
        report.fail("bundle", f"{bundle}: not a directory")
        return report

    check_metadata_files(bundle, trusted_root, trusted_version, report)

    with tempfile.TemporaryDirectory(prefix="tuf-verify-") as work:
        metadata_dir = Path(work, "metadata")
        download_dir = Path(work, "targets")
        metadata_dir.mkdir()
        download_dir.mkdir()

        # TUF client workflow: trusted root, root chain, timestamp, snapshot,
        # targets. Any failure here means nothing else can be trusted.
        try:
            updater = Updater(
                metadata_dir=str(metadata_dir),
                metadata_base_url=METADATA_URL,
                target_dir=str(download_dir),
                target_base_url=TARGETS_URL,
                fetcher=BundleFetcher(bundle),
                config=CONFIG,
                bootstrap=trusted_root,
            )
            updater.refresh()
        except Exception as error:  # noqa: BLE001
            report.fail("tuf refresh", describe(error))
            return report

        # The Updater stores each role only after verifying it, so these files
        # are the verified metadata (read through the public API).
        root = Metadata[Root].from_file(str(metadata_dir / "root.json")).signed
        timestamp_bytes = (metadata_dir / "timestamp.json").read_bytes()
        timestamp = Metadata[Timestamp].from_bytes(timestamp_bytes).signed
        snapshot = Metadata[Snapshot].from_file(str(metadata_dir / "snapshot.json")).signed
        targets = Metadata[Targets].from_file(str(metadata_dir / "targets.json")).signed
        report.ok(
            "tuf refresh",
            f"trusted root v{trusted_version} -> root v{root.version}; timestamp "
            f"v{timestamp.version}, snapshot v{snapshot.version}, targets "
            f"v{targets.version}; {len(targets.targets)} targets",
        )
        if targets.delegations is not None:
            # airlift signs everything with the top-level targets role; a
            # delegation would hide targets from the walk below.
            report.fail("delegations", "targets.json delegates, airlift bundles never do")

        for name in sorted(targets.targets):
            check_target(updater, name, targets, download_dir, report)

    check_no_extras(bundle, set(targets.targets), report)
    check_pointer(bundle, timestamp.version, timestamp_bytes, report)
    return report


def check_metadata_files(
    bundle: Path, trusted_root: bytes, trusted_version: int, report: Report
) -> None:
    """Layout of ``metadata/``, canonical JSON, and the trusted root's copy."""
    metadata = bundle / "metadata"
    if not metadata.is_dir() or metadata.is_symlink():
        report.fail("metadata layout", "metadata/ is missing or not a directory")
        return
    unexpected = []
    roots = []
    for entry in sorted(metadata.iterdir()):
        match = ROOT_NAME.match(entry.name)
        if entry.is_symlink() or not entry.is_file():
            unexpected.append(f"{entry.name} (not a regular file)")
        elif match:
            roots.append(int(match.group(1)))
        elif entry.name not in ROLE_FILES:
            unexpected.append(entry.name)
    if unexpected:
        report.fail("metadata layout", "unexpected: " + ", ".join(unexpected))
    else:
        report.ok("metadata layout", f"roots {sorted(roots)} and {', '.join(ROLE_FILES)}")

    for name in [f"{n}.root.json" for n in sorted(roots)] + list(ROLE_FILES):
        path = metadata / name
        if not path.is_file() or path.is_symlink():
            continue  # reported above, or left to the TUF client (missing role)
        try:
            data = path.read_bytes()
            canonical = encode_canonical(json.loads(data)).encode()
        except Exception as error:  # noqa: BLE001
            report.fail(f"canonical metadata/{name}", describe(error))
            continue
        if canonical == data:
            report.ok(f"canonical metadata/{name}", "OLPC canonical JSON")
        else:
            report.fail(f"canonical metadata/{name}", "not byte-identical to its canonical form")

    copy = metadata / f"{trusted_version}.root.json"
    if copy.is_file() and not copy.is_symlink():
        if copy.read_bytes() == trusted_root:
            report.ok("trusted root copy", f"metadata/{copy.name} is byte-identical")
        else:
            report.fail(
                "trusted root copy",
                f"metadata/{copy.name} differs from the trusted root (altered, or another site's)",
            )


def check_target(
    updater: Updater, name: str, targets: Targets, download_dir: Path, report: Report
) -> None:
    """Downloads one target through the Updater, which checks length and hashes."""
    label = f"target {name}"
    try:
        info = updater.get_targetinfo(name)
        if info is None:
            report.fail(label, "listed in targets.json but unknown to the updater")
            return
        path = Path(updater.download_target(info, str(download_dir / parse.quote(name, ""))))
    except Exception as error:  # noqa: BLE001
        report.fail(label, describe(error))
        return
    try:
        blob = BLOB_TARGET.match(name)
        index = INDEX_TARGET.match(name)
        if blob and info.hashes.get("sha256") != blob.group(1):
            report.fail(label, "signed sha256 differs from the digest in its name")
        elif index:
            check_index(label, index.group(1), path, targets, report)
        elif not blob:
            report.fail(
                label, "not an airlift target name (blobs/sha256/<hex> or index/<eco>.json)"
            )
        else:
            report.ok(label, f"{info.length} bytes, hashes match")
    finally:
        path.unlink()


def check_index(label: str, ecosystem: str, path: Path, targets: Targets, report: Report) -> None:
    """An index document must reference only signed blobs, at their signed length."""
    try:
        document = json.loads(path.read_bytes())
        problems = []
        if document.get("ecosystem") != ecosystem:
            problems.append(f"ecosystem {document.get('ecosystem')!r} differs from its name")
        entries = document.get("entries")
        if not isinstance(entries, list):
            raise ValueError("entries is not a list")
        for entry in entries:
            digest = str(entry.get("digest", ""))
            signed = targets.targets.get("blobs/sha256/" + digest.removeprefix("sha256:"))
            if not digest.startswith("sha256:") or signed is None:
                problems.append(f"{entry.get('key')!r}: {digest} is not a signed blob")
            elif entry.get("size") != signed.length:
                problems.append(
                    f"{entry.get('key')!r}: size {entry.get('size')} != {signed.length}"
                )
    except Exception as error:  # noqa: BLE001
        report.fail(label, f"unreadable index document: {describe(error)}")
        return
    if problems:
        report.fail(label, "; ".join(problems[:5]))
    else:
        report.ok(label, f"hashes match; {len(entries)} entries, all referencing signed blobs")


def check_no_extras(bundle: Path, listed: set[str], report: Report) -> None:
    """Every file under ``targets/`` must be a listed target."""
    root = bundle / "targets"
    extras = []
    count = 0
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                extras.append(f"{relative} (symbolic link)")
            elif name in filenames:
                count += 1
                if relative not in listed:
                    extras.append(relative)
    for extra in sorted(extras):
        report.fail("unlisted file", f"targets/{extra} is not a signed target")
    if not extras:
        report.ok("no extras", f"all {count} files under targets/ are signed targets")


def check_pointer(bundle: Path, version: int, timestamp_bytes: bytes, report: Report) -> None:
    """The unsigned pointer must agree with the verified timestamp."""
    try:
        pointer = json.loads((bundle / "airlift-bundle.json").read_bytes())
    except Exception as error:  # noqa: BLE001
        report.fail("pointer", f"airlift-bundle.json: {describe(error)}")
        return
    bundle_id = "sha256:" + hashlib.sha256(timestamp_bytes).hexdigest()
    problems = []
    if pointer.get("format") != POINTER_FORMAT:
        problems.append(f"format {pointer.get('format')!r}")
    if pointer.get("version") != version:
        problems.append(f"version {pointer.get('version')!r} != timestamp v{version}")
    if pointer.get("bundle_id") != bundle_id:
        problems.append(f"bundle_id {pointer.get('bundle_id')!r} != {bundle_id}")
    if problems:
        report.fail("pointer", "; ".join(problems))
    else:
        report.ok("pointer", f"{POINTER_FORMAT}, version {version}, {bundle_id}")


def flip_byte(path: Path) -> str:
    """Flips the lowest bit of the middle byte of a file, in place."""
    data = bytearray(path.read_bytes())
    if not data:
        path.write_bytes(b"\x00")
        return f"{path.name}: empty file given one byte"
    offset = len(data) // 2
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    return f"{path.name}: flipped byte {offset}"


def flip_first_blob(bundle: Path) -> str:
    blobs = sorted((bundle / "targets" / "blobs" / "sha256").iterdir())
    if not blobs:
        raise RuntimeError("the bundle has no blob to tamper with")
    return flip_byte(blobs[0])


def corrupt_targets(bundle: Path) -> str:
    return flip_byte(bundle / "metadata" / "targets.json")


def self_test(root_path: Path, bundle: Path, out: TextIO) -> Report:
    """Verifies tampered copies of the bundle: they must be rejected.

    Each tampered copy must be rejected by python-tuf itself (the check whose
    name starts with the given prefix), not only by the airlift extras.
    """
    report = Report(out)
    cases: list[tuple[str, Callable[[Path], str] | None, str]] = [
        ("untouched copy", None, ""),
        ("flipped blob byte", flip_first_blob, "target blobs/"),
        ("corrupted targets.json", corrupt_targets, "tuf refresh"),
    ]
    with tempfile.TemporaryDirectory(prefix="tuf-verify-self-test-") as work:
        for number, (name, tamper, rejected_by) in enumerate(cases):
            copy = Path(work, str(number))
            shutil.copytree(bundle, copy, symlinks=True)
            try:
                change = tamper(copy) if tamper else "no change"
            except Exception as error:  # noqa: BLE001
                report.fail(f"self-test {name}", f"could not tamper: {describe(error)}")
                continue
            log = io.StringIO()
            inner = verify(root_path, copy, log)
            by_tuf = [f for f in inner.failures if rejected_by and f.startswith(rejected_by)]
            if tamper is None and not inner.failures:
                report.ok(f"self-test {name}", "accepted")
            elif tamper is not None and by_tuf:
                report.ok(f"self-test {name}", f"{change}; rejected ({by_tuf[0]})")
            else:
                if tamper is None:
                    verdict = "rejected, must be accepted"
                else:
                    verdict = f"not rejected by a {rejected_by!r} check"
                report.fail(f"self-test {name}", f"{change}; {verdict}")
                for line in log.getvalue().splitlines():
                    print(f"    {line}", file=out)
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="trusted root metadata (JSON)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check that tampered copies of BUNDLE_DIR are rejected",
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", type=Path, help="airlift bundle directory")
    args = parser.parse_args(argv)

    run = self_test if args.self_test else verify
    report = run(args.root, args.bundle, sys.stdout)
    print(report.summary())
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
