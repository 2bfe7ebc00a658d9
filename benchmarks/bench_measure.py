"""Speed of everything but transcription, per stage, on one core.

    python -m benchmarks.bench_measure [--call PATH] [--repeat 3]

Reads the call, then runs speechqa's whole measurement (quality, VAD, crosstalk, loudness,
pitch, timeline) and scoring on both channels, and prints each stage's time and the total as
a share of the call's duration. Run it through `python -m benchmarks`, which pins the process
to one core and one thread first.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

DEFAULT_CALL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "calls" / "lca49_agent-left_caller-right_8k.wav"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", type=Path, default=DEFAULT_CALL, help="the call to measure")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the fastest is reported")
    args = parser.parse_args(argv)
    if not args.call.is_file():
        print(f"skipped: {args.call} not found (the ../shared fixtures are absent)")
        return 0

    from speechqa.audio import read_audio
    from speechqa.call import assess
    from speechqa.config import default_config
    from speechqa.features.vad import load_vad_model
    from speechqa.measure import measure_call

    config = default_config()
    load_vad_model()   # loading the model once per process is not per-call cost
    best = None
    for _ in range(args.repeat):
        stages: dict[str, float] = defaultdict(float)
        start = time.perf_counter()
        recording = read_audio(args.call, max_duration_s=config.measure.max_duration_s)
        stages["read"] = time.perf_counter() - start
        measurement = measure_call(
            recording, measure=config.measure,
            hook=lambda name, seconds: stages.__setitem__(name, stages[name] + seconds),
        )
        t = time.perf_counter()
        assess(measurement, score=config.score)
        stages["scoring"] = time.perf_counter() - t
        stages["total"] = time.perf_counter() - start
        if best is None or stages["total"] < best["total"]:
            best = dict(stages)
    duration = recording.duration_s
    print(f"measure (all but transcription): {args.call.name}, {duration:.1f} s, "
          f"{recording.channels} ch, best of {args.repeat}")
    for name, seconds in sorted(best.items(), key=lambda kv: (kv[0] == "total", -kv[1])):
        print(f"  {name:<10} {seconds * 1000:8.1f} ms  {100 * seconds / duration:6.3f} % of the call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
