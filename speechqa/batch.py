"""The nightly batch: a recordings folder in, the warehouse brought up to date, nothing lost.

The driver finds the calls, skips the ones already stored with the same content and measure
hash, hands the rest to an executor (local processes, or a Dask cluster's), and commits what
comes back every `commit_interval_s` and at the end. Only the driver writes the warehouse, so
the guarantees of speechqa.warehouse hold whatever runs the calls.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Executor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from speechqa.agents import commit_update
from speechqa.config import Config, config_for_queue
from speechqa.cores import usable_cores
from speechqa.errors import SpeechQAError
from speechqa.sources import CallSource, call_content_id, customer_id_policy, describe_ignored, discover
from speechqa.names import STAGES
from speechqa.stages import check_stage
from speechqa.runs import model_id, new_run_id, run_row, runs_with
from speechqa.tables import to_table
from speechqa.warehouse import Changes, Warehouse, WarehouseLock
from speechqa.worker import Job, Outcome, process_call

log = logging.getLogger("speechqa")


@dataclass
class RunSummary:
    run_id: str
    warehouse: Path
    found: int = 0
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    replaced: int = 0
    audio_s: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)   # (relpath, type, message)
    ignored: list[str] = field(default_factory=list)   # what the walk passed over on purpose, a line per reason

    @property
    def exit_code(self) -> int:
        return 0 if self.failed == 0 else 1


class Progress:
    """What the batch tells as it goes; the CLI passes a bar or a log, tests their own."""

    def start(self, total: int, skipped: int) -> None: ...
    def failed_early(self, outcome: Outcome) -> None:
        """A file that failed before scoring (a lone leg, bad metadata, unreadable), told once
        `start` has been: one line each, like a call that fails."""
    def note(self, line: str) -> None:
        """Something the run did on purpose that a reader of its log should know (files passed over)."""
    def call_done(self, outcome: Outcome) -> None: ...
    def committed(self, snapshot: Path) -> None: ...
    def finish(self, summary: RunSummary) -> None: ...


ExecutorFactory = Callable[[int], Executor]   # (threads per worker) -> a fresh executor


def run_batch(
    recordings: str | os.PathLike,
    warehouse_dir: str | os.PathLike,
    *,
    config: Config,
    since: datetime | None = None,
    executor_factory: ExecutorFactory | None = None,
    workers: int | None = None,
    process: Callable[[Job], Outcome] = process_call,
    progress: Progress | None = None,
    before_swap: Callable[[], None] | None = None,
) -> RunSummary:
    """Score every new or changed call under `recordings` into the warehouse at `warehouse_dir`.
    `executor_factory` defaults to local worker processes; `process` is what runs per call
    (tests pass one that crashes); `before_swap` is called inside each commit (tests)."""
    root = Path(recordings)
    if not root.is_dir():
        raise SpeechQAError(f"{root}: no such folder of recordings", error_type="not_found")
    workers = workers or config.batch.workers or automatic_workers()
    threads = config.batch.threads_per_worker
    if executor_factory is None and threads == 0:   # local workers share this machine's cores
        threads = max(1, usable_cores() // workers)
    progress = progress or Progress()
    run_id = new_run_id()
    summary = RunSummary(run_id=run_id, warehouse=Path(warehouse_dir))
    model = model_id(config)
    warehouse = Warehouse(
        warehouse_dir, compression=config.batch.compression,
        metadata={"measure_hash": config.measure_hash, "score_hash": config.score_hash, "model_id": model,
                  **customer_id_policy(config.batch.sources)},
    )
    warehouse.check_target()
    with WarehouseLock(warehouse.root, run_id=run_id):
        warehouse.clean_unfinished()
        run = _Run(warehouse, config, summary, root=root, since=since, model=model,
                   started=datetime.now(timezone.utc), before_swap=before_swap)
        start = time.perf_counter()
        sources, problems, ignored = discover(root, options=config.batch.sources, since=since)
        summary.ignored = describe_ignored(ignored)
        run.stage("discover", time.perf_counter() - start)
        start = time.perf_counter()
        jobs = run.plan(sources, problems, threads=threads)
        run.stage("hash", time.perf_counter() - start)
        progress.start(len(jobs), summary.skipped)
        for line in summary.ignored:
            progress.note(line)
        for outcome in run.pending:   # what plan() found failing: only failures are pending yet
            progress.failed_early(outcome)
        factory = executor_factory or (lambda t: local_executor(workers, t))
        try:
            for outcome in execute(jobs, process, factory, threads=threads, in_flight=2 * workers):
                run.collect(outcome)
                progress.call_done(outcome)
                if run.due(config.batch.commit_interval_s):
                    progress.committed(run.commit())
        except KeyboardInterrupt:   # Ctrl-C, or SIGTERM as the CLI maps it: keep what is finished
            progress.committed(run.commit(status="interrupted"))
            raise
        except Exception:   # a bug, or a warehouse that cannot be written: keep what is finished if it can be
            with contextlib.suppress(Exception):
                run.commit(status="failed")
            raise
        progress.committed(run.commit(status="complete" if summary.failed == 0 else "failed"))
    progress.finish(summary)
    return summary


WORKER_MEMORY_BYTES = 1_500_000_000   # above a worker's peak with transcription, ~1.0 GB at any length (README, Input)


def automatic_workers() -> int:
    """One worker per core (two workers of one thread scored 1.5 times the calls of one worker of
    two threads: benchmarks/bench_batch.py), but no more than the memory holds."""
    cores = usable_cores()
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, memory // WORKER_MEMORY_BYTES))


def local_executor(workers: int, threads: int) -> Executor:
    """Worker processes (spawned, so no parent state leaks in), each capped at `threads`."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from speechqa.worker import init_worker

    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker, initargs=(threads, os.getpid()),   # workers exit when this process dies
    )


