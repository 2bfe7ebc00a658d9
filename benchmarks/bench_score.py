"""speechqa's whole `score` against two baselines, on one real call, in one run.

    python -m benchmarks.bench_score [--call PATH] [--rounds N] [--config FILE] [--model PATH]

Three sides, each with the same model (the configured one, int8), loaded beforehand; the
baselines load it as faster-whisper does by default (CTranslate2's own thread count, one call at
a time), speechqa as it does (`[measure.asr] threads` and `streams`):
- speechqa: the whole `score_call` (reading, VAD, crosstalk, loudness, pitch, timing,
  transcription, words, scoring);
- naive: faster-whisper's `WhisperModel.transcribe` on each channel in turn (vad_filter on,
  word timestamps) plus librosa's pYIN on each channel;
- batched: faster-whisper's `BatchedInferencePipeline` on each channel in turn (batch 8, beam 5,
  word timestamps, its own VAD), transcription alone. The reference of issue 19: speechqa's
  default should take at most 0.9 of its time.
This machine's speed drifts by a quarter from minute to minute and its cores are shared, so the
three run in turn for `--rounds` rounds, each round's ratios from its own three, the median the
figure; each side's CPU seconds (this process's, every thread: `time.process_time`) are printed
beside its wall seconds, and CPU ratios too (steadier on a shared machine). Each side's word count
is printed: the three do not read the same speech (the baselines' VAD keeps less of the caller's).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.bench_measure import DEFAULT_CALL

def _channels_16k(path):
    import numpy as np
    import soundfile as sf
    import soxr

    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    return audio, sr, [soxr.resample(channel, sr, 16000).astype(np.float32) for channel in audio.T]


def naive(path, model) -> int:
    """The words the naive baseline transcribes (and its pitch tracked)."""
    import librosa

    audio, sr, channels = _channels_16k(path)
    words = 0
    for channel, x16 in zip(audio.T, channels):
        segments, _ = model.transcribe(x16, vad_filter=True, word_timestamps=True)
        words += sum(len(segment.words) for segment in segments)
        librosa.pyin(channel, fmin=60, fmax=400, sr=sr)
    return words


def batched(path, pipeline) -> int:
    """The words faster-whisper's batched pipeline transcribes, batch 8, beam 5."""
    _, _, channels = _channels_16k(path)
    words = 0
    for x16 in channels:
        segments, _ = pipeline.transcribe(x16, batch_size=8, beam_size=5, word_timestamps=True)
        words += sum(len(segment.words) for segment in segments)
    return words


def timed(run) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of run()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", default=DEFAULT_CALL, help="the call to score")
    parser.add_argument("--rounds", type=int, default=3, help="the three sides in turn, this many times")
    parser.add_argument("--config", help="a speechqa TOML configuration (the shipped default without it)")
    parser.add_argument("--model", help="a faster-whisper model folder; overrides [measure.asr] model")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: at least one round is needed for a ratio")
    try:
        import librosa  # noqa: F401
    except ImportError:
        print("skipped: librosa is not installed (pip install -e '.[bench]')")
        return 0
    import soundfile as sf
    from faster_whisper import BatchedInferencePipeline

    from speechqa.asr import Transcriber, load_asr_model
    from speechqa.audio import read_audio
    from speechqa.call import score_call
    from speechqa.config import load_config

    config = load_config(args.config)
    if args.model:
        asr = dataclasses.replace(config.measure.asr, model=args.model)
        config = dataclasses.replace(config, measure=dataclasses.replace(config.measure, asr=asr))
    transcriber = Transcriber(config.measure.asr)
    if not hasattr(transcriber.model, "transcribe"):
        print(f"skipped: the baselines need a faster-whisper model, and {config.measure.asr.model} is not one (bench_asr takes it)")
        return 0
    baseline = load_asr_model(config.measure.asr.model, compute_type=config.measure.asr.compute_type)
    pipeline = BatchedInferencePipeline(baseline)
    duration = read_audio(args.call).duration_s
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"score vs naive vs batched: {duration:.1f} s call, {args.rounds} rounds, model {config.measure.asr.model} "
          f"(beam {config.measure.asr.beam_size}), {os.cpu_count()} cores, load average {load:.2f} at the start")

    def speechqa():
        stages: dict[str, float] = defaultdict(float)
        result = score_call(args.call, config=config, transcriber=transcriber,
                            hook=lambda name, seconds: stages.__setitem__(name, stages[name] + seconds))
        return sum(len(u.words) for u in result.measurement.utterances), stages

    # One untimed pass of each side over the call's first 30 s: librosa's pYIN compiles itself
    # (numba) on first use and each side loads its VAD, which would count against round 1.
    with tempfile.TemporaryDirectory() as folder:
        recording = read_audio(args.call)
        opening = Path(folder) / "opening.wav"
        sf.write(opening, recording.samples[:, : 30 * recording.sample_rate_hz].T, recording.sample_rate_hz)
        score_call(opening, config=config, transcriber=transcriber)
        naive(opening, baseline)
        batched(opening, pipeline)

    ratios: dict[str, list[float]] = defaultdict(list)
    for round_number in range(1, args.rounds + 1):
        wall, cpu, (words, stages) = timed(speechqa)
        sides = {"speechqa": (wall, cpu, words)}
        sides["naive"] = timed(lambda: naive(args.call, baseline))
        sides["batched"] = timed(lambda: batched(args.call, pipeline))
        print(f"  round {round_number}: " + "; ".join(
            f"{name} {w:5.1f} s, cpu {c:5.1f} s ({100 * w / duration:4.1f} % of the call; {n} words)" for name, (w, c, n) in sides.items()
        ) + "; speechqa's stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1]) if v >= 0.05), flush=True)
        for other in ("naive", "batched"):
            ratios[f"{other} wall"].append(wall / sides[other][0])
            ratios[f"{other} cpu"].append(cpu / sides[other][1])
        print("    ratios: " + ", ".join(f"speechqa / {k} {v[-1]:.2f}" for k, v in ratios.items()), flush=True)
    for name, values in ratios.items():
        print(f"  speechqa / {name}, median of {len(values)} rounds: {statistics.median(values):.2f} "
              f"(range {min(values):.2f}-{max(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
