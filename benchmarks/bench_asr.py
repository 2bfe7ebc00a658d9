"""Word error rate of speechqa's transcription against faster-whisper's plain use, in one run.

    python -m benchmarks.bench_asr [--fixtures ../shared/fixtures]

speechqa: the default model (models/whisper-base, int8), each file cut by speechqa's own VAD
and decoded in batches. Baseline: `WhisperModel.transcribe` on the same model, int8,
vad_filter on, word timestamps. WER after normalising case, punctuation and numbers
(speechqa.testing.normalise_for_wer).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    args = parser.parse_args(argv)
    if not (args.fixtures / "asr").is_dir():
        print(f"skipped: {args.fixtures / 'asr'} not found")
        return 0
    from speechqa.asr import Transcriber
    from speechqa.config import default_config
    from speechqa.testing import asr_reference_sets, transcribe_file, word_error_rate

    config = default_config()
    options = config.measure.asr
    transcriber = Transcriber(options)
    print(f"ASR word error rate, model {options.model} ({options.compute_type}), beam {options.beam_size}")
    print(f"{'set':<20}{'files':>6}{'speechqa':>10}{'baseline':>10}{'speechqa s':>12}{'baseline s':>12}")
    for name, (language, items) in asr_reference_sets(args.fixtures).items():
        ours, base, t_ours, t_base = [], [], 0.0, 0.0
        for path, _ in items:
            start = time.perf_counter()
            ours.append(transcribe_file(path, language=language, transcriber=transcriber, vad_options=config.measure.vad))
            t_ours += time.perf_counter() - start
            start = time.perf_counter()
            segments, _ = transcriber.model.transcribe(str(path), language=language, vad_filter=True, word_timestamps=True)
            base.append(" ".join(s.text for s in segments))
            t_base += time.perf_counter() - start
        references = [ref for _, ref in items]
        print(f"{name:<20}{len(items):>6}{word_error_rate(references, ours, language=language):>10.1%}"
              f"{word_error_rate(references, base, language=language):>10.1%}{t_ours:>12.1f}{t_base:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