def execute(jobs: list[Job], process, factory: ExecutorFactory, *, threads: int, in_flight: int):
    """Yield one Outcome per job, in completion order. A worker that dies takes down a local
    process pool: the calls it was running are re-run one at a time in a fresh pool, and the
    one that kills a pool on its own gets an error row; the batch goes on. The pool may break
    between two submissions too (`submit` then raises): the call not yet submitted goes back to
    its queue, unharmed. Dask reports the calls on a worker that died too often as KilledWorker,
    the innocent ones queued beside the culprit included: they are re-run one at a time in the
    same way."""
    queue, suspects = deque(jobs), deque()
    executor = factory(threads)
    running: dict = {}
    try:
        while queue or suspects or running:
            broken = False
            while len(running) < (1 if suspects or _alone(running) else in_flight):
                source = suspects if suspects else queue
                if not source or (suspects and running):
                    break
                job = source.popleft()
                try:
                    future = executor.submit(process, job)
                except BrokenProcessPool:   # a worker died since the last wait: nothing was submitted
                    source.appendleft(job)
                    broken = True
                    break
                running[future] = (job, source is suspects)
            if not running:
                done = set()
            else:   # a broken pool fails every running future at once: collect them all
                done, _ = wait(running, return_when=ALL_COMPLETED if broken else FIRST_COMPLETED)
            for future in done:
                job, isolated = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken = True
                    if isolated:
                        yield _crashed(job, "the worker process died while scoring it (crash or out of memory)")
                    else:
                        suspects.append(job)
                except Exception as exc:   # e.g. Dask's KilledWorker, or a result that would not pickle
                    if type(exc).__name__ == "KilledWorker" and not isolated:
                        suspects.append(job)   # maybe only queued on the worker that died: run it alone
                    else:
                        yield _crashed(job, f"{type(exc).__name__}: {exc}")
            if broken:
                for future, (job, isolated) in list(running.items()):
                    running.pop(future)
                    suspects.append(job)
                executor.shutdown(wait=False, cancel_futures=True)
                executor = factory(threads)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


SOURCE_COLUMNS = ("source_path", "source_caller_path", "source_size_bytes", "source_mtime_ns")


def _with_baselines(tables: dict[str, list[dict]], update: dict[str, list[dict]]) -> None:
    """Add a commit's baseline rows (speechqa.agents) to its tables: the calls and criteria rows
    of calls judged again replace those the commit held (a moved call keeps its new path)."""
    for table, rows in update.items():
        again = {r["call_id"]: r for r in rows}
        held = tables.get(table, [])
        if table == "calls":
            ids = {r["call_id"] for r in held}
            tables[table] = [{**row, **{k: r[k] for k in SOURCE_COLUMNS}} if (row := again.get(r["call_id"])) else r
                             for r in held] + [r for r in rows if r["call_id"] not in ids]
        else:
            tables[table] = [r for r in held if r["call_id"] not in again] + rows


def _alone(running: dict) -> bool:
    return any(isolated for _, isolated in running.values())


def _crashed(job: Job, message: str) -> Outcome:
    return Outcome(job.call_id, job.source.shown_relpath, error_type="worker_crashed", message=message)


