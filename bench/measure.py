#!/usr/bin/env python3
"""Run one command, print wall time and peak RSS as one tab-separated line.

Usage: measure.py [--stdout FILE] [--stderr FILE] -- CMD [ARG...]

Peak RSS comes from getrusage(RUSAGE_CHILDREN).ru_maxrss after the child is
reaped: the largest resident set of any process in the child's tree that was
waited for (for `bash -c 'a | b'` that is the larger of a and b, not the sum).
This wrapper is a fresh process per measurement, so nothing earlier leaks in.
"""

import resource
import subprocess
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    stdout_path = None
    stderr_path = None
    while args and args[0] != "--":
        if args[0] == "--stdout" and len(args) > 1:
            stdout_path, args = args[1], args[2:]
        elif args[0] == "--stderr" and len(args) > 1:
            stderr_path, args = args[1], args[2:]
        else:
            print(f"measure.py: unknown option {args[0]!r}", file=sys.stderr)
            return 2
    if not args or args[0] != "--" or len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = args[1:]
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = open(stderr_path, "wb") if stderr_path else None
    start = time.monotonic()
    code = subprocess.call(cmd, stdout=out, stderr=err)
    seconds = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # seconds, peak RSS (KiB on Linux), user CPU s, system CPU s, exit code
    print(
        f"{seconds:.4f}\t{usage.ru_maxrss}\t{usage.ru_utime:.3f}"
        f"\t{usage.ru_stime:.3f}\t{code}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
