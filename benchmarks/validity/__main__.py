"""`python -m benchmarks.validity`: the validity suite on a real stereo call, as Markdown.

Each perturbation of benchmarks/validity/cases.py, then the noise ladder (phone-band noise,
SNR 30 to 5 dB) and the codec ladder (G.711, GSM 06.10, Opus 8 kbit/s), each scored with the
shipped configuration and compared with the unperturbed call. `--readme` writes the tables into
README.md between the validity markers. Exit status 1 when a perturbation does not hold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.validity import cases, suite, table
from speechqa.config import load_config

ROOT = Path(__file__).resolve().parents[2]
LCA49 = ROOT.parent / "shared" / "fixtures" / "calls" / "lca49_agent-left_caller-right_8k.wav"
SAMPLE = ROOT / "samples" / "call_en_stereo.wav"   # synthetic (espeak-ng), but its greeting is recognised
START, END = "<!-- validity:start -->", "<!-- validity:end -->"


def report(call_path: Path, *, config, transcriber, ladders: bool) -> tuple[str, bool]:
    started = time.perf_counter()
    call = suite.load(call_path, config=config, transcriber=transcriber)
    outcomes = [(call_path.stem, o) for o in
                suite.run_cases(call, cases.stereo_cases(call), config=config, transcriber=transcriber)]
    reversed_config = suite.with_agent(config, call.result.measurement.roles.caller_channel)
    reversed_call = suite.load(call_path, config=reversed_config, transcriber=transcriber)
    outcomes += [(f"{call_path.stem}, roles reversed", o) for o in
                 suite.run_cases(reversed_call, [cases.question_case()], config=reversed_config, transcriber=transcriber)]
    if SAMPLE.is_file():
        sample = suite.load(SAMPLE, config=config, transcriber=transcriber)
        outcomes += [(SAMPLE.stem, o) for o in
                     suite.run_cases(sample, [cases.greeting_case()], config=config, transcriber=transcriber)]
    parts = [f"{'With' if suite.transcribed(config) else 'Without'} transcription, the shipped configuration.",
             "", table.perturbation_table(outcomes)]
    steps = []
    if ladders:
        noise = suite.noise_ladder(call, config=config, transcriber=transcriber)
        codecs = suite.codec_ladder(call, config=config, transcriber=transcriber)
        steps = noise + codecs
        parts += ["", table.ladder_table(call, steps), "", table.holds_table(call, noise, codecs)]
    parts += ["", f"Made by `python -m benchmarks.validity{'' if ladders else ' --no-ladders'}` in "
              f"{time.perf_counter() - started:.0f} s."]
    ok = all(o.ok for _, o in outcomes if isinstance(o, suite.Outcome)) and all(s.ok for s in steps)
    return "\n".join(parts), ok


def write_readme(text: str, readme: Path = ROOT / "README.md") -> None:
    body = readme.read_text(encoding="utf-8")
    head, start, rest = body.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{readme}: no {START} ... {END} markers to write the tables between")
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.validity", description=__doc__.splitlines()[0])
    parser.add_argument("--call", type=Path, default=LCA49, help="a real stereo call (default: the lca49 fixture)")
    parser.add_argument("--config", help="a TOML configuration (default: the shipped one)")
    parser.add_argument("--no-asr", action="store_true", help="acoustic cases only (word cases are skipped)")
    parser.add_argument("--no-ladders", action="store_true", help="the perturbations only")
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md")
    args = parser.parse_args(argv)
    if not args.call.is_file():
        print(f"no call at {args.call}: the ../shared fixtures are absent; name one with --call", file=sys.stderr)
        return 2
    config = load_config(args.config)
    if args.no_asr:
        config = suite.no_asr(config)
    transcriber = None
    if suite.transcribed(config):
        from speechqa.asr import Transcriber

        transcriber = Transcriber(config.measure.asr)
    text, ok = report(args.call, config=config, transcriber=transcriber, ladders=not args.no_ladders)
    print(text)
    if args.readme:
        write_readme(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
