"""Word error rate of speechqa's transcription against faster-whisper's plain use, in one run.

    python -m benchmarks.bench_asr [--fixtures ../shared/fixtures] [--config FILE] [--model PATH]
                                   [--sets NAME ...] [--no-baseline]

speechqa: the configured model (the default: models/whisper-base, int8), each file cut by
speechqa's own VAD and decoded in batches, with `[measure.asr]` from `--config` (the shipped
default without it) and `--model` on top, so settings and models compare without code edits.
Baselines, on the same model: `WhisperModel.transcribe` (int8, vad_filter on, word timestamps)
and `BatchedInferencePipeline` (batch 8, beam 5, word timestamps: bench_score's reference).
WER after normalising case, punctuation and numbers (speechqa.testing.normalise_for_wer).
Times are wall seconds and this process's CPU seconds (both cores count: CPU time can exceed
wall time); a set in a language the model cannot read (Russian on an `*.en` model) is skipped.
`--model` also takes a folder for the second recogniser (speechqa.onnx_asr), without the baselines.

Every reference file but Harvard's is one short window, which shows nothing of how speech is packed
into windows; two joined sets are: `asterisk_joined` (the 40 Asterisk prompts in one recording) and
`fda_joined` (the 50 FDA sentences, ../shared/fixtures/pitch/fda_rl, through a phone line, in one
recording), each several windows, written to a temporary folder for the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--config", type=Path, help="a speechqa TOML configuration ([measure.asr] and [measure.vad] are read)")
    parser.add_argument("--model", help="a faster-whisper model folder; overrides [measure.asr] model")
    parser.add_argument("--sets", nargs="+", metavar="NAME", help="only these reference sets (default: all)")
    parser.add_argument("--no-baseline", action="store_true", help="speechqa only, no baselines (when comparing speechqa's own settings)")
    args = parser.parse_args(argv)
    if not (args.fixtures / "asr").is_dir():
        print(f"skipped: {args.fixtures / 'asr'} not found")
        return 0
    from faster_whisper import BatchedInferencePipeline

    from speechqa.asr import Transcriber, load_asr_model, reads_only
    from speechqa.config import load_config
    from speechqa.testing import asr_reference_sets, transcribe_file, word_error_rate

    config = load_config(args.config)
    options = config.measure.asr if args.model is None else dataclasses.replace(config.measure.asr, model=args.model)
    transcriber = Transcriber(options)
    only = reads_only(transcriber.model)   # None: many languages; else an `*.en` Whisper's or an ONNX model's one
    whisper_model = hasattr(transcriber.model, "transcribe")   # the baselines run on a faster-whisper model only
    sets = asr_reference_sets(args.fixtures)
    scratch = tempfile.TemporaryDirectory()
    sets.update(joined_sets(args.fixtures, sets, Path(scratch.name)))
    unknown = set(args.sets or ()) - set(sets)
    if unknown:
        parser.error(f"--sets {sorted(unknown)}: the sets are {sorted(sets)}")
    print(f"ASR word error rate, model {options.model} ({options.compute_type}{'' if only is None else f', reads {only} only'}), "
          f"beam {options.beam_size}, batch {options.batch_size}, config {args.config or 'default'}")
    sides = {
        "speechqa": lambda path, language: transcribe_file(path, language=language, transcriber=transcriber, vad_options=config.measure.vad),
        "baseline": lambda path, language: " ".join(s.text for s in baseline.transcribe(
            str(path), language=language, vad_filter=True, word_timestamps=True)[0]),
        "batched": lambda path, language: " ".join(s.text for s in pipeline.transcribe(
            str(path), language=language, batch_size=8, beam_size=5, word_timestamps=True)[0]),
    }
    if args.no_baseline or not whisper_model:
        sides = {"speechqa": sides["speechqa"]}
    else:
        baseline = load_asr_model(options.model, compute_type=options.compute_type)   # faster-whisper's default threads
        pipeline = BatchedInferencePipeline(baseline)
    print(f"{'set':<20}{'files':>6}" + "".join(f"{name:>10}{name + ' s (cpu)':>22}" for name in sides))
    for name, (language, items) in sets.items():
        if args.sets and name not in args.sets:
            continue
        if only is not None and language != only:
            print(f"{name:<20}{len(items):>6}  skipped: {language} on a model that reads {only} only")
            continue
        texts = {side: [] for side in sides}
        seconds = {side: [0.0, 0.0] for side in sides}
        for path, _ in items:
            for side, transcribe in sides.items():   # in turn, file by file: the machine's drift hits all alike
                wall, cpu = time.perf_counter(), time.process_time()
                texts[side].append(transcribe(path, language))
                seconds[side][0] += time.perf_counter() - wall
                seconds[side][1] += time.process_time() - cpu
        references = [ref for _, ref in items]
        print(f"{name:<20}{len(items):>6}" + "".join(
            f"{word_error_rate(references, texts[side], language=language):>10.1%}{f'{wall:.1f} ({cpu:.1f})':>22}"
            for side, (wall, cpu) in seconds.items()), flush=True)
    return 0


def joined_sets(fixtures: Path, sets: dict, folder: Path) -> dict[str, tuple[str, list[tuple[Path, str]]]]:
    """Reference sets of several windows: many short files joined into one recording."""
    import numpy as np
    import soundfile as sf

    from speechqa.testing import PHONE_RATE_HZ, phone_channel

    joined = {}
    prompts = [(sf.read(path, dtype="float32", always_2d=True), text) for path, text in sets["asterisk_ru"][1]]
    if {sr for (_, sr), _ in prompts} == {PHONE_RATE_HZ}:
        sf.write(folder / "asterisk_joined.wav", np.concatenate([x.mean(axis=1) for (x, _), _ in prompts]), PHONE_RATE_HZ)
        joined["asterisk_joined"] = ("ru", [(folder / "asterisk_joined.wav", " ".join(text for _, text in prompts))])
    fda = fixtures / "pitch" / "fda_rl"
    if (fda / "orthographic.index").is_file():
        texts = dict(line.split(" ", 1) for line in (fda / "orthographic.index").read_text().splitlines() if line.strip())
        said = [(sf.read(fda / f"rl{number}.wav", dtype="float32"), text.strip())
                for number, text in sorted(texts.items()) if (fda / f"rl{number}.wav").is_file()]
        sf.write(folder / "fda_joined.wav", np.concatenate([phone_channel(x, sr) for (x, sr), _ in said]), PHONE_RATE_HZ)
        joined["fda_joined"] = ("en", [(folder / "fda_joined.wav", " ".join(text for _, text in said))])
    return joined


if __name__ == "__main__":
    raise SystemExit(main())
