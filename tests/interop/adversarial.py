#!/usr/bin/env python3
"""Adversarial bundles, made with python-tuf's Metadata API and by hand.

Usage:
    python adversarial.py SITE_KEY_PK8 BUNDLE_A BUNDLE_B OUT_DIR

BUNDLE_A and BUNDLE_B are directory bundles of one site, B packed after A
(a higher version). Each case is written to OUT_DIR/<case>/, a copy of B
with its metadata changed and, where the attack needs it, re-signed with
the site's own key, so only a TUF rule (not a bad signature) can refuse it:

  mix-and-match       B's snapshot and targets under A's timestamp (by hand)
  rolled-back-snapshot  a newer timestamp over a snapshot whose version went
                      back below the last one imported (re-signed)
  expired-timestamp   a newer timestamp that expired in 2000 (re-signed)
  skipped-root        root version 3 (same keys, re-signed) without version 2
  duplicate-signatures  a root v2 with targets threshold 2, and targets
                      signed twice by the same key (by hand)

Prints the cases written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization.json import CanonicalJSONSerializer

CANONICAL = CanonicalJSONSerializer()


def signer_for(pk8: Path, root: Metadata[Root]) -> CryptoSigner:
    # The seed, from the PKCS#8 document (aws-lc writes the v2 form, with the
    # public key, which pyca does not read): OCTET STRING { OCTET STRING }.
    der = pk8.read_bytes()
    at = der.find(bytes([0x04, 0x22, 0x04, 0x20]))
    private = Ed25519PrivateKey.from_private_bytes(der[at + 4 : at + 36])
    public = private.public_key().public_bytes_raw().hex()
    keyid = next(k for k, v in root.signed.keys.items() if v.keyval["public"] == public)
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": public})
    return CryptoSigner(private, key)


def copy(src: Path, out: Path, name: str) -> Path:
    dest = out / name
    shutil.copytree(src, dest)
    return dest


def write(bundle: Path, role: str, md: Metadata, signer: CryptoSigner) -> bytes:
    md.signatures.clear()
    md.sign(signer)
    data = md.to_bytes(CANONICAL)
    (bundle / "metadata" / f"{role}.json").write_bytes(data)
    return data


def repoint(bundle: Path, timestamp_bytes: bytes) -> None:
    """Keeps the unsigned pointer consistent, so only TUF can object."""
    pointer_path = bundle / "airlift-bundle.json"
    pointer = json.loads(pointer_path.read_text())
    pointer["bundle_id"] = "sha256:" + hashlib.sha256(timestamp_bytes).hexdigest()
    pointer_path.write_bytes(json.dumps(pointer, sort_keys=True, separators=(",", ":")).encode())


def meta(bundle: Path, role: str) -> Metadata:
    return Metadata.from_bytes((bundle / "metadata" / f"{role}.json").read_bytes())


def snapshot_meta(snapshot_bytes: bytes, version: int):
    from tuf.api.metadata import MetaFile

    return MetaFile(
        version=version,
        length=len(snapshot_bytes),
        hashes={"sha256": hashlib.sha256(snapshot_bytes).hexdigest()},
    )


def main(argv: list[str]) -> int:
    pk8, a, b, out = Path(argv[1]), Path(argv[2]), Path(argv[3]), Path(argv[4])
    out.mkdir(parents=True, exist_ok=True)
    root: Metadata[Root] = Metadata.from_bytes((b / "metadata" / "1.root.json").read_bytes())
    signer = signer_for(pk8, root)
    version_b = meta(b, "timestamp").signed.version

    # Mix-and-match: every file validly signed, but from two bundles.
    case = copy(b, out, "mix-and-match")
    shutil.copy(a / "metadata" / "timestamp.json", case / "metadata" / "timestamp.json")
    repoint(case, (case / "metadata" / "timestamp.json").read_bytes())

    # A snapshot version that goes back, under a newer timestamp.
    case = copy(b, out, "rolled-back-snapshot")
    snapshot: Metadata[Snapshot] = meta(case, "snapshot")
    snapshot.signed.version = 1
    snapshot_bytes = write(case, "snapshot", snapshot, signer)
    timestamp: Metadata[Timestamp] = meta(case, "timestamp")
    timestamp.signed.version = version_b + 1
    timestamp.signed.snapshot_meta = snapshot_meta(snapshot_bytes, 1)
    repoint(case, write(case, "timestamp", timestamp, signer))

    # A newer timestamp that expired long ago.
    case = copy(b, out, "expired-timestamp")
    timestamp = meta(case, "timestamp")
    timestamp.signed.version = version_b + 2
    timestamp.signed.expires = datetime(2000, 1, 1, tzinfo=timezone.utc)
    repoint(case, write(case, "timestamp", timestamp, signer))

    # Root version 3 without version 2.
    case = copy(b, out, "skipped-root")
    root3: Metadata[Root] = Metadata.from_bytes((b / "metadata" / "1.root.json").read_bytes())
    root3.signed.version = 3
    write(case, "3.root", root3, signer)

    # Targets threshold 2 in a new root, reached by one key signing twice.
    case = copy(b, out, "duplicate-signatures")
    root2: Metadata[Root] = Metadata.from_bytes((b / "metadata" / "1.root.json").read_bytes())
    root2.signed.version = 2
    root2.signed.roles["targets"].threshold = 2
    write(case, "2.root", root2, signer)
    targets_path = case / "metadata" / "targets.json"
    targets = json.loads(targets_path.read_text())
    targets["signatures"] = targets["signatures"] * 2
    targets_bytes = json.dumps(targets, sort_keys=True, separators=(",", ":")).encode()
    targets_path.write_bytes(targets_bytes)
    snapshot = meta(case, "snapshot")
    snapshot.signed.meta["targets.json"].length = len(targets_bytes)
    snapshot.signed.meta["targets.json"].hashes = {"sha256": hashlib.sha256(targets_bytes).hexdigest()}
    snapshot_bytes = write(case, "snapshot", snapshot, signer)
    timestamp = meta(case, "timestamp")
    timestamp.signed.snapshot_meta = snapshot_meta(snapshot_bytes, snapshot.signed.version)
    repoint(case, write(case, "timestamp", timestamp, signer))

    for child in sorted(out.iterdir()):
        print(child.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
