#!/usr/bin/env python3
"""Differential test: airlift's OpenPGP verifier (crates/airlift-pgp)
against gpgv, on signatures and keyrings made by gpg and then mutated.

    pgp.py ORACLE    ORACLE: the pgp_oracle example

gpg makes keys in a private GNUPGHOME: Ed25519, RSA-3072 with an RSA
signing subkey, RSA-1024, a primary that has expired, a signing subkey
that has expired and a revoked key. Each signs a Release text, detached and
cleartext, with several digests. Every case (the signature as made; the data
altered; the signature with a flipped byte, truncated; the keyring with a
flipped byte, truncated, with a packet left out, with another key's subkey
spliced in) goes to both verifiers.

gpgv's verdict is read the way apt reads it: accepted when its status
lines hold a VALIDSIG and none of BADSIG, EXPKEYSIG, REVKEYSIG, EXPSIG or
ERRSIG (every case has one signer). The differences that are airlift's
deliberate choices (docs/decisions/0017-own-openpgp-subset.md) are listed,
with their reason, as expected; any other is a failure.
"""

import base64
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import diff  # noqa: E402  (shares the seed, counting and report format)

RELEASE = (
    "Origin: Difftest\n"
    "Suite: stable  \n"
    "Codename: gap\n"
    "- a line that starts with a dash\n"
    "From the start of a line\n"
    "Date: Sun, 06 Dec 2026 00:00:00 UTC\n"
    "SHA256:\n"
    " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages\n"
).encode()

# ---------------------------------------------------------------- OpenPGP bits


def packets(data):
    """Splits binary OpenPGP into (header, body) byte strings; None when the
    framing is broken (partial lengths are not used by gpg for keys or
    signatures)."""
    out = []
    i = 0
    while i < len(data):
        start = i
        tag = data[i]
        if not tag & 0x80:
            return None
        if tag & 0x40:
            i += 1
            if i >= len(data):
                return None
            first = data[i]
            if first < 192:
                length, i = first, i + 1
            elif first < 224:
                if i + 1 >= len(data):
                    return None
                length, i = ((first - 192) << 8) + data[i + 1] + 192, i + 2
            elif first == 255:
                length, i = int.from_bytes(data[i + 1:i + 5], "big"), i + 5
            else:
                return None
        else:
            size = [1, 2, 4, None][tag & 3]
            if size is None:
                return None
            length, i = int.from_bytes(data[i + 1:i + 1 + size], "big"), i + 1 + size
        if i + length > len(data):
            return None
        out.append((data[start:i], data[i:i + length]))
        i += length
    return out


def hash_prefixes(data, types=None, areas_too=False):
    """Offsets of the two-byte hash prefix ("left 16 bits") of each v4
    signature packet in `data` (of the given signature types, if any), and
    with `areas_too` of its subpacket areas, hashed and unhashed."""
    out = set()
    at = 0
    for header, body in packets(data) or []:
        at += len(header)
        if tag_of(header) == 2 and len(body) > 6 and body[0] == 4 and (types is None or body[1] in types):
            hashed = int.from_bytes(body[4:6], "big")
            unhashed = int.from_bytes(body[6 + hashed:8 + hashed], "big")
            start = at + 8 + hashed + unhashed
            out |= {start, start + 1}
            if areas_too:
                out |= set(range(at + 4, start))
        at += len(body)
    return out


def key_versions(data):
    """Offsets of the version byte of each key and subkey packet."""
    out, at = set(), 0
    for header, body in packets(data) or []:
        if tag_of(header) in (6, 14):
            out.add(at + len(header))
        at += len(header) + len(body)
    return out


def tag_of(header):
    return header[0] & 0x3F if header[0] & 0x40 else (header[0] >> 2) & 0x0F


def crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor_signature(binary):
    b64 = base64.b64encode(binary).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(crc24(binary).to_bytes(3, "big")).decode()
    return ("-----BEGIN PGP SIGNATURE-----\n\n" + "\n".join(lines) + "\n=" + crc + "\n-----END PGP SIGNATURE-----\n").encode()


def split_cleartext(message):
    """(text part up to the signature block, binary signature)."""
    at = message.index(b"-----BEGIN PGP SIGNATURE-----")
    block = message[at:].decode()
    body = block.split("\n\n", 1)[1].split("\n-----END", 1)[0]
    b64 = "".join(line for line in body.splitlines() if not line.startswith("="))
    return message[:at], base64.b64decode(b64)


# ---------------------------------------------------------------- gpg


