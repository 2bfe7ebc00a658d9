"""Peak memory of `speechqa score` on a 1-hour stereo call (the issue's bound: 1.5 GB).

    python -m benchmarks.bench_memory [--minutes 60] [--rate 8000] [--no-asr] [--mono]

--mono mixes the call down to one channel, so it is diarized (issue 11's bound: 1.5 GB too).

Builds the call in a temporary folder by repeating the real lca49 call (or, without the
fixtures, speech-like noise bursts), scores it in a child process and reports the child's
peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.bench_measure import DEFAULT_CALL


def make_call(path: Path, minutes: float, rate_hz: int, *, mono: bool = False) -> None:
    if DEFAULT_CALL.is_file():
        import soxr

        block, sr = sf.read(DEFAULT_CALL, dtype="float32", always_2d=True)
        if sr != rate_hz:
            block = soxr.resample(block, sr, rate_hz)
    else:
        rng = np.random.default_rng(0)
        t = np.arange(60 * rate_hz) / rate_hz
        burst = (np.sin(2 * np.pi * 0.4 * t) > 0.2).astype(np.float32)
        block = np.stack([burst, 1 - burst], axis=1) * rng.standard_normal((t.size, 2)).astype(np.float32) * 0.05
    if mono:
        block = block.mean(axis=1, keepdims=True)
    frames = int(minutes * 60 * rate_hz)
    with sf.SoundFile(path, "w", rate_hz, block.shape[1], subtype="PCM_16") as out:
        written = 0
        while written < frames:
            piece = block[: frames - written]
            out.write(piece)
            written += len(piece)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=8000, help="sample rate of the made call (Hz)")
    parser.add_argument("--no-asr", action="store_true", help="measure without transcription")
    parser.add_argument("--mono", action="store_true", help="the call mixed down to one channel (diarized)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long_call.wav"
        make_call(path, args.minutes, args.rate, mono=args.mono)
        start = time.perf_counter()
        command = [sys.executable, "-m", "speechqa", "score", "--json", str(path)] + (["--no-asr"] if args.no_asr else [])
        run = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    status = "scored" if run.returncode == 0 else f"FAILED: {run.stderr.strip()[-300:]}"
    what = "without transcription" if args.no_asr else "with transcription"
    layout = "mono (diarized)" if args.mono else "stereo"
    print(f"memory: {args.minutes:g} min {layout} {args.rate} Hz call, {what}, {status}; peak RSS {peak_mb:.0f} MB; {elapsed:.1f} s")
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
