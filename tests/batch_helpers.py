"""Folders of calls for the batch tests, and process functions that misbehave on purpose.

Module-level functions so that worker processes (spawned) can import them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

from speechqa.config import parse_config
from speechqa.worker import process_call

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BAD = 6          # files of make_folder that fail: five that are read, one leg without its partner
FILE_TIME = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)

TEST_CONFIG = """
[measure.asr]
enabled = false
[batch]
commit_interval_s = 1000.0
[batch.sources]
filename_pattern = '(?P<queue>[a-z]+)/(?P<call_time>\\d{8}-\\d{6})_(?P<agent_id>[a-z0-9]+)_(?P<customer_id>\\d+)'
call_time_format = "%Y%m%d-%H%M%S"
timezone = "Europe/Moscow"
customer_id = "hash"
customer_id_salt = "pepper"
"""


def batch_config(extra: str = ""):
    return parse_config(TEST_CONFIG + extra, source="the batch test configuration")


def shown(relpath: str) -> str:
    """A path of make_folder as the warehouse stores it: the customer id in it hashed."""
    import re

    from speechqa.sources import hash_customer_id

    return re.sub(r"555000\d", lambda m: hash_customer_id(m.group(0), salt="pepper"), relpath)


def every_call_committed(config):
    return dataclasses.replace(config, batch=dataclasses.replace(config.batch, commit_interval_s=1e-6))


def stereo_sample() -> tuple[np.ndarray, int]:
    data, rate = sf.read(SAMPLES / "call_en_stereo.wav", dtype="float32", always_2d=True)
    return data, rate


def write_call(path: Path, *, seconds: float = 30.0, offset_s: float = 0.0, tail_s: float = 0.0) -> Path:
    """A stereo call cut from the English sample (agent left), `tail_s` of silence appended so
    that otherwise equal calls differ in content."""
    data, rate = stereo_sample()
    a = int(offset_s * rate)
    cut = data[a: a + int(seconds * rate)]
    cut = np.concatenate([cut, np.zeros((int(tail_s * rate), 2), dtype=np.float32)])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, cut, rate, subtype="PCM_16")
    return path


def make_folder(root: Path) -> dict[str, str]:
    """Four good calls (one as two legs, one mono with a sidecar) and six bad files (BAD).
    Returns relpath -> what it is."""
    write_call(root / "sales/20261122-091500_ag1_5550001.wav", seconds=30, offset_s=0)
    write_call(root / "sales/20261123-013000_ag2_5550002.wav", seconds=30, offset_s=20)   # 01:30 MSK: the 23rd
    data, rate = stereo_sample()
    legs = root / "support/legs"
    legs.mkdir(parents=True)
    sf.write(legs / "call77_agent.wav", data[: 30 * rate, 0], rate, subtype="PCM_16")
    sf.write(legs / "call77_caller.wav", data[: 30 * rate, 1], rate, subtype="PCM_16")
    mono, mono_rate = sf.read(SAMPLES / "call_ru_mono.wav", dtype="float32")
    (root / "other").mkdir()
    sf.write(root / "other/mono.wav", mono, mono_rate, subtype="PCM_16")
    (root / "other/mono.json").write_text(json.dumps({"call_time": "2026-11-22T10:00:00+00:00", "queue": "vip", "branch": "north"}))
    (root / "x_bad").mkdir()
    (root / "x_bad/empty.wav").write_bytes(b"")
    (root / "x_bad/notes.wav").write_text("this is not audio")
    sf.write(root / "x_bad/silent.wav", np.zeros(8000 * 3, dtype=np.float32), 8000, subtype="PCM_16")
    sf.write(root / "x_bad/header_only.wav", np.zeros(0, dtype=np.float32), 8000, subtype="PCM_16")
    sf.write(root / "x_bad/three_channels.wav", data[: 2 * rate, [0, 1, 0]], rate, subtype="PCM_16")
    sf.write(legs / "lonely_in.wav", data[: 8 * rate, 1], rate, subtype="PCM_16")
    for path in [*legs.iterdir(), *(root / "x_bad").iterdir()]:   # no time in these names: the file's is used
        os.utime(path, (FILE_TIME.timestamp(), FILE_TIME.timestamp()))
    return {
        "sales/20261122-091500_ag1_5550001.wav": "stereo",
        "sales/20261123-013000_ag2_5550002.wav": "stereo",
        "support/legs/call77_agent.wav": "two legs",
        "other/mono.wav": "mono",
        "x_bad/empty.wav": "empty_file",
        "x_bad/notes.wav": "not_audio",
        "x_bad/silent.wav": "no_speech",
        "x_bad/header_only.wav": "zero_length",
        "x_bad/three_channels.wav": "too_many_channels",
        "support/legs/lonely_in.wav": "missing_leg",
    }


def crash_on_mono(job):
    """Kills its own worker process on the mono call: a segfault or the OOM killer, as seen
    from the pool."""
    if job.source.relpath.endswith("mono.wav"):
        os.kill(os.getpid(), signal.SIGKILL)
    return process_call(job)


def slow_process(job):
    time.sleep(1.0)
    return process_call(job)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run_and_die(recordings: str, warehouse: str, point: str) -> None:
    """Run a batch that commits after every call and SIGKILLs itself at `point`:
    start (calls found, none scored), after_call (a call scored, not committed), mid_write (the
    first commit has written some files), before_swap (the second commit written, not yet
    visible), after_commit (the second commit visible). The good calls sort first."""
    from concurrent.futures import ThreadPoolExecutor

    import speechqa.warehouse as warehouse_module
    from speechqa.batch import Progress, run_batch

    state = {"calls": 0, "commits": 0, "writes": 0}

    class Killer(Progress):
        def start(self, total, skipped):
            if point == "start":
                die()

        def call_done(self, outcome):
            state["calls"] += 1
            if point == "after_call" and state["calls"] == 1:
                die()

        def committed(self, snapshot):
            state["commits"] += 1
            if point == "after_commit" and state["commits"] == 2:
                die()

    def before_swap():
        if point == "before_swap" and state["commits"] == 1:
            die()

    write = warehouse_module.pq.write_table

    def write_then_die(*args, **kwargs):
        write(*args, **kwargs)
        state["writes"] += 1
        if point == "mid_write" and state["writes"] == 3:
            die()

    warehouse_module.pq.write_table = write_then_die
    run_batch(
        recordings, warehouse, config=every_call_committed(batch_config()),
        executor_factory=lambda threads: ThreadPoolExecutor(1), progress=Killer(), before_swap=before_swap,
    )


def hold_the_lock(recordings: str, warehouse: str) -> None:
    """A slow batch: one second per call, so a second run meets its lock."""
    from speechqa.batch import run_batch

    run_batch(recordings, warehouse, config=batch_config(), workers=1, process=slow_process)


def hang(job):
    """A call that takes a minute: its worker is busy when the batch is killed."""
    time.sleep(60)
    return process_call(job)


def hanging_batch(recordings: str, warehouse: str) -> None:
    """A batch of two local workers busy on calls that never finish in the test's time."""
    from speechqa.batch import run_batch

    run_batch(recordings, warehouse, config=batch_config(), workers=2, process=hang)