class Gpg:
    def __init__(self, home):
        self.home = home
        os.makedirs(home, mode=0o700)

    def run(self, *args, faked=None, data=None):
        cmd = ["gpg", "--homedir", self.home, "--batch", "--quiet", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
        if faked:
            cmd += ["--faked-system-time", faked, "--ignore-time-conflict"]
        out = subprocess.run(cmd + list(args), input=data, capture_output=True)
        if out.returncode != 0:
            raise SystemExit(f"gpg {' '.join(args)}: {out.stderr.decode()}")
        return out.stdout

    def fingerprint(self, uid):
        for line in self.run("--with-colons", "--list-keys", uid).decode().splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise SystemExit(f"no key {uid}")

    def subkeys(self, uid):
        out, primary_seen = [], False
        for line in self.run("--with-colons", "--list-keys", uid).decode().splitlines():
            if line.startswith("fpr:"):
                if primary_seen:
                    out.append(line.split(":")[9])
                primary_seen = True
        return out


PAST = "20200101T000000!"  # a frozen clock in the past, for keys that have since expired


def make_fixtures(gpg):
    """Keys, keyrings and signatures: a list of (label, keyring, data, sig,
    mode, facts), mode 'D' (detached) or 'T' (cleartext)."""
    gpg.run("--quick-gen-key", "Ed <ed@example.org>", "ed25519", "sign,cert", "never")
    gpg.run("--quick-gen-key", "Rsa <rsa@example.org>", "rsa3072", "cert", "never")
    gpg.run("--quick-add-key", gpg.fingerprint("rsa@example.org"), "rsa3072", "sign", "never")
    gpg.run("--quick-gen-key", "Small <small@example.org>", "rsa1024", "sign,cert", "never")
    gpg.run("--quick-gen-key", "Old <old@example.org>", "ed25519", "sign,cert", "1d", faked=PAST)
    gpg.run("--quick-gen-key", "Oldsub <oldsub@example.org>", "ed25519", "cert", "never", faked=PAST)
    gpg.run("--quick-add-key", gpg.fingerprint("oldsub@example.org"), "ed25519", "sign", "1d", faked=PAST)
    gpg.run("--quick-gen-key", "Revoked <revoked@example.org>", "ed25519", "sign,cert", "never")
    gpg.run("--quick-gen-key", "Stranger <stranger@example.org>", "ed25519", "sign,cert", "never")
    fixtures = []

    def sign(label, uid, keyring, digest="SHA512", faked=None, facts=()):
        local = ["--local-user", f"<{uid}@example.org>"] if uid else []
        extra = ["--digest-algo", digest]
        detached = gpg.run("--detach-sign", *local, *extra, faked=faked, data=RELEASE)
        clear = gpg.run("--clearsign", *local, *extra, faked=faked, data=RELEASE)
        facts = set(facts) | {digest}
        fixtures.append((f"{label}, detached", keyring, RELEASE, detached, "D", facts))
        fixtures.append((f"{label}, cleartext", keyring, clear, None, "T", facts))

    sign("Ed25519", "ed", "ed")
    sign("Ed25519 of two keys", "ed", "ed+rsa")
    for digest in ["SHA1", "SHA224", "SHA256", "SHA384", "SHA512"]:
        sign(f"RSA subkey {digest}", "rsa", "rsa", digest=digest)
    sign("RSA-1024", "small", "small", digest="SHA256", facts={"small-rsa"})
    sign("expired primary", "old", "old", faked="20200101T120000!", facts={"expired"})
    sign("expired subkey", "oldsub", "oldsub", faked="20200101T120000!", facts={"expired"})
    sign("revoked key", "revoked", "revoked", facts={"revoked"})
    sign("unknown signer", "stranger", "ed")
    # The key is revoked after it signed; keyrings are exported after that.
    fpr = gpg.fingerprint("revoked@example.org")
    with open(os.path.join(gpg.home, "openpgp-revocs.d", fpr + ".rev"), "rb") as f:
        gpg.run("--import", data=f.read().replace(b"\n:-----BEGIN", b"\n-----BEGIN"))

    keyrings = {}
    for uid in ["ed", "rsa", "small", "old", "oldsub", "revoked", "stranger"]:
        keyrings[uid] = gpg.run("--export", f"<{uid}@example.org>")
    keyrings["ed+rsa"] = keyrings["ed"] + keyrings["rsa"]

    return [(label, keyrings[k], d, s, m, f) for label, k, d, s, m, f in fixtures], keyrings


# ---------------------------------------------------------------- verdicts


def gpgv_verdict(home, keyring, data, sig, mode):
    with tempfile.TemporaryDirectory(dir=home) as d:
        k = os.path.join(d, "keyring.gpg")
        with open(k, "wb") as f:
            f.write(keyring)
        args = ["gpgv", "--homedir", home, "--status-fd", "1", "--keyring", k]
        if mode == "D":
            s, t = os.path.join(d, "sig"), os.path.join(d, "data")
            with open(s, "wb") as f:
                f.write(sig)
            with open(t, "wb") as f:
                f.write(data)
            args += [s, t]
        else:
            m = os.path.join(d, "msg")
            with open(m, "wb") as f:
                f.write(data)
            args += [m]
        out = subprocess.run(args, capture_output=True)
    status = [line.split()[1] for line in out.stdout.decode(errors="replace").splitlines() if line.startswith("[GNUPG:] ") and len(line.split()) > 1]
    refusals = {"BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG", "ERRSIG"}
    if "VALIDSIG" in status and not refusals & set(status):
        return "accept"
    return "refuse " + (",".join(s for s in status if s in refusals | {"NO_PUBKEY", "NODATA", "KEYEXPIRED", "KEYREVOKED"}) or "no valid signature")


def mutations(r, fixtures, keyrings):
    """Yields (label, keyring, data, sig, mode, facts) cases."""
    other_subkey = [p for p in packets(keyrings["rsa"]) if tag_of(p[0]) in (14,)]
    for label, keyring, data, sig, mode, facts in fixtures:
        yield label, keyring, data, sig, mode, facts
        # The signed text altered.
        if mode == "D":
            at = r.randrange(len(data))
            yield f"{label}: data byte {at} flipped", keyring, data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:], sig, mode, facts
        else:
            yield f"{label}: text altered", keyring, data.replace(b"Codename: gap", b"Codename: gaq"), None, mode, facts
            yield f"{label}: trailing spaces added", keyring, data.replace(b"Codename: gap", b"Codename: gap  "), None, mode, facts
        # The signature mutated, byte by byte in its binary form.
        if mode == "D":
            binary = sig
        else:
            text, binary = split_cleartext(data)
        for _ in range(14):
            at = r.randrange(len(binary))
            bit = 1 << r.randrange(8)
            mutated = binary[:at] + bytes([binary[at] ^ bit]) + binary[at + 1:]
            yield (f"{label}: signature byte {at} ^ {bit:#04x}", keyring) + wrap(data, mutated, mode) + (facts,)
        for _ in range(3):
            at = r.randrange(len(binary))
            yield (f"{label}: signature cut at {at}", keyring) + wrap(data, binary[:at], mode) + (facts,)
        # The hash prefix, two bytes the signature does not cover.
        for at in sorted(hash_prefixes(binary)):
            mutated = binary[:at] + bytes([binary[at] ^ 0xFF]) + binary[at + 1:]
            yield (f"{label}: signature hash prefix byte {at} flipped", keyring) + wrap(data, mutated, mode) + (facts,)
        # The keyring mutated.
        revocation_prefixes = hash_prefixes(keyring, types={0x20, 0x28}, areas_too=True)
        versions = key_versions(keyring)
        for at in list(r.sample(range(len(keyring)), 10)) + sorted(revocation_prefixes) + sorted(versions):
            bit = 1 << r.randrange(8)
            mutated = keyring[:at] + bytes([keyring[at] ^ bit]) + keyring[at + 1:]
            more = {"revocation-damaged"} if at in revocation_prefixes else set()
            more |= {"key-version"} if at in versions else set()
            yield f"{label}: keyring byte {at} ^ {bit:#04x}", mutated, data, sig, mode, facts | more
        at = r.randrange(len(keyring))
        yield f"{label}: keyring cut at {at}", keyring[:at], data, sig, mode, facts | {"cut-keyring"}
        parts = packets(keyring) or []
        for i, (header, body) in enumerate(parts):
            rest = b"".join(h + b for j, (h, b) in enumerate(parts) if j != i)
            yield f"{label}: keyring without packet {i} (tag {tag_of(header)})", rest, data, sig, mode, facts
        if other_subkey and parts:
            # Another key's subkey, with that key's binding signature, spliced in.
            sub = b"".join(h + b for h, b in other_subkey)
            rsa_parts = packets(keyrings["rsa"])
            binding = next((h + b for idx, (h, b) in enumerate(rsa_parts) if tag_of(h) == 2 and idx > 0 and tag_of(rsa_parts[idx - 1][0]) == 14), b"")
            yield f"{label}: keyring with another key's subkey", keyring + sub + binding, data, sig, mode, facts
            rest = b"".join(h + b for h, b in parts[1:])
            yield f"{label}: keyring with the primary swapped for another", b"".join(h + b for h, b in rsa_parts[:1]) + rest, data, sig, mode, facts


