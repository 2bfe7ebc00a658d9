"""A call's memory is bounded by the block it is read in, not by its length (issue 18).

Measured with tracemalloc (numpy reports its buffers to it): the peak of reading and measuring a
long call, without ASR, against the peak of one twice as long. Held whole, the samples alone of
the longer call would add 8 kHz x 2 channels x 4 bytes = 64 kB a second; the frame tracks that
stay whole (VAD, pitch) add about 3 kB.
"""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

from speechqa.audio import read_audio
from speechqa.config import default_config
from speechqa.measure import measure_call

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CONFIG = default_config()
MINUTES = 6.0


def long_call(path: Path, minutes: float) -> Path:
    """The English sample (50 s) repeated to `minutes`, written a block at a time."""
    block, rate = sf.read(SAMPLES / "call_en_stereo.wav", dtype="float32", always_2d=True)
    frames = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", rate, block.shape[1], subtype="PCM_16") as out:
        for start in range(0, frames, len(block)):
            out.write(block[: frames - start])
    return path


def peak_bytes(path: Path) -> int:
    """Peak traced memory of reading and measuring the call (no ASR, no diarization)."""
    measure = dataclasses.replace(CONFIG.measure, diarize=dataclasses.replace(CONFIG.measure.diarize, enabled=False))
    tracemalloc.start()
    try:
        measure_call(read_audio(path), measure=measure)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_doubling_a_call_does_not_double_its_memory(tmp_path):
    peak_bytes(long_call(tmp_path / "warm.wav", 1.0))   # models and caches loaded once, outside the figures
    short = peak_bytes(long_call(tmp_path / "short.wav", MINUTES))
    double = peak_bytes(long_call(tmp_path / "double.wav", 2 * MINUTES))
    held_whole = MINUTES * 60 * 8000 * 2 * np.dtype(np.float32).itemsize   # what the samples alone would add
    assert double - short < 0.15 * held_whole, (
        f"measuring {2 * MINUTES:g} minutes peaked at {double / 1e6:.1f} MB, {MINUTES:g} minutes at "
        f"{short / 1e6:.1f} MB: memory grows with the call's length"
    )
