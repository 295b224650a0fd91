#!/usr/bin/env python3
"""Run one command, print wall time and peak RSS as one tab-separated line.

Usage: measure.py [--stdout FILE] [--stderr FILE] -- CMD [ARG...]
Prints: seconds, peak RSS KiB, user CPU s, system CPU s, exit code, RSS source

Peak RSS is the largest resident set of any process in the command's tree
that was waited for (for `bash -c 'a | b'` that is the larger of a and b,
not the sum). It comes from GNU time (`/usr/bin/time -f %M`, Debian package
`time`) when present. Without it, getrusage(RUSAGE_CHILDREN) of this wrapper
is used, and Linux then reports at least this Python process's own RSS
(~10-15 MiB): exec() carries the pre-exec high-water mark over, so small
figures are a floor, not a measurement. The last column says which was used.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


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

    report = None
    if os.access(GNU_TIME, os.X_OK):
        fd, report = tempfile.mkstemp(prefix="measure.", suffix=".time")
        os.close(fd)
        cmd = [GNU_TIME, "-q", "-f", "%M %U %S", "-o", report, "--"] + cmd

    start = time.monotonic()
    code = subprocess.call(cmd, stdout=out, stderr=err)
    seconds = time.monotonic() - start

    source = "getrusage"
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    maxrss, user, system = usage.ru_maxrss, usage.ru_utime, usage.ru_stime
    if report is not None:
        try:
            with open(report) as f:
                fields = f.read().split()
            maxrss, user, system = int(fields[-3]), float(fields[-2]), float(fields[-1])
            source = "gnu-time"
        except (OSError, ValueError, IndexError):
            pass
        finally:
            os.unlink(report)

    print(f"{seconds:.4f}\t{maxrss}\t{user:.3f}\t{system:.3f}\t{code}\t{source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
