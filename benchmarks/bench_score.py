"""speechqa's whole `score` against a plain baseline, on one real call, in one run.

    python -m benchmarks.bench_score [--call PATH]

Baseline: faster-whisper's `WhisperModel.transcribe` on each channel in turn (the same model,
int8, vad_filter on, word timestamps) plus librosa's pYIN on each channel. speechqa: the whole
`score_call` (reading, VAD, crosstalk, loudness, pitch, timing, transcription, words, scoring).
Both with the model loaded beforehand; the ratio is speechqa's time over the baseline's.
This machine's speed drifts by a quarter from minute to minute, so the two run in turn for
`--rounds` rounds, each round's ratio from its own pair, and the median ratio is the figure.
Each side's word count is printed too: the two do not read the same speech (on lca49 the
baseline's VAD keeps about half of the caller's).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from benchmarks.bench_measure import DEFAULT_CALL


def baseline(path, model) -> tuple[float, int]:
    """Seconds the baseline takes on the call, and the words it transcribes."""
    import librosa
    import numpy as np
    import soundfile as sf
    import soxr

    start = time.perf_counter()
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    words = 0
    for channel in audio.T:
        x16 = soxr.resample(channel, sr, 16000).astype(np.float32)
        segments, _ = model.transcribe(x16, vad_filter=True, word_timestamps=True)
        words += sum(len(segment.words) for segment in segments)
        librosa.pyin(channel, fmin=60, fmax=400, sr=sr)
    return time.perf_counter() - start, words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", default=DEFAULT_CALL, help="the call to score")
    parser.add_argument("--rounds", type=int, default=3, help="speechqa and the baseline in turn, this many times")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: at least one round is needed for a ratio")
    try:
        import librosa  # noqa: F401
    except ImportError:
        print("skipped: librosa is not installed (pip install -e '.[bench]')")
        return 0
    from speechqa.asr import Transcriber
    from speechqa.audio import read_audio
    from speechqa.call import score_call
    from speechqa.config import default_config

    config = default_config()
    transcriber = Transcriber(config.measure.asr)
    duration = read_audio(args.call).duration_s
    print(f"score vs baseline: {duration:.1f} s call, {args.rounds} rounds")
    ratios = []
    for round_number in range(1, args.rounds + 1):
        stages: dict[str, float] = defaultdict(float)
        start = time.perf_counter()
        result = score_call(args.call, config=config, transcriber=transcriber,
                            hook=lambda name, seconds: stages.__setitem__(name, stages[name] + seconds))
        ours = time.perf_counter() - start
        our_words = sum(len(u.words) for u in result.measurement.utterances)
        base, base_words = baseline(args.call, transcriber.model)
        ratios.append(ours / base)
        print(f"  round {round_number}: speechqa {ours:5.1f} s ({100 * ours / duration:4.1f} % of the call; "
              + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1]) if v >= 0.05)
              + f"; {our_words} words), baseline {base:5.1f} s ({100 * base / duration:4.1f} %; {base_words} words), "
              + f"ratio {ours / base:.2f}", flush=True)
    print(f"  ratio, median of {len(ratios)} rounds: {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
