#!/usr/bin/env python3
"""Differential tests: airlift's own implementations against the reference
implementations, on thousands of generated inputs.

    diff.py pep440 ORACLE        against `packaging` (run with a Python that has it)
    diff.py npm ORACLE NODE_DIR  against the `semver` npm package in NODE_DIR
    diff.py dpkg ORACLE          against `dpkg --validate-version` and
                                 `dpkg --compare-versions`
    diff.py cjson ORACLE         against securesystemslib's canonical JSON
                                 (run with a Python that has it)

ORACLE is the airlift example that answers the same questions
(crates/*/examples/*_oracle.rs). Every case is generated from a seeded
generator (DIFF_SEED, printed), so a failure can be replayed; DIFF_CASES
scales the number of cases.

Each comparison prints "ok: LABEL" or "FAILED: LABEL", with every
disagreement (input, airlift's answer, the reference's answer) under it. A
disagreement that is a deliberate choice of airlift is listed in EXPECTED
with its reason, printed, and not counted as a failure; anything else is a
bug to fix. The last line is "RESULT <passed> <failed>" for tests/lib.sh.
"""

import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

SEED = int(os.environ.get("DIFF_SEED", "20261206"))
SCALE = float(os.environ.get("DIFF_CASES", "1"))
SHOW = int(os.environ.get("DIFF_SHOW", "25"))  # disagreements printed per comparison

passed = 0
failed = 0


def n(count):
    return max(1, int(count * SCALE))


def run_oracle(oracle, cases):
    """Feeds tab-separated cases to an airlift oracle, returns its answers."""
    text = "".join("\t".join(case) + "\n" for case in cases)
    out = subprocess.run([oracle], input=text.encode(), capture_output=True, check=True)
    answers = out.stdout.decode().split("\n")[:-1]
    if len(answers) != len(cases):
        raise SystemExit(f"{oracle}: {len(answers)} answers to {len(cases)} cases")
    return answers


def compare(label, cases, ours, theirs, expected=()):
    """Counts one check: every case must agree, or be a listed expected
    difference (a (predicate, reason) pair that takes the case and both
    answers)."""
    global passed, failed
    bad = []
    known = {}
    for case, a, b in zip(cases, ours, theirs):
        if a == b:
            continue
        reason = next((r for pred, r in expected if pred(case, a, b)), None)
        if reason is None:
            bad.append((case, a, b))
        else:
            known.setdefault(reason, []).append((case, a, b))
    for reason, items in known.items():
        case, a, b = items[0]
        print(f"  expected difference ({len(items)} cases): {reason}")
        print(f"    e.g. {shown(case)}: airlift {a!r}, reference {b!r}")
    if bad:
        failed += 1
        print(f"FAILED: {label}: {len(bad)} of {len(cases)} cases disagree")
        for case, a, b in bad[:SHOW]:
            print(f"    {shown(case)}: airlift {a!r}, reference {b!r}")
        if len(bad) > SHOW:
            print(f"    … and {len(bad) - SHOW} more")
    else:
        passed += 1
        listed = sum(len(items) for items in known.values())
        print(f"ok: {label}: {len(cases) - listed} of {len(cases)} cases agree, {listed} expected differences")


def shown(case):
    return " | ".join(json.dumps(field, ensure_ascii=False) for field in case)


# ---------------------------------------------------------------- PEP 440


