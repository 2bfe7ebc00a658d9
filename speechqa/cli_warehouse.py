"""The warehouse commands of the CLI: `batch`, `rescore` and `purge` (parsing is in speechqa.cli)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from speechqa.errors import SpeechQAError
from speechqa.printable import printable

EXIT_NOTHING = 1   # purge --customer matched no call
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130   # as a shell reports a command stopped by Ctrl-C


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (systemd stop, Kubernetes pod shutdown) stops the batch like Ctrl-C does: what is
    finished is committed before it exits."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def batch(args, cfg) -> int:
    """`cfg` comes with the command line's [measure] choices (--agent, --model, ...) applied."""
    from speechqa.batch import run_batch
    from speechqa.progress import progress_for

    factory = None
    try:
        since = None if args.since is None else _as_utc(args.since, cfg.batch.sources.timezone)
        if args.scheduler:
            from speechqa.cluster import dask_executor_factory

            factory = dask_executor_factory(args.scheduler)
        with _sigterm_as_interrupt():
            summary = run_batch(
                args.recordings, args.out, config=cfg, since=since, workers=args.workers,
                executor_factory=factory, progress=progress_for(sys.stderr, quiet=args.quiet),
            )
    except SpeechQAError as exc:
        print(f"Error [{exc.error_type}]: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the calls finished so far are committed; run the same command again to score the rest",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.quiet:
        for relpath, error_type, message in summary.failures:
            print(printable(f"Error [{error_type}]: {message}"), file=sys.stderr)
    else:
        print(summary_text(summary))
    return summary.exit_code


def rescore(args, cfg) -> int:
    from speechqa.rescore import rescore_warehouse

    try:
        result = rescore_warehouse(args.warehouse, config=cfg)
    except SpeechQAError as exc:
        print(f"Error [{exc.error_type}]: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(
            f"rescored {result.calls} call(s) with score_hash {cfg.score_hash} in {result.seconds:.1f} s "
            f"({result.changed_verdicts} verdict(s) changed); run {result.run_id}"
        )
        if result.other_measure:
            print(f"note: {result.other_measure} call(s) were measured with another [measure] configuration; "
                  "run `speechqa batch` with this configuration to measure them again")
    return 0


def purge(args, cfg) -> int:
    from speechqa.rescore import purge_warehouse

    if args.before is None and args.customer is None:
        print("Error: say what to delete: --before YYYY-MM-DD, --customer ID, or both (the calls matching both)", file=sys.stderr)
        return EXIT_USAGE
    try:
        removed = purge_warehouse(args.warehouse, before=args.before, customer=args.customer, config=cfg)
    except SpeechQAError as exc:
        print(f"Error [{exc.error_type}]: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if removed == 0 and args.customer is not None:   # an erasure request that found nothing is no success
        what = f"customer {args.customer}" + (f" before {args.before}" if args.before else "")
        print(printable(f"Error: no call of {what} is in {args.warehouse}; nothing was purged. Check the id "
                        "(as the file names or sidecars carry it)"), file=sys.stderr)
        return EXIT_NOTHING
    print(f"purged {removed} call(s) from every table")
    return 0


def summary_text(summary) -> str:
    """Where the tables are, what the run did, and the criteria failed most often."""
    from speechqa.warehouse import Warehouse

    warehouse = Warehouse(summary.warehouse)
    lines = [
        f"warehouse: {(summary.warehouse / 'current').absolute()}  (tables: calls, criteria, turns, utterances, words, errors, runs)",
        f"run {summary.run_id}: {summary.scored} scored, {summary.failed} failed, {summary.skipped} skipped "
        f"(of {summary.found} calls found), {summary.audio_s / 60:.1f} min of audio",
    ]
    calls = warehouse.read("calls", columns=["call_id", "score_total"]).to_pylist()
    not_scored = {c["call_id"] for c in calls if c["score_total"] is None}
    criteria = warehouse.read("criteria", columns=["call_id", "criterion_id", "verdict"]).to_pylist()
    worst = worst_criteria([r for r in criteria if r["call_id"] not in not_scored])
    if worst or not_scored:
        skipped = f"; skipped {len(not_scored)} not scored (too little could be measured)" if not_scored else ""
        lines.append(f"criteria failed most often (the {len(calls) - len(not_scored)} scored call(s) in the warehouse{skipped}):")
        lines += [f"  {cid:<24} failed in {fails} of {decided} decided call(s)" for cid, fails, decided in worst] or ["  none"]
    for relpath, error_type, message in summary.failures:
        lines.append(printable(f"FAILED [{error_type}] {message}"))
    lines += [printable(line) for line in summary.ignored]
    return "\n".join(lines)


def worst_criteria(rows: list[dict], *, most: int = 5) -> list[tuple[str, int, int]]:
    """(criterion id, fails, decided calls) of the criteria rows given, highest fail share first."""
    fails, decided = Counter(), Counter()
    for row in rows:
        if row["verdict"] != "abstain":
            decided[row["criterion_id"]] += 1
            fails[row["criterion_id"]] += row["verdict"] == "fail"
    ranked = sorted(decided, key=lambda c: (-fails[c] / decided[c], c))
    return [(c, fails[c], decided[c]) for c in ranked if fails[c]][:most]


def _as_utc(moment: datetime, zone: str) -> datetime:
    """A time from the command line: without a zone it is local to [batch.sources] timezone."""
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        except (KeyError, ValueError):
            raise SpeechQAError(f"[batch.sources] timezone = {zone!r} is not a known time zone", error_type="bad_config") from None
    return moment.astimezone(timezone.utc)
