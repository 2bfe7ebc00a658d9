"""What runs in a batch worker: one call in, its warehouse rows (or an error) out.

Kept free of heavy imports at module level: a worker process imports this module to run
`init_worker` before numpy or CTranslate2 load, so the thread limits it sets hold.
Everything here must pickle: it travels to local processes and to Dask workers alike.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    source: object          # speechqa.sources.CallSource
    call_id: str
    config: object          # speechqa.config.Config, the queue's override applied
    override: str | None    # the [batch.overrides] entry applied
    threads: int            # CPU threads for this call's engines
    run_id: str
    model_id: str


@dataclass(frozen=True)
class Outcome:
    call_id: str
    relpath: str
    records: dict[str, list[dict]] | None = None   # table -> rows, when scored
    error_type: str | None = None
    message: str | None = None
    audio_s: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()   # what the reader noticed about a scored call's file, no path in them

    @property
    def ok(self) -> bool:
        return self.records is not None


def init_worker(threads: int, parent_pid: int | None = None) -> None:
    """Run first in each worker process: caps the threads of the numeric libraries, which read
    these variables once, when they load; and, given the pid of the process that started it,
    makes the worker exit when that process dies, even by SIGKILL (else each worker, ~170 MB,
    and the pool's resource tracker, which waits on them, would outlive a killed batch)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if parent_pid is not None:
        exit_with_parent(parent_pid)


PARENT_POLL_S = 0.5
EXIT_PARENT_GONE = 70   # EX_SOFTWARE: nobody is left to read the exit status anyway
PR_SET_PDEATHSIG = 1    # <linux/prctl.h>


def exit_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid`, its parent, is gone. On Linux the kernel sends
    SIGKILL at once (PR_SET_PDEATHSIG: safe here, since the thread that started the worker is
    the batch's main loop, which outlives its pool); everywhere a daemon thread polls the parent
    pid too, which also catches a parent that died before this ran."""
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):   # no libc symbol: the thread below does it
            pass
    if os.getppid() != parent_pid:
        os._exit(EXIT_PARENT_GONE)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="speechqa-parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(EXIT_PARENT_GONE)


def process_call(job: Job) -> Outcome:
    """Read, measure and score one call; every failure becomes an Outcome with a reason."""
    import dataclasses

    from speechqa.call import score_recording
    from speechqa.errors import SpeechQAError
    from speechqa.records import call_records
    from speechqa.sources import read_call
    from speechqa.stages import timed

    stages: dict[str, float] = {}

    def hook(stage: str, seconds: float) -> None:
        stages[stage] = stages.get(stage, 0.0) + seconds

    config = job.config
    asr = dataclasses.replace(config.measure.asr, threads=job.threads)
    config = dataclasses.replace(config, measure=dataclasses.replace(config.measure, asr=asr))
    relpath = job.source.shown_relpath
    try:
        with timed(hook, "read"):
            recording = read_call(job.source, max_duration_s=config.measure.max_duration_s)
        with recording:   # its temporary sample file goes as soon as the call is measured
            result = score_recording(recording, call_id=job.call_id, config=config, hook=hook,
                                     direction=job.source.metadata.get("direction"))
        records = call_records(
            result, source=job.source, override=job.override, run_id=job.run_id, model_id=job.model_id,
        )
        return Outcome(job.call_id, relpath, records=records, audio_s=recording.duration_s, stages=stages,
                       warnings=tuple(_relative(note, job) for note in recording.notes))
    except SpeechQAError as exc:
        return Outcome(job.call_id, relpath, error_type=exc.error_type, message=_relative(str(exc), job), stages=stages)
    except Exception as exc:  # a bug: the call gets an error row and the batch goes on
        message = f"{type(exc).__name__}: {exc} (a bug in speechqa; please report it)"
        return Outcome(job.call_id, relpath, error_type="internal", message=_relative(message, job), stages=stages)


def _relative(message: str, job: Job) -> str:
    """Messages name files by their path inside the recordings folder (a customer id hashed or
    dropped there as configured), never the full path."""
    for path, shown in zip(job.source.paths, job.source.shown_relpaths):
        message = message.replace(str(path), shown)
    return message
