"""Run every benchmark: `python -m benchmarks` (or `make bench`).

bench_score compares the whole `score` with the plain faster-whisper + pYIN baseline on every
core (the baseline's own setting), and bench_batch measures `speechqa batch` with 1 and 2 workers
and on a local Dask cluster (which need every core) and `rescore`, each in a child process. The
rest are pinned to one core and one thread per library before anything numeric is imported, so
their figures are "on one core" as the issues state them.
"""

import os
import subprocess
import sys

print("== benchmarks.bench_score", flush=True)
status = subprocess.run([sys.executable, "-m", "benchmarks.bench_score"]).returncode
print("== benchmarks.bench_batch", flush=True)
status |= subprocess.run([sys.executable, "-m", "benchmarks.bench_batch"]).returncode

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

from benchmarks import (  # noqa: E402
    bench_asr, bench_diarize, bench_measure, bench_memory, bench_rate, bench_report, bench_speaker, bench_vad, bench_voice,
)

for bench in (bench_measure, bench_vad, bench_speaker, bench_diarize, bench_asr, bench_rate, bench_memory, bench_report,
              bench_voice):
    print(f"== {bench.__name__}", flush=True)
    status |= bench.main([])
sys.exit(status)
