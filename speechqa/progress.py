"""How a batch shows its progress: a bar on a terminal, a plain line per call in a log (cron
mail, orchestrator logs), nothing with --quiet (speechqa.batch.Progress itself)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from speechqa.batch import Progress, RunSummary


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
        print(text, file=self.stream, flush=True)


class LogProgress(_Counting):
    """One line per call, with its relative path and call id: no customer data from names."""

    def call_done(self, outcome) -> None:
        super().call_done(outcome)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        what = "scored" if outcome.ok else f"FAILED {outcome.error_type}: {outcome.message}"
        self._say(f"{stamp} [{self.done}/{self.total}] {outcome.relpath} call {outcome.call_id or '-'} {what}")

    def committed(self, snapshot) -> None:
        self._say(f"committed {snapshot.name}")


class BarProgress(_Counting):
    """A bar redrawn in place: calls done, failures, time left."""

    WIDTH = 30

    def call_done(self, outcome) -> None:
        super().call_done(outcome)
        filled = int(self.WIDTH * self.done / max(self.total, 1))
        eta = self.eta_s()
        left = "" if eta is None else f", {_clock(eta)} left"
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} calls, {self.failed} failed{left}  ")
        self.stream.flush()

    def finish(self, summary: RunSummary) -> None:
        self.stream.write("\n")   # the summary itself is the CLI's to print


def progress_for(stream, *, quiet: bool) -> Progress:
    if quiet:
        return Progress()
    return BarProgress(stream) if stream.isatty() else LogProgress(stream)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
