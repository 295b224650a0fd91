#!/usr/bin/env python3
"""Write SIZE bytes of compressible, log-like text to PATH, seeded by SEED.

Usage: gen_text.py PATH SIZE SEED

Lines look like web/app logs (timestamps, levels, IPs, paths, statuses,
request ids) with an occasional base64 payload line, so zstd -3 gets a
realistic ratio (roughly 3-5x) rather than the absurd one of repeated
blocks. Every file differs (different seed, running timestamps and request
ids), so a content-addressed store cannot deduplicate one against another.
"""

import base64
import random
import sys

LEVELS = ["INFO"] * 12 + ["DEBUG"] * 6 + ["WARN"] * 2 + ["ERROR"]
COMPONENTS = [
    "http", "db.pool", "auth", "cache", "scheduler", "worker", "gc",
    "storage.blob", "storage.index", "tls", "metrics", "api.v2", "queue",
]
METHODS = ["GET"] * 8 + ["POST"] * 2 + ["PUT", "DELETE", "HEAD"]
STATUSES = ["200"] * 20 + ["204", "301", "304", "304", "400", "401", "403", "404", "404", "500", "503"]
WORDS = (
    "request completed served upstream latency retry backoff connection reset "
    "timeout exceeded cache hit miss evicted token refreshed session expired user "
    "login logout checksum verified mismatch blob stored index committed generation "
    "snapshot compaction started finished queued dequeued handshake cipher negotiated"
).split()


def make_paths(rng: random.Random) -> list:
    segs = ["api", "v1", "v2", "files", "users", "orders", "static", "assets", "img",
            "search", "health", "metrics", "pkg", "dist", "simple", "index"]
    exts = ["", "", ".json", ".html", ".js", ".css", ".png", ".tar.gz", ".whl"]
    paths = []
    for _ in range(4000):
        depth = rng.randint(1, 5)
        parts = [rng.choice(segs) if rng.random() < 0.6 else f"{rng.randrange(1 << 20):x}" for _ in range(depth)]
        paths.append("/" + "/".join(parts) + rng.choice(exts))
    return paths


def main() -> int:
    path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    paths = make_paths(rng)
    ips = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(3000)]
    agents = [f"client/{rng.randint(1, 9)}.{rng.randint(0, 30)} (build {rng.randrange(1 << 16):04x})" for _ in range(200)]
    messages = [" ".join(rng.choices(WORDS, k=rng.randint(2, 9))) for _ in range(5000)]
    t = 1_700_000_000.0 + seed * 86_400
    req = seed << 40
    written = 0
    batch = 4096
    with open(path, "wb", buffering=1 << 20) as out:
        while written < size:
            lvl = rng.choices(LEVELS, k=batch)
            comp = rng.choices(COMPONENTS, k=batch)
            ip = rng.choices(ips, k=batch)
            meth = rng.choices(METHODS, k=batch)
            pth = rng.choices(paths, k=batch)
            st = rng.choices(STATUSES, k=batch)
            ag = rng.choices(agents, k=batch)
            msg = rng.choices(messages, k=batch)
            lines = []
            for i in range(batch):
                t += rng.random() * 0.01
                req += 1
                sec = int(t)
                lines.append(
                    f"2024-{(sec // 2592000) % 12 + 1:02d}-{(sec // 86400) % 28 + 1:02d}T"
                    f"{(sec // 3600) % 24:02d}:{(sec // 60) % 60:02d}:{sec % 60:02d}."
                    f"{int(t * 1e6) % 1000000:06d}Z {lvl[i]:5} [{comp[i]}] {ip[i]} "
                    f"\"{meth[i]} {pth[i]}\" {st[i]} {rng.randrange(100, 2_000_000)} "
                    f"{rng.randrange(1, 5000)}ms req={req:016x} ua=\"{ag[i]}\" {msg[i]}\n"
                )
                if i % 64 == 0:
                    payload = base64.b64encode(rng.randbytes(rng.choice((48, 96, 192)))).decode()
                    lines.append(f"    payload={payload}\n")
            chunk = "".join(lines).encode()
            room = size - written
            if len(chunk) > room:
                chunk = chunk[:room]
            out.write(chunk)
            written += len(chunk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
