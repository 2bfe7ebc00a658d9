"""Word error rate of speechqa's transcription against faster-whisper's plain use, in one run.

    python -m benchmarks.bench_asr [--fixtures ../shared/fixtures] [--config FILE] [--model PATH]
                                   [--sets NAME ...] [--no-baseline]

speechqa: the configured model (the default: models/whisper-base, int8), each file cut by
speechqa's own VAD and decoded in batches, with `[measure.asr]` from `--config` (the shipped
default without it) and `--model` on top, so settings and models compare without code edits.
Baseline: `WhisperModel.transcribe` on the same model, int8, vad_filter on, word timestamps.
WER after normalising case, punctuation and numbers (speechqa.testing.normalise_for_wer).
Times are wall seconds and this process's CPU seconds (both cores count: CPU time can exceed
wall time); a set in a language the model cannot read (Russian on an `*.en` model) is skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--config", type=Path, help="a speechqa TOML configuration ([measure.asr] and [measure.vad] are read)")
    parser.add_argument("--model", help="a faster-whisper model folder; overrides [measure.asr] model")
    parser.add_argument("--sets", nargs="+", metavar="NAME", help="only these reference sets (default: all)")
    parser.add_argument("--no-baseline", action="store_true", help="speechqa only (when comparing speechqa's own settings)")
    args = parser.parse_args(argv)
    if not (args.fixtures / "asr").is_dir():
        print(f"skipped: {args.fixtures / 'asr'} not found")
        return 0
    from speechqa.asr import Transcriber
    from speechqa.config import load_config
    from speechqa.testing import asr_reference_sets, transcribe_file, word_error_rate
    from speechqa.whisper import is_multilingual

    config = load_config(args.config)
    options = config.measure.asr if args.model is None else dataclasses.replace(config.measure.asr, model=args.model)
    transcriber = Transcriber(options)
    multilingual = is_multilingual(transcriber.model)
    sets = asr_reference_sets(args.fixtures)
    unknown = set(args.sets or ()) - set(sets)
    if unknown:
        parser.error(f"--sets {sorted(unknown)}: the sets are {sorted(sets)}")
    print(f"ASR word error rate, model {options.model} ({options.compute_type}{'' if multilingual else ', English-only'}), "
          f"beam {options.beam_size}, batch {options.batch_size}, config {args.config or 'default'}")
    print(f"{'set':<20}{'files':>6}{'speechqa':>10}{'baseline':>10}{'speechqa s (cpu)':>18}{'baseline s (cpu)':>18}")
    for name, (language, items) in sets.items():
        if args.sets and name not in args.sets:
            continue
        if not multilingual and language != "en":
            print(f"{name:<20}{len(items):>6}  skipped: {language} on an English-only model")
            continue
        ours, base = [], []
        t_ours, t_base = [0.0, 0.0], [0.0, 0.0]
        for path, _ in items:
            wall, cpu = time.perf_counter(), time.process_time()
            ours.append(transcribe_file(path, language=language, transcriber=transcriber, vad_options=config.measure.vad))
            t_ours[0] += time.perf_counter() - wall
            t_ours[1] += time.process_time() - cpu
            if args.no_baseline:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            segments, _ = transcriber.model.transcribe(str(path), language=language, vad_filter=True, word_timestamps=True)
            base.append(" ".join(s.text for s in segments))
            t_base[0] += time.perf_counter() - wall
            t_base[1] += time.process_time() - cpu
        references = [ref for _, ref in items]
        ours_wer = f"{word_error_rate(references, ours, language=language):.1%}"
        base_wer = "-" if args.no_baseline else f"{word_error_rate(references, base, language=language):.1%}"
        base_time = "-" if args.no_baseline else f"{t_base[0]:.1f} ({t_base[1]:.1f})"
        print(f"{name:<20}{len(items):>6}{ours_wer:>10}{base_wer:>10}{f'{t_ours[0]:.1f} ({t_ours[1]:.1f})':>18}{base_time:>18}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