class _Run:
    """One run's state: what the warehouse held, what is pending, and the run's counts."""

    def __init__(self, warehouse: Warehouse, config: Config, summary: RunSummary, *, root: Path, since, model: str,
                 started, before_swap):
        self.warehouse, self.config, self.summary, self.root, self.since = warehouse, config, summary, root, since
        self.model = model
        self.started, self.before_swap = started, before_swap
        index = warehouse.read("calls", columns=["call_id", "call_date", "source_path", "source_size_bytes", "source_mtime_ns", "measure_hash"])
        self.index = {row["call_id"]: row for row in index.to_pylist()}
        self.by_path = {row["source_path"]: row for row in self.index.values()}
        self.errors = {row["source_path"]: row for row in warehouse.read("errors").to_pylist()}
        self.pending: list[Outcome] = []
        self.replaces: dict[str, set[str]] = {}   # call_id -> old call ids its rows replace
        self.moved: dict[str, CallSource] = {}     # stored calls found at a new path
        self.discovered: set[str] = set()          # the paths this run found, as stored
        self.last_commit = time.monotonic()
        self.sequence = 0

    def stage(self, name: str, seconds: float) -> None:
        check_stage(name)   # the runs table has a column for each of STAGES only
        self.summary.stages[name] = self.summary.stages.get(name, 0.0) + seconds

    def plan(self, sources: list[CallSource], problems, *, threads: int) -> list[Job]:
        # Found: every call and every file that could not become one, so that found = scored +
        # skipped + failed, each failure an error row.
        self.summary.found = len(sources) + len(problems)
        for problem in problems:
            self.collect(Outcome("", problem.relpath, error_type=problem.error_type, message=problem.message))
        ids = {}
        for source in sources:
            try:
                ids[source.relpath] = self._call_id(source)
            except OSError as exc:
                self.collect(Outcome("", source.shown_relpath, error_type="unreadable", message=f"{source.shown_relpath}: cannot read ({exc.strerror})"))
        present = set(ids.values())
        self.discovered = {s.shown_relpath for s in sources} | {p.relpath for p in problems}
        jobs, seen = [], set()
        for source in sources:
            call_id = ids.get(source.relpath)
            if call_id is None:
                continue
            try:
                config, override = config_for_queue(self.config, source.metadata.get("queue"))
            except SpeechQAError as exc:
                self.collect(Outcome(call_id, source.shown_relpath, error_type=exc.error_type, message=str(exc)))
                continue
            stored = self.index.get(call_id)
            if call_id in seen or (stored is not None and stored["measure_hash"] == config.measure_hash):
                self.summary.skipped += 1
                self.errors.pop(source.shown_relpath, None)
                if call_id not in seen and stored["source_path"] not in self.discovered:
                    self.moved[call_id] = source   # the same call, moved: its path is brought up to date
                seen.add(call_id)
                continue
            seen.add(call_id)
            old = {call_id} if stored is not None else set()
            before = self.by_path.get(source.shown_relpath)
            if before is not None and before["call_id"] != call_id and before["call_id"] not in present:
                old.add(before["call_id"])   # the file's content changed: the new rows replace the old
            self.replaces[call_id] = old
            jobs.append(Job(source=source, call_id=call_id, config=config, override=override,
                            threads=threads, run_id=self.summary.run_id, model_id=self.model))
        return jobs

    def _call_id(self, source: CallSource) -> str:
        """The content id, without reading the file again when its size and time are as stored."""
        stored = self.by_path.get(source.shown_relpath)
        if stored is not None and (stored["source_size_bytes"], stored["source_mtime_ns"]) == (source.size_bytes, source.mtime_ns):
            return stored["call_id"]
        return call_content_id(source)

    def collect(self, outcome: Outcome) -> None:
        for name, seconds in outcome.stages.items():
            self.stage(name, seconds)
        if outcome.ok:
            self.summary.scored += 1
            self.summary.audio_s += outcome.audio_s
            self.summary.replaced += bool(self.replaces.get(outcome.call_id))
        else:
            self.summary.failed += 1
            self.summary.failures.append((outcome.relpath, outcome.error_type, outcome.message))
            log.info("%s: %s: %s", outcome.relpath, outcome.error_type, outcome.message)
        for note in outcome.warnings:   # the progress shows them; a library user hears them here
            log.info("%s: %s", outcome.relpath, note)
        self.pending.append(outcome)

    def due(self, interval_s: float) -> bool:
        """Whether to commit now; an interval of 0 commits once, at the end of the run."""
        return interval_s > 0 and time.monotonic() - self.last_commit >= interval_s

    def commit(self, *, status: str = "running") -> Path:
        start = time.perf_counter()
        now = datetime.now(timezone.utc)
        changes = Changes()
        tables: dict[str, list[dict]] = {}
        for outcome in self.pending:
            if outcome.ok:
                for table, rows in outcome.records.items():
                    tables.setdefault(table, []).extend(rows)
                for old in self.replaces.get(outcome.call_id, ()):
                    if old in self.index:
                        changes.delete[old] = self.index[old]["call_date"]
                self.errors.pop(outcome.relpath, None)
            else:
                self._record_error(outcome, now)
        if self.moved:
            tables.setdefault("calls", []).extend(self._moved_rows())
        pending = {o.call_id: o.records for o in self.pending if o.ok}
        if pending or changes.delete:
            _with_baselines(tables, commit_update(self.warehouse, pending, changes.delete, self.config,
                                                  run_id=self.summary.run_id, now=now))
        changes.rows = {table: to_table(table, rows) for table, rows in tables.items() if rows}
        self._forget_vanished_errors()
        changes.replace["errors"] = to_table("errors", sorted(self.errors.values(), key=lambda r: r["source_path"]))
        self.stage("commit", time.perf_counter() - start)
        changes.replace["runs"] = self._runs_table(now, status)
        # A run whose calls all failed still leaves calls/ readable, with the columns the README's views name.
        changes.empty_schemas["calls"] = to_table("calls", [{f"verdict_{c.id}": None for c in self.config.score.criteria}]).schema
        self.sequence += 1
        snapshot = self.warehouse.commit(changes, snapshot_id=f"{self.summary.run_id}-{self.sequence:04d}", before_swap=self.before_swap)
        for outcome in self.pending:   # the index now holds what was committed
            if outcome.ok:
                row = outcome.records["calls"][0]
                for old in self.replaces.get(outcome.call_id, ()):
                    self.index.pop(old, None)
                self.index[outcome.call_id] = row
                self.by_path[outcome.relpath] = row
        self.pending = []
        self.last_commit = time.monotonic()
        return snapshot

    def _moved_rows(self) -> list[dict]:
        """The calls rows of moved files with their new path (their other tables are unchanged)."""
        rows = [r for r in self.warehouse.read("calls").to_pylist() if r["call_id"] in self.moved]
        for row in rows:
            source = self.moved[row["call_id"]]
            row.update(source_path=source.shown_relpath,
                       source_caller_path=(source.shown_relpaths or source.relpaths)[1] if source.two_legs else None,
                       source_size_bytes=source.size_bytes, source_mtime_ns=source.mtime_ns)
            self.by_path[source.shown_relpath] = row
        self.moved = {}
        return rows

    def _record_error(self, outcome: Outcome, now: datetime) -> None:
        before = self.errors.get(outcome.relpath)
        self.errors[outcome.relpath] = {
            "source_path": outcome.relpath,
            "fingerprint": outcome.call_id or self._fingerprint(outcome.relpath),
            "call_id": outcome.call_id or None,
            "error_type": outcome.error_type,
            "message": outcome.message,
            "run_id": self.summary.run_id,
            "first_failure_utc": before["first_failure_utc"] if before else now,
            "last_failure_utc": now,
            "failures": (before["failures"] if before else 0) + 1,
        }

    def _fingerprint(self, relpath: str) -> str | None:
        try:
            stat = (self.root / relpath).stat()
        except OSError:
            return None
        return f"size {stat.st_size}, mtime_ns {stat.st_mtime_ns}"

    def _forget_vanished_errors(self) -> None:
        """errors/ lists files that fail now: a file this run did not find leaves it (unless
        --since kept the run from looking at it)."""
        if self.since is None:
            for relpath in [p for p in self.errors if p not in self.discovered]:
                del self.errors[relpath]

    def _runs_table(self, now: datetime, status: str):
        s = self.summary
        row = run_row(
            s.run_id, "batch", self.config, started=self.started, status=status, ended=now,
            model_id=self.model, recordings_dir=str(self.root), calls_found=s.found, calls_scored=s.scored,
            calls_skipped=s.skipped, calls_failed=s.failed, calls_replaced=s.replaced, calls_removed=0,
            audio_s=s.audio_s, **{f"stage_{name}_s": s.stages.get(name) for name in STAGES},
        )
        return runs_with(self.warehouse, row)
