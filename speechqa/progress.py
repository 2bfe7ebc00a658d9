"""How a batch shows its progress: a bar on a terminal, a plain line per call in a log (cron
mail, orchestrator logs), nothing with --quiet (speechqa.batch.Progress itself). Either way
every failure is one line of its own on stderr, and every line is printable (file names with
newlines or escape codes cannot forge lines or drive the terminal)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from speechqa.batch import Progress, RunSummary
from speechqa.printable import printable


class _Counting(Progress):
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.total = self.done = self.failed = 0
        self.started = time.monotonic()

    def start(self, total: int, skipped: int) -> None:
        self.total, self.started = total, time.monotonic()
        self._say(f"{total} call(s) to score, {skipped} already in the warehouse")

    def call_done(self, outcome) -> None:
        self.done += 1
        self.failed += not outcome.ok

    def eta_s(self) -> float | None:
        if not self.done:
            return None
        return (time.monotonic() - self.started) / self.done * (self.total - self.done)

    def _say(self, text: str) -> None:
        print(printable(text), file=self.stream, flush=True)


def failure_line(outcome) -> str:
    """A failure as one line: `Error [TYPE]: message` (the message names the file)."""
    return printable(f"Error [{outcome.error_type}]: {outcome.message}")


def warning_lines(outcome) -> list[str]:
    """What the reader noticed about a scored call's file (a header that disagrees with its
    data), one line each, naming the file by its path as stored."""
    return [printable(f"warning: {outcome.relpath}: {note}") for note in getattr(outcome, "warnings", ())]


class LogProgress(_Counting):
    """One line per call, with its relative path and call id: no customer data from names."""

    def failed_early(self, outcome) -> None:
        self._say(f"{_stamp()} {outcome.relpath} FAILED {outcome.error_type}: {outcome.message}")

    def note(self, line: str) -> None:
        self._say(f"{_stamp()} {line}")

    def call_done(self, outcome) -> None:
        super().call_done(outcome)
        what = "scored" if outcome.ok else f"FAILED {outcome.error_type}: {outcome.message}"
        self._say(f"{_stamp()} [{self.done}/{self.total}] {outcome.relpath} call {outcome.call_id or '-'} {what}")
        for line in warning_lines(outcome):
            self._say(line)

    def committed(self, snapshot) -> None:
        self._say(f"committed {snapshot.name}")


class BarProgress(_Counting):
    """A bar redrawn in place: calls done, failures, time left."""

    WIDTH = 30

    def failed_early(self, outcome) -> None:
        self._above_bar([failure_line(outcome)])

    def note(self, line: str) -> None:
        self._above_bar([printable(line)])

    def call_done(self, outcome) -> None:
        super().call_done(outcome)
        self._above_bar(warning_lines(outcome) if outcome.ok else [failure_line(outcome)])
        filled = int(self.WIDTH * self.done / max(self.total, 1))
        eta = self.eta_s()
        left = "" if eta is None else f", {_clock(eta)} left"
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} calls, {self.failed} failed{left}  ")
        self.stream.flush()

    def _above_bar(self, lines: list[str]) -> None:
        """Lines printed where the bar is (cleared first); the bar is drawn again below them."""
        for line in lines:
            self.stream.write(f"\r\x1b[K{line}\n")

    def finish(self, summary: RunSummary) -> None:
        self.stream.write("\n")   # the summary itself is the CLI's to print


def progress_for(stream, *, quiet: bool) -> Progress:
    if quiet:
        return Progress()
    return BarProgress(stream) if stream.isatty() else LogProgress(stream)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
