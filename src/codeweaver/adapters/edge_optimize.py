"""Optimize a copy of an Edge shard in a child process: ``python -m`` this module.

``EdgeStore.optimize`` runs this on a large shard: ``optimize()`` holds the GIL for
minutes, which in the owner process would stall every search of every client. The
child dies with its parent (``PR_SET_PDEATHSIG`` on Linux), so a killed owner never
leaves it writing to a folder the next owner removes.

    python -m codeweaver.adapters.edge_optimize SHARD_DIR PARENT_PID
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the death signal was set
        raise SystemExit(3)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m codeweaver.adapters.edge_optimize SHARD_DIR PARENT_PID")
        return 2
    _die_with(int(argv[1]))
    import qdrant_edge as qe

    try:
        shard = qe.EdgeShard.load(argv[0])
        shard.optimize()
        shard.flush()
        shard.close()
    except Exception as exc:  # the binding raises plain Exception
        print(f"could not optimize the index at {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
