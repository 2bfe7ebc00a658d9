"""Stage timing: a hook hears how long each stage of a call took (benchmarks, run manifests).

The stage names are speechqa.names.STAGES, the runs table's stage_<name>_s columns; a name
outside them is refused here, so no stage's time is dropped on the way to the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

from speechqa.names import STAGES

StageHook = Callable[[str, float], None]   # called with (stage name, seconds) after each stage


def no_hook(stage: str, seconds: float) -> None:
    """The default stage hook: does nothing."""


def check_stage(stage: str) -> None:
    """Refuse a stage outside STAGES: its time would have no column in the runs table."""
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of speechqa.names.STAGES {STAGES}")


@contextmanager
def timed(hook: StageHook, stage: str):
    """Time the block and tell `hook` (stage, seconds) when it ends."""
    check_stage(stage)
    start = time.perf_counter()
    yield
    hook(stage, time.perf_counter() - start)
