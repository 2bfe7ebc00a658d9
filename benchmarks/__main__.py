"""Run every benchmark: `python -m benchmarks` (or `make bench`).

Pins the process to one core and one thread per library before anything numeric is imported,
so the figures are "on one core" as the issues state them.
"""

import os
import sys

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

from benchmarks import bench_asr, bench_measure, bench_memory, bench_vad  # noqa: E402

status = 0
for bench in (bench_measure, bench_vad, bench_asr, bench_memory):
    print(f"== {bench.__name__}", flush=True)
    status |= bench.main([])
sys.exit(status)
