"""`svd-suite` command line (being written: see the client issue)."""

import sys


def main(argv=None) -> int:
    print("svd-suite: not implemented yet", file=sys.stderr)
    return 2