def gen_pep440_version(r):
    """A version string in one of the many spellings PEP 440 normalizes,
    sometimes broken on purpose."""
    sep = lambda: r.choice(["", "", ".", "-", "_"])  # noqa: E731
    num = lambda: r.choice(["0", "0", "1", "1", "2", "3", "10", "01", "00", "007", "2024"])  # noqa: E731
    s = ""
    if r.random() < 0.08:
        s += r.choice(["v", "V"])
    if r.random() < 0.12:
        s += r.choice(["0", "1", "2", "01"]) + "!"
    s += ".".join(num() for _ in range(r.choice([1, 2, 2, 3, 3, 4])))
    if r.random() < 0.3:
        word = r.choice(["a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "A", "RC", "Beta"])
        s += sep() + word
        if r.random() < 0.8:
            s += sep() + num()
    if r.random() < 0.2:
        if r.random() < 0.3:
            s += "-" + num()
        else:
            s += sep() + r.choice(["post", "rev", "r", "Post"])
            if r.random() < 0.8:
                s += sep() + num()
    if r.random() < 0.2:
        s += sep() + r.choice(["dev", "DEV"])
        if r.random() < 0.8:
            s += sep() + num()
    if r.random() < 0.15:
        parts = [r.choice(["ubuntu", "1", "abc", "5", "AbC", "01", "cpu", "x86"]) for _ in range(r.choice([1, 2, 3]))]
        s += "+" + "".join(p + r.choice([".", "-", "_"]) for p in parts[:-1]) + parts[-1]
    if r.random() < 0.1:
        s = r.choice([" ", "  ", "\x0b", "\x0c"]) + s + r.choice(["", " ", "\x0c"])
    if r.random() < 0.06:
        # Broken on purpose.
        at = r.randrange(len(s) + 1)
        s = s[:at] + r.choice([".", "..", "+", "!", "-", "_", "x", "*", " ", "é", "١", "a"]) + s[at:]
    return s


def gen_pep440_specifiers(r, versions):
    clauses = []
    for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
        op = r.choice(["==", "==", "!=", "<=", ">=", "<", ">", "~=", "~=", "===", "=", "=>", "~"])
        version = r.choice(versions)
        if r.random() < 0.25:
            version = version.strip() + r.choice([".*", ".*", "*", ".*.*"])
        space = r.choice(["", "", " "])
        clauses.append(space + op + r.choice(["", "", " "]) + version + space)
    return ",".join(clauses)


def pep440(oracle):
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version
    import packaging

    print(f"  reference: packaging {packaging.__version__}")
    r = random.Random(SEED)
    pool = [gen_pep440_version(r) for _ in range(n(1500))]

    def parse(text):
        try:
            return Version(text)
        except InvalidVersion:
            return None

    cases = [("V", v) for v in pool]
    theirs = []
    for _, v in cases:
        p = parse(v)
        theirs.append("invalid" if p is None else f"valid {int(p.is_prerelease)} {int(p.is_postrelease)}")
    compare("PEP 440 version syntax against packaging", cases, run_oracle(oracle, cases), theirs)

    valid = [v for v in pool if parse(v) is not None]
    cases = [("C", r.choice(valid), r.choice(valid)) for _ in range(n(6000))]
    theirs = []
    for _, a, b in cases:
        pa, pb = parse(a), parse(b)
        theirs.append(str((pa > pb) - (pa < pb)))
    compare("PEP 440 ordering against packaging", cases, run_oracle(oracle, cases), theirs)

    cases = []
    for _ in range(n(800)):
        spec = gen_pep440_specifiers(r, pool)
        for _ in range(8):
            cases.append(("S", spec, r.choice(valid)))
    theirs = []
    for _, spec, version in cases:
        try:
            s = SpecifierSet(spec)
        except InvalidSpecifier:
            theirs.append("invalid-spec")
            continue
        theirs.append(f"{int(s.contains(version, prereleases=True))} {int(s.prereleases is True)}")
    compare("PEP 440 specifiers against packaging", cases, run_oracle(oracle, cases), theirs)


# ---------------------------------------------------------------- npm


NODE_SCRIPT = r"""
const semver = require(process.argv[1]);
const loose = process.argv[2] === 'loose';
const input = require('fs').readFileSync(0, 'utf8').split('\n');
input.pop();
const out = input.map((line) => {
  const f = line.split('\t');
  try {
    if (f[0] === 'V') {
      const v = semver.parse(f[1], { loose });
      return v === null ? 'invalid' : v.version;
    }
    if (f[0] === 'R') return semver.validRange(f[1], { loose }) === null ? 'invalid' : 'valid';
    if (f[0] === 'S') {
      if (semver.validRange(f[1], { loose }) === null || semver.parse(f[2], { loose }) === null) return 'invalid';
      return semver.satisfies(f[2], f[1], { loose }) ? '1' : '0';
    }
  } catch (e) {
    return 'error ' + e.message;
  }
  return 'unknown';
});
process.stdout.write(out.map((a) => a + '\n').join(''));
"""


def gen_npm_pre(r, strict=False):
    words = ["alpha", "beta", "rc", "0", "1", "2", "10", "x", "pre-1"] + ([] if strict else ["01"])
    return ".".join(r.choice(words) for _ in range(r.choice([1, 1, 2])))


def gen_npm_version(r):
    """A version in the strict grammar, as a registry lists it."""
    num = lambda: r.choice(["0", "0", "1", "1", "2", "3", "10"])  # noqa: E731
    s = f"{num()}.{num()}.{num()}"
    if r.random() < 0.35:
        s += "-" + gen_npm_pre(r, strict=True)
    if r.random() < 0.1:
        s += "+" + r.choice(["build.1", "001", "sha.abc"])
    return s


def gen_npm_loose_version(r):
    s = gen_npm_version(r)
    if r.random() < 0.1:
        s = s.split("-")[0] + "-" + gen_npm_pre(r)
    roll = r.random()
    if roll < 0.1:
        s = r.choice(["v", "=", "=v", "v=", " ", "= ", "V"]) + s
    elif roll < 0.16:
        s = r.choice(["1.2", "1", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3+", "1.2.3beta", "x", ""])
    elif roll < 0.2:
        s = s + r.choice([" ", "-", ".", "x"])
    return s


def gen_npm_partial(r):
    num = lambda: r.choice(["0", "0", "1", "1", "2", "3"])  # noqa: E731
    wild = lambda: r.choice(["x", "X", "*"])  # noqa: E731
    shape = r.choice(["*", "M", "M.m", "M.m.p", "M.m.p", "M.m.p", "M.x", "M.m.x", "M.x.x"])
    if shape == "*":
        s = wild()
    else:
        parts = [num() if c in "Mmp" else wild() for c in shape.split(".")]
        s = ".".join(parts)
        if shape == "M.m.p" and r.random() < 0.3:
            s += "-" + gen_npm_pre(r)
        if r.random() < 0.05:
            s += "+b1"
    if r.random() < 0.05:
        s = r.choice(["v", "=", "v="]) + s
    return s


def gen_npm_range(r):
    alternatives = []
    for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
        if r.random() < 0.15:
            alternatives.append(f"{gen_npm_partial(r)} - {gen_npm_partial(r)}")
            continue
        comparators = []
        for _ in range(r.choice([1, 1, 2, 2, 3])):
            op = r.choice(["", "", "=", "<", "<=", ">", ">=", "~", "~", "^", "^", "~>"])
            comparators.append(op + r.choice(["", "", "", " "]) + gen_npm_partial(r))
        alternatives.append(" ".join(comparators))
    s = r.choice([" || ", "||", " ||  "]).join(alternatives)
    if r.random() < 0.05:
        s = r.choice(["", " ", "*", "x", "latest", ">>1", "^", "1.2.3.4", "a.b", "1 -", "~1 ||", "<=", "> ="]) if r.random() < 0.5 else s + r.choice([" ", " x", "-", " ||"])
    return s


def npm(oracle, node_dir):
    semver_dir = os.path.abspath(os.path.join(node_dir, "node_modules", "semver"))
    with open(os.path.join(semver_dir, "package.json")) as f:
        print(f"  reference: semver {json.load(f)['version']} (npm package), node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")

    def node(cases, mode="loose"):
        text = "".join("\t".join(case) + "\n" for case in cases)
        out = subprocess.run(["node", "-e", NODE_SCRIPT, semver_dir, mode], input=text.encode(), capture_output=True, check=True)
        return out.stdout.decode().split("\n")[:-1]

    def check(label, cases):
        # An expected difference only where semver's strict grammar refuses
        # the input too: a valid strict spelling that airlift refuses is a bug.
        strict = dict(zip(cases, node(cases, "strict")))
        stricter = [(lambda c, a, b: a == "invalid" and b != "invalid" and strict[c] == "invalid",
                     "airlift refuses spellings only npm's loose grammar reads (`1.2.3beta`, `01.2.3`, "
                     "`1.0.0-01`, `v=1.0.0`, doubled operators such as `<==1` or `^=1`); a collect names the range")]
        compare(label, cases, run_oracle(oracle, cases), node(cases), stricter)

    # npm reads ranges and versions with semver's `loose` option
    # (npm-package-arg, npm-pick-manifest), so that is the reference. airlift
    # reads the strict grammar plus a leading `v` or `=`: what only the loose
    # grammar accepts, airlift refuses with an error, and never reads as
    # something else.
    r = random.Random(SEED)
    check("npm versions against semver", [("V", gen_npm_loose_version(r)) for _ in range(n(1500))])
    ranges = [gen_npm_range(r) for _ in range(n(1500))]
    check("npm range syntax against semver", [("R", x) for x in ranges])
    check("npm range matching against semver", [("S", x, gen_npm_version(r)) for x in ranges for _ in range(5)])


# ---------------------------------------------------------------- dpkg


def gen_dpkg_version(r):
    piece = lambda: r.choice(["0", "1", "1", "2", "10", "01", "001", "9", "a", "b", "z", "A", "Z", ".", ".", "+", "~", "~", "~~", "rc", "beta", "dfsg", "deb12u", "ubuntu", "+b", "~rc"])  # noqa: E731
    upstream = r.choice(["0", "1", "2", "1.0", "1.2", "10", "01"]) + "".join(piece() for _ in range(r.choice([0, 1, 2, 3, 4])))
    s = upstream
    if r.random() < 0.15:
        s = r.choice(["0", "1", "2", "00", "10", "3000000000"]) + ":" + s
    if r.random() < 0.5:
        s += "-" + r.choice(["1", "2", "0", "10", "1", "0.1", "1+b1", "1~bpo", "1ubuntu1", "a", "1.1", "~", "1-2"])
    if r.random() < 0.06:
        at = r.randrange(len(s) + 1)
        s = s[:at] + r.choice(["-", ":", "_", " ", "a:", "é", "", "!"]) + s[at:]
    return s


def dpkg_lt(pair):
    a, b = pair
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], capture_output=True).returncode == 0
    if lt:
        return "-1"
    eq = subprocess.run(["dpkg", "--compare-versions", a, "eq", b], capture_output=True).returncode == 0
    return "0" if eq else "1"


def dpkg_valid(version):
    ok = subprocess.run(["dpkg", "--validate-version", "--", version], capture_output=True).returncode == 0
    return "valid" if ok else "invalid"


def dpkg(oracle):
    out = subprocess.run(["dpkg", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"  reference: {out}")
    r = random.Random(SEED)
    pool = sorted(set(gen_dpkg_version(r) for _ in range(n(1200))))
    cases = [("V", v) for v in pool]
    with ThreadPoolExecutor(4) as ex:
        theirs = list(ex.map(dpkg_valid, pool))
    compare("Debian version syntax against dpkg", cases, run_oracle(oracle, cases), theirs)

    valid = [v for v, t in zip(pool, theirs) if t == "valid"]
    cases = [("C", r.choice(valid), r.choice(valid)) for _ in range(n(3000))]
    with ThreadPoolExecutor(4) as ex:
        theirs = list(ex.map(dpkg_lt, [(a, b) for _, a, b in cases]))
    compare("Debian version order against dpkg", cases, run_oracle(oracle, cases), theirs)


# ---------------------------------------------------------------- canonical JSON


def gen_json(r, depth=0):
    roll = r.random()
    if depth > 3 or roll < 0.45:
        kind = r.choice(["str", "str", "str", "int", "bigint", "bool", "null", "float"])
        if kind == "str":
            return gen_string(r)
        if kind == "int":
            return r.randint(-1000, 1000)
        if kind == "bigint":
            return r.choice([2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**30])
        if kind == "bool":
            return r.random() < 0.5
        if kind == "null":
            return None
        return r.choice([1.5, -0.0, 1e300, 0.1])
    if roll < 0.7:
        return [gen_json(r, depth + 1) for _ in range(r.randrange(4))]
    return {gen_string(r): gen_json(r, depth + 1) for _ in range(r.randrange(5))}


def gen_string(r):
    alphabet = ["a", "b", "z", "A", "0", " ", "!", '"', "#", "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f",
                "é", "e\u0301", "\u00c5", "A\u030a", "\u2028", "\ufeff", "\uffff", "😀", "\U00010000", "ﬁ", "Ω", "Ω"]
    return "".join(r.choice(alphabet) for _ in range(r.randrange(6)))


def cjson(oracle):
    from securesystemslib import __version__ as ssl_version
    from securesystemslib.formats import encode_canonical
    from securesystemslib.exceptions import FormatError

    print(f"  reference: securesystemslib {ssl_version} (python-tuf's encoder)")
    r = random.Random(SEED)
    docs = [gen_json(r) for _ in range(n(4000))]
    texts = [json.dumps(d, ensure_ascii=r.random() < 0.5) for d in docs]
    # A line per document: JSON text has no raw newline or tab.
    cases = [(t,) for t in texts]
    theirs = []
    for d in docs:
        try:
            theirs.append(encode_canonical(d).encode("utf-8").hex())
        except FormatError:
            theirs.append("error")
    def wide_int(case, ours, theirs):
        def walk(v):
            if isinstance(v, bool):
                return False
            if isinstance(v, int):
                return not -(2**63) <= v < 2**64
            if isinstance(v, list):
                return any(walk(x) for x in v)
            if isinstance(v, dict):
                return any(walk(x) for x in v.values())
            return False
        return ours == "error" and walk(json.loads(case[0]))

    expected = [(wide_int, "airlift has no canonical form for an integer outside -2^63..2^64-1 (serde_json's "
                 "range; TUF's integers are versions and lengths), securesystemslib writes any integer")]
    compare("canonical JSON against securesystemslib", cases, run_oracle(oracle, cases), theirs, expected)


def main():
    kind = sys.argv[1]
    started = time.monotonic()
    print(f"{kind}: seed {SEED} (DIFF_SEED), scale {SCALE} (DIFF_CASES)")
    if kind == "pep440":
        pep440(sys.argv[2])
    elif kind == "npm":
        npm(sys.argv[2], sys.argv[3])
    elif kind == "dpkg":
        dpkg(sys.argv[2])
    elif kind == "cjson":
        cjson(sys.argv[2])
    else:
        raise SystemExit(f"unknown comparison {kind}")
    print(f"  {kind}: {time.monotonic() - started:.1f}s")
    print(f"RESULT {passed} {failed}")


if __name__ == "__main__":
    main()
