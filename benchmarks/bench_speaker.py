"""Benchmark the speaker embeddings (speechqa.features.speaker, CAM++ on onnxruntime).

    python -m benchmarks.bench_speaker [--fixtures ../shared/fixtures] [--repeat 3]

What it measures:
- speed: wall seconds per second of audio of `speaker_embeddings` over lca49's agent channel
  (237.6 s, 8 kHz), 1.5 s windows every 0.75 s from start to end (as a diarizer covers a call
  that is all speech), one onnxruntime thread; the best of --repeat runs, resampling and fbank
  included; and the share of that spent in the network;
- separation on lca49 (agent left, caller right): 1.5 s windows where only one party speaks
  (each channel's VAD), every such window: the mean cosine within each voice and between the two,
  and the pair AUC (the share of (same-voice pair, cross pair) couples where the same-voice pair
  is the more alike).

Run alone (`python -m benchmarks` pins one core and one thread per library first); figures on
the development machine (2 cores shared with other work) are in models/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from speechqa.features.speaker import load_speaker_model, speaker_embeddings
from speechqa.features.vad import detect_speech, load_vad_model
from speechqa.timeline import intersection, total_s

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
WINDOW_S, HOP_S = 1.5, 0.75


class _TimedModel:
    """The model, with the time spent in the network added up."""

    def __init__(self, model):
        self.model, self.network_s = model, 0.0

    def embed(self, feats):
        start = time.perf_counter()
        out = self.model.embed(feats)
        self.network_s += time.perf_counter() - start
        return out


def bench_speed(x: np.ndarray, rate: int, model, repeat: int) -> dict:
    duration_s = len(x) / rate
    starts = np.arange(0.0, duration_s - WINDOW_S, HOP_S)
    windows = np.stack([starts, starts + WINDOW_S], axis=1)
    best, network = np.inf, np.nan
    for _ in range(repeat):
        timed = _TimedModel(model)
        start = time.perf_counter()
        speaker_embeddings(x, rate, windows, model=timed)
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, network = elapsed, timed.network_s / elapsed
    return {"windows": len(windows), "rtf": best / duration_s, "ms_per_window": 1000 * best / len(windows),
            "network_share": network}


def bench_separation(audio: np.ndarray, rate: int, model) -> dict:
    speech = detect_speech(audio, rate, model=load_vad_model())
    embeddings = []
    for channel, (own, other) in enumerate(((speech[0], speech[1]), (speech[1], speech[0]))):
        found = [(t, t + WINDOW_S) for start, end in own for t in np.arange(start, end - WINDOW_S, WINDOW_S)]
        alone = np.array([w for w in found if total_s(intersection(np.array([w]), other)) == 0])
        embeddings.append(speaker_embeddings(audio[channel], rate, alone, model=model))
    agent, caller = embeddings
    within = [(e @ e.T)[np.triu_indices(len(e), 1)] for e in embeddings]
    between = (agent @ caller.T).ravel()
    pooled = np.concatenate(within)
    return {
        "n_agent": len(agent), "n_caller": len(caller),
        "within_agent": within[0].mean(), "within_caller": within[1].mean(), "between": between.mean(),
        "auc": float((pooled[:, None] > between[None, :]).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--repeat", type=int, default=3, help="speed runs; the best counts")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    call = args.fixtures / "calls" / "lca49_agent-left_caller-right_8k.wav"
    if not call.exists():
        print(f"Error: fixture missing: {call} (pass --fixtures)", file=sys.stderr)
        return 1
    audio, rate = sf.read(call, dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(audio.T)
    model = load_speaker_model(threads=1)
    speed = bench_speed(audio[0], rate, model, args.repeat)
    separation = bench_separation(audio, rate, model)
    print(f"speechqa speaker embeddings ({model.model_id}), {WINDOW_S} s windows every {HOP_S} s, 1 thread")
    print(f"lca49 agent: {speed['windows']} windows, {speed['rtf']:.4f} s per s of audio, "
          f"{speed['ms_per_window']:.1f} ms per window, {speed['network_share']:.0%} in the network")
    print(f"lca49 one-party windows: agent {separation['n_agent']}, caller {separation['n_caller']}; mean cosine "
          f"within agent {separation['within_agent']:.3f}, within caller {separation['within_caller']:.3f}, "
          f"between {separation['between']:.3f}; pair AUC {separation['auc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