def wrap(data, binary_sig, mode):
    """(data, sig, mode) with a new binary signature."""
    if mode == "D":
        return data, binary_sig, mode
    text, _ = split_cleartext(data)
    return text + armor_signature(binary_sig), None, mode


# Differences that are airlift's deliberate choices (ADR 0017).
def weak_digest(case, ours, theirs):
    return ours.startswith("refuse") and theirs == "accept" and ("uses SHA-1" in ours or "uses SHA-224" in ours)


def small_rsa(case, ours, theirs):
    return ours.startswith("refuse") and theirs == "accept" and "small-rsa" in case[-1]


def broken_keyring(case, ours, theirs):
    return theirs == "accept" and ": keyring " in case[0] and "malformed OpenPGP data" in ours


def broken_signature_framing(case, ours, theirs):
    return theirs == "accept" and ": signature " in case[0] and "malformed OpenPGP data" in ours


def other_key_version(case, ours, theirs):
    return ours == "accept" and theirs.startswith("refuse") and "key-version" in case[-1]


def revocation_prefix(case, ours, theirs):
    return ours.startswith("refuse") and theirs == "accept" and "revocation-damaged" in case[-1]


def main():
    oracle = sys.argv[1]
    started = time.monotonic()
    print(f"pgp: seed {diff.SEED} (DIFF_SEED)")
    print("  reference: " + subprocess.run(["gpgv", "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    r = random.Random(diff.SEED)
    with tempfile.TemporaryDirectory(prefix="airlift-difftest-pgp.") as work:
        gpg = Gpg(os.path.join(work, "gnupg"))
        fixtures, keyrings = make_fixtures(gpg)
        verify_home = os.path.join(work, "gpgv")
        os.makedirs(verify_home, mode=0o700)
        cases = list(mutations(r, fixtures, keyrings))
        lines, theirs = [], []
        for i, (label, keyring, data, sig, mode, facts) in enumerate(cases):
            base = os.path.join(work, f"case{i}")
            with open(base + ".keyring", "wb") as f:
                f.write(keyring)
            with open(base + ".data", "wb") as f:
                f.write(data)
            if mode == "D":
                with open(base + ".sig", "wb") as f:
                    f.write(sig)
                lines.append(("D", base + ".keyring", base + ".data", base + ".sig"))
            else:
                lines.append(("T", base + ".keyring", base + ".data"))
            theirs.append(gpgv_verdict(verify_home, keyring, data, sig, mode))
        ours = diff.run_oracle(oracle, lines)
        # Only accept/refuse is compared; the reasons are shown on a mismatch.
        shown_cases = [(label, ",".join(sorted(facts))) for label, _, _, _, _, facts in cases]
        ours_v = [a.split(" ", 1)[0] for a in ours]
        theirs_v = [b.split(" ", 1)[0] for b in theirs]
        full = {id(c): (a, b) for c, a, b in zip(shown_cases, ours, theirs)}
        expected = [
            (lambda c, a, b: weak_digest(c, *full[id(c)]), "airlift refuses SHA-1 and SHA-224 signatures, which gpgv accepts (ADR 0017)"),
            (lambda c, a, b: small_rsa(c, *full[id(c)]), "airlift refuses RSA keys under 2048 bits, which gpgv accepts (ADR 0017)"),
            (lambda c, a, b: broken_keyring(c, *full[id(c)]), "airlift refuses a keyring that does not parse to its end (cut short, a damaged packet header); gpgv uses the keys before the damage (ADR 0017)"),
            (lambda c, a, b: broken_signature_framing(c, *full[id(c)]), "airlift refuses a signature whose packet framing is damaged; gpgv may still read it (ADR 0017)"),
            (lambda c, a, b: revocation_prefix(c, *full[id(c)]), "airlift does not use a key whose revocation is damaged in its subpackets (it no longer parses); gpgv drops that revocation and uses the key (ADR 0017)"),
            (lambda c, a, b: other_key_version(c, *full[id(c)]), "airlift leaves a key packet of another version than 4 out of the keyring and uses the others; gpgv 2.2 then uses none (ADR 0017)"),
        ]
        diff.SHOW = 40
        diff.compare("OpenPGP verification against gpgv", shown_cases, ours_v, theirs_v, expected)
        # The reasons of each unexpected disagreement, to start the fix from.
        bad = [(c, full[id(c)]) for c, a, b in zip(shown_cases, ours_v, theirs_v)
               if a != b and not any(pred(c, a, b) for pred, _ in expected)]
        for c, (a, b) in bad[:40]:
            print(f"    detail: {c[0]}: airlift {a!r}; gpgv {b!r}")
    print(f"  pgp: {time.monotonic() - started:.1f}s")
    print(f"RESULT {diff.passed} {diff.failed}")


if __name__ == "__main__":
    main()
