"""How many CPU cores this process may use: for batch workers and the recogniser's threads."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
