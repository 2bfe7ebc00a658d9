"""The `speechqa` command: parses arguments, calls the library, turns errors into exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from speechqa import __version__
from speechqa.errors import SpeechQAError
from speechqa.names import AGENT_CHOICES, ASR_LANGUAGES

EXIT_ERROR = 1   # a call could not be scored (bad input, no speech, ...)
EXIT_USAGE = 2   # bad arguments or configuration
MEASURING_COMMANDS = ("score", "batch", "report")   # the commands with --agent, --model, --language, --no-asr


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speechqa",
        description="Speech analytics for contact-centre QA: measure and score recorded calls.",
    )
    parser.add_argument("--version", action="version", version=f"speechqa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = commands.add_parser(
        "score",
        help="measure and score one or more calls, print a scorecard (or JSON)",
        description="Measure and score recorded calls. Exit code 0 when every call was scored "
        "(whatever its verdicts), 1 when any could not be, 2 for bad arguments or configuration.",
    )
    score.add_argument("paths", nargs="+", metavar="PATH", help="an audio file (WAV, FLAC, MP3, OGG, ...)")
    score.add_argument("--config", metavar="FILE", help="a TOML configuration (default: the shipped one)")
    score.add_argument("--json", action="store_true", help="print one JSON object per call instead of a scorecard")
    score.add_argument("--html", metavar="OUT.html", help="also write the call as one self-contained HTML page (timeline, levels, F0, transcript, scorecard); one PATH only")
    score.add_argument("--png", metavar="OUT.png", help="also write the timeline and scorecard as a PNG (needs speechqa[plot]); one PATH only")
    score.add_argument("--embed-audio", action="store_true", help="put the recording itself into the --html page, with a player (off by default: recordings are personal data)")
    _add_measure_overrides(score)
    score.add_argument("--traceback", action="store_true", help="on an internal error, show the Python traceback (for bug reports)")

    batch = commands.add_parser(
        "batch",
        help="score every new or changed call of a folder into a Parquet warehouse (the nightly job)",
        description="Score the calls under RECORDINGS_DIR into the warehouse at --out: calls already "
        "there with the same content and measure hash are skipped, failures go to errors/, and each "
        "commit becomes visible all at once. Exit code 0 when every call of the run was scored, 1 when "
        "any failed, 2 for bad arguments, configuration, or a warehouse another run is writing, 130 when "
        "stopped by Ctrl-C or SIGTERM (what was finished is committed first).",
    )
    batch.add_argument("recordings", metavar="RECORDINGS_DIR", help="the folder of call recordings (searched recursively)")
    batch.add_argument("--out", required=True, metavar="WAREHOUSE_DIR", help="the warehouse folder (created when absent)")
    batch.add_argument("--config", metavar="FILE", help="a TOML configuration (default: the shipped one)")
    batch.add_argument("--workers", type=_positive_int, metavar="N", help="calls scored at once, one process each (overrides [batch] workers)")
    batch.add_argument("--since", type=_since, metavar="DATE", help="only calls that started at or after DATE (YYYY-MM-DD, local to [batch.sources] timezone, or an ISO 8601 time)")
    batch.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run the calls on this Dask cluster (needs speechqa[dask]); the warehouse is still written here")
    batch.add_argument("--quiet", action="store_true", help="print nothing but errors and the exit code")
    _add_measure_overrides(batch)

    rescore = commands.add_parser(
        "rescore",
        help="re-apply a [score] configuration to every stored call, from the stored timelines and words (no audio)",
        description="Recompute criteria, verdicts and totals of every call in the warehouse from turns/, "
        "utterances/, words/ and the stored metrics, re-applying timing thresholds to the stored timeline. "
        "Calls measured with another [measure] configuration are rescored too; run `batch` to measure them again.",
    )
    rescore.add_argument("warehouse", metavar="WAREHOUSE_DIR", help="a warehouse written by `speechqa batch`")
    rescore.add_argument("--config", metavar="FILE", help="the TOML configuration whose [score] to apply")
    rescore.add_argument("--quiet", action="store_true", help="print nothing but errors")

    purge = commands.add_parser(
        "purge",
        help="delete calls from every table of a warehouse: by date (retention) or by customer (erasure)",
        description="Delete the rows of the selected calls from every table, in one atomic commit, and the older "
        "snapshots with them. Given --before and --customer, only the calls matching both are deleted. Exit code 0 "
        "when done, 1 when --customer matched no call, 2 for bad arguments, configuration (another salt than the "
        "batch's) or warehouse.",
    )
    purge.add_argument("warehouse", metavar="WAREHOUSE_DIR", help="a warehouse written by `speechqa batch`")
    purge.add_argument("--before", type=_date, metavar="YYYY-MM-DD", help="calls whose call_date is before this day")
    purge.add_argument("--customer", metavar="ID", help="calls of this customer id (hashed first when [batch.sources] customer_id = \"hash\")")
    purge.add_argument("--config", metavar="FILE", help="the configuration the batch ran with (for the customer id salt)")

    report = commands.add_parser(
        "report",
        help="write a warehouse's night report as one HTML page: per day, criterion and agent, histograms, worst calls",
        description="Aggregate the warehouse's calls/ and errors/ tables (no audio) over a period into one "
        "self-contained HTML page. Exit code 0 when written, 1 when the page cannot be written, 2 for bad "
        "arguments or a folder that is not a warehouse.",
    )
    report.add_argument("warehouse", metavar="WAREHOUSE_DIR", help="a warehouse written by `speechqa batch`")
    report.add_argument("--html", required=True, metavar="OUT.html", help="the page to write; worst calls' pages <call_id>.html beside it are linked")
    report.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="the period's first day (call_date; default: 6 days before --until)")
    report.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="the period's last day (default: the latest call's day)")
    report.add_argument("--config", metavar="FILE", help="the configuration whose criteria labels and thresholds the page shows")
    report.add_argument("--scorecards", action="store_true", help="also score the worst calls again from their recordings (audio needed) and write their pages beside the report")
    _add_measure_overrides(report)

    config = commands.add_parser(
        "config",
        help="print the configuration in use (the shipped default, or --config FILE) with its hashes",
        description="Print the configuration as TOML, with its measure and score hashes as comments.",
    )
    config.add_argument("--config", metavar="FILE", help="a TOML configuration to check and print")
    return parser


def _add_measure_overrides(parser) -> None:
    parser.add_argument("--agent", choices=AGENT_CHOICES, help="which channel is the agent (overrides [measure] agent)")
    parser.add_argument("--model", metavar="PATH_OR_NAME", help="a faster-whisper model folder or name (overrides [measure.asr] model)")
    parser.add_argument("--language", choices=ASR_LANGUAGES, help="the calls' language (overrides [measure.asr] language)")
    parser.add_argument("--no-asr", action="store_true", help="no transcription: acoustics and timing only (faster; word criteria abstain)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: use 1 or more")
    return value


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def _since(text: str):
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[+03:00]") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import logging

    from speechqa.printable import printable

    class Printable(logging.Formatter):   # a file name in a message cannot forge a line or drive the terminal
        def format(self, record):
            return printable(super().format(record))

    handler = logging.StreamHandler()
    handler.setFormatter(Printable("speechqa: warning: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    from speechqa.config import dump_config, load_config

    try:
        cfg = load_config(args.config)
    except SpeechQAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "config":
        print(f"# measure_hash = {cfg.measure_hash}\n# score_hash = {cfg.score_hash}")
        print(dump_config(cfg), end="")
        return 0
    if args.command in MEASURING_COMMANDS:
        cfg = _with_overrides(cfg, args)
    if args.command == "report":
        return _report(args, cfg)
    if args.command in ("batch", "rescore", "purge"):
        from speechqa import cli_warehouse

        return getattr(cli_warehouse, args.command)(args, cfg)
    if (args.html or args.png or args.embed_audio) and (len(args.paths) > 1 or (args.embed_audio and not args.html)):
        print("Error: --html and --png take one PATH; --embed-audio needs --html", file=sys.stderr)
        return EXIT_USAGE
    visuals = {"html": args.html, "png": args.png, "embed_audio": args.embed_audio}
    return _score(args.paths, cfg, as_json=args.json, traceback=args.traceback, visuals=visuals)


def _score(paths: list[str], cfg, *, as_json: bool, traceback: bool, visuals: dict | None = None) -> int:
    from speechqa.call import score_call
    from speechqa.printable import printable
    from speechqa.report import scorecard, to_json

    failed = 0
    for path in paths:
        try:
            result = score_call(path, config=cfg)
        except Exception as exc:   # one call's failure never stops the others
            if traceback and not isinstance(exc, SpeechQAError):
                raise
            failed += 1
            error_type, message = _describe(exc, path)
            if as_json:
                print(json.dumps({"path": path, "error_type": error_type, "error": message}, ensure_ascii=False))
            print(printable(f"Error [{error_type}]: {message}"), file=sys.stderr)
            continue
        for note in result.notes:   # what the reader noticed about the file (a header that disagrees)
            print(printable(f"speechqa: warning: {path}: {note}"), file=sys.stderr)
        if as_json:
            print(json.dumps(to_json(result), ensure_ascii=False))
        else:
            print(scorecard(result))
            print()
        if visuals and (visuals["html"] or visuals["png"]):
            failed += not _write_visuals(result, cfg, visuals)
    return EXIT_ERROR if failed else 0


def _write_visuals(result, cfg, visuals: dict) -> bool:
    """--html / --png for one scored call; False (and one line on stderr) when they fail."""
    from speechqa.html_report import write_call_files

    try:
        write_call_files(result, score=cfg.score, max_duration_s=cfg.measure.max_duration_s, **visuals)
    except (OSError, SpeechQAError) as exc:
        print(f"Error: {result.path}: cannot write {visuals['html'] or visuals['png']}: {exc}", file=sys.stderr)
        return False
    return True


def _report(args, cfg) -> int:
    from pathlib import Path

    from speechqa.night_page import night_html
    from speechqa.night_report import night_data, write_worst_scorecards

    out = Path(args.html)
    skipped = []
    try:
        data = night_data(args.warehouse, config=cfg, since=args.since, until=args.until, scorecards_dir=out.parent)
        if args.scorecards:
            skipped = write_worst_scorecards(data["worst"], out.parent, recordings_dir=data["recordings_dir"], config=cfg)
        out.write_text(night_html(data, scorecards_command=_scorecards_command(args)), encoding="utf-8")
    except SpeechQAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"Error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    period = data["period"]
    print(f"{out}: {data['calls']} calls from {period['since']} to {period['until']}, {data['scored']} scored")
    for source, why in skipped:
        print(f"Error: no scorecard for {source}: {why}", file=sys.stderr)
    return EXIT_ERROR if skipped else 0


def _scorecards_command(args) -> str:
    """This report's command line with --scorecards (what writes the worst calls' pages)."""
    import shlex

    words = ["speechqa", "report", args.warehouse, "--html", args.html]
    for option in ("since", "until", "config"):
        if getattr(args, option):
            words += [f"--{option}", str(getattr(args, option))]
    return shlex.join([*words, "--scorecards"] + (["--no-asr"] if args.no_asr else []))


def _describe(exc: Exception, path: str) -> tuple[str, str]:
    """(error_type, one-line message naming the file) for any failure of one call."""
    if isinstance(exc, SpeechQAError):
        text = str(exc)
        return exc.error_type, text if text.startswith(str(path)) else f"{path}: {text}"
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return "internal", (
        f"{path}: {type(exc).__name__}: {detail} (a bug in speechqa: rerun with --traceback and report it)"
    )


def _with_overrides(cfg, args):
    """The configuration with the command line's choices on top."""
    measure, asr = cfg.measure, cfg.measure.asr
    if args.agent:
        measure = dataclasses.replace(measure, agent=args.agent)
    if args.model:
        asr = dataclasses.replace(asr, model=args.model)
    if args.language:
        asr = dataclasses.replace(asr, language=args.language)
    if args.no_asr:
        asr = dataclasses.replace(asr, enabled=False)
    return dataclasses.replace(cfg, measure=dataclasses.replace(measure, asr=asr))
