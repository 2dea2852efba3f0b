"""Run a command and write its peak resident memory (KiB) to a file: `peak_rss.py FILE COMMAND...`.

A child forked from a large process inherits that process's high-water mark, even across exec, so
the benches measure their children through this small launcher instead of forking them directly.
"""

from __future__ import annotations

import resource
import subprocess
import sys


def main() -> None:
    """Run the command, then write RUSAGE_CHILDREN's ru_maxrss, and exit with the command's code."""
    code = subprocess.run(sys.argv[2:]).returncode
    with open(sys.argv[1], "w") as out:
        out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    sys.exit(code)


if __name__ == "__main__":
    main()
