"""Independent checks of airlift's audit log and signed statements.

  audit_verify.py log HOME     recompute the RFC 6962 tree of HOME/audit/log.jsonl
                               and verify HOME/audit/checkpoint as a C2SP signed
                               note with the key in HOME/audit/note.pub
                               (pyca/cryptography Ed25519, hashlib)
  audit_verify.py dsse FILE    verify a DSSE envelope (a receipt) with
                               securesystemslib's DSSE implementation and the
                               Ed25519 key its signature names

Prints `PASS ...` or `FAIL ...` and exits 0 or 1.
"""

import base64
import hashlib
import json
import pathlib
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_hash(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def check_log(home):
    audit = pathlib.Path(home) / "audit"
    name, key_hash_hex, key_b64 = (audit / "note.pub").read_text().strip().split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 1 and len(key) == 33, "verifier key is not Ed25519"
    public = key[1:]
    expected_hash = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]
    assert expected_hash.hex() == key_hash_hex, "verifier key hash mismatch"
    lines = (audit / "log.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"", "log does not end with a newline"
    lines = lines[:-1]
    for i, line in enumerate(lines):
        assert json.loads(line)["index"] == i, f"line {i + 1} is not entry {i}"
    text = (audit / "checkpoint").read_text()
    body, signatures = text.split("\n\n", 1)
    body += "\n"
    origin, size, root = body.splitlines()[:3]
    assert origin == name, "checkpoint origin is not the key's name"
    ok = False
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            continue
        signer, blob = line[2:].rsplit(" ", 1)
        blob = base64.b64decode(blob)
        if signer != name or blob[:4] != expected_hash:
            continue
        Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], body.encode())
        ok = True
    assert ok, "no signature by the log's key"
    assert int(size) == len(lines), f"checkpoint covers {size} entries, log has {len(lines)}"
    assert base64.b64decode(root) == tree_hash([leaf(l) for l in lines]), "tree hash differs"
    return f"{len(lines)} entries, signed tree head verified"


def check_dsse(path):
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    data = json.loads(pathlib.Path(path).read_text())
    keyid = data["signatures"][0]["keyid"]
    envelope = Envelope.from_dict(data)  # consumes the dict's signatures
    public = base64.b64decode(keyid.split("+", 2)[2])[1:]
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": public.hex()})
    envelope.verify([key], 1)
    payload = json.loads(envelope.pae().split(b" ", 4)[4])
    assert payload["format"] == "airlift-receipt/1", "not a receipt"
    return f"{len(payload['blobs'])} blobs, signature verified by securesystemslib"


def check_handoffs(chain, bundle_id, *public_files):
    """A chain of hand-off statements: DSSE envelopes verified with
    securesystemslib, in-toto Statement v1 structure, and the links."""
    import hashlib

    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    keys = []
    for path in public_files:
        obj = json.loads(pathlib.Path(path).read_text())
        keyid = hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        keys.append(SSlibKey(keyid, "ed25519", "ed25519", {"public": obj["keyval"]["public"]}))
    previous = None
    lines = [l for l in pathlib.Path(chain).read_text().splitlines() if l.strip()]
    for n, line in enumerate(lines, 1):
        envelope = Envelope.from_dict(json.loads(line))
        assert envelope.payload_type == "application/vnd.in-toto+json", f"{n}: payload type"
        envelope.verify(keys, 1)
        statement = json.loads(envelope.payload)
        assert statement["_type"] == "https://in-toto.io/Statement/v1", f"{n}: statement type"
        assert statement["subject"][0]["digest"]["sha256"] == bundle_id, f"{n}: subject"
        predicate = statement["predicate"]
        assert {"from", "to", "time", "previous"} <= predicate.keys(), f"{n}: predicate"
        expected = hashlib.sha256(previous.encode()).hexdigest() if previous else None
        assert predicate["previous"] == expected, f"{n}: not linked to the line before"
        previous = line
    return f"{len(lines)} hand-offs, DSSE verified by securesystemslib, in-toto Statement v1, linked"


def main():
    kind, target = sys.argv[1], sys.argv[2]
    try:
        if kind == "log":
            detail = check_log(target)
        elif kind == "handoffs":
            detail = check_handoffs(target, *sys.argv[3:])
        else:
            detail = check_dsse(target)
    except Exception as e:  # any failure is a rejection, with its reason
        print(f"FAIL {kind}: {type(e).__name__}: {e}")
        sys.exit(1)
    print(f"PASS {kind}: {detail}")


main()
