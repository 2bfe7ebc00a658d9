"""The Parquet warehouse: snapshots that become visible all at once, and the lock around them.

Layout under WAREHOUSE_DIR:
    current -> .snapshots/<id>          the tables a reader sees (a symbolic link)
    .snapshots/<id>/<table>/day=YYYY-MM-DD/part-<id>.parquet   (calls, criteria, turns, ...)
    .snapshots/<id>/errors/errors.parquet, runs/runs.parquet        (small, unpartitioned)
    .lock                                held by the run that writes

A commit builds a whole new snapshot beside the current one (unchanged day files are hard
links, so it costs little), then swaps `current` with one atomic rename. A reader sees the
previous snapshot or the new one, never half of one; a run killed at any moment leaves the
current snapshot as it was, and its unfinished snapshot is removed by the next run. No engine's
own writer gives this: appends duplicate rows and overwrites delete other days.

A snapshot stays on disk while it is current, while it is the one before, and for
KEEP_REPLACED_S after it was replaced: a reader that resolved `current` to its snapshot folder
reads whole files from it however often the batch commits (README, "Reading it"). A purge is
an erasure and removes every snapshot but its own. A table without rows holds one empty file
with its columns (`part-empty.parquet`), so a reader's glob finds the table and its schema.

The day folders are named `day=`, not `call_date=`: the files carry `call_date` (a date) for
readers that ignore folder names, and a folder key of the same name is a second, differently
typed source of that column for readers that discover Hive partitions (pyarrow and pandas read
`call_date=2026-11-22` as a string and refuse to merge it with the file's date). Warehouses
written before hold `call_date=` folders; a commit reads either and writes `day=` only, so the
next commit moves every day over in its one atomic swap (README, "Reading it").
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from speechqa import __version__
from speechqa.errors import SpeechQAError
from speechqa.tables import PARTITIONED, PROVENANCE, SINGLE_FILE, table_schema

log = logging.getLogger("speechqa")

CURRENT = "current"
SNAPSHOTS = ".snapshots"
LOCK = ".lock"
KEEP_SNAPSHOTS = 2   # the current one and the one before it, which a slow reader may still be on
KEEP_REPLACED_S = 900.0   # and any replaced less than 15 minutes ago: a reader that resolved `current` keeps its files
EMPTY_FILE = "part-empty.parquet"   # a table without rows: one file with its columns, so readers find it
META_FILE = "_speechqa.json"
CARRIED_META = ("customer_id", "customer_id_check")   # what a commit keeps from the snapshot before (purge reads it)
WAREHOUSE_ENTRIES = (CURRENT, SNAPSHOTS, LOCK)   # what a warehouse folder holds (and current.<pid>.tmp mid-swap)
DAY_KEY = "day"                  # day folders: day=YYYY-MM-DD
LEGACY_DAY_KEYS = ("call_date",)  # what warehouses written before named them; read, never written


@dataclass
class Changes:
    """What one commit does: rows to add (each carries call_id and call_date; they replace that
    call's rows in their table), calls whose rows leave every table (replaced or erased), and
    whole new contents of the unpartitioned tables."""

    rows: dict[str, pa.Table] = field(default_factory=dict)
    delete: dict[str, date] = field(default_factory=dict)        # call_id -> the day its rows are in
    replace: dict[str, pa.Table] = field(default_factory=dict)   # errors, runs
    # The columns of a partitioned table left without rows (default: its fixed columns); the
    # batch passes calls with a verdict_ column per criterion, which the README's views name.
    empty_schemas: dict[str, pa.Schema] = field(default_factory=dict)


class WarehouseLock:
    """An exclusive lock on the warehouse. The kernel drops it when its holder dies, even by
    SIGKILL, so a killed run never leaves it stuck."""

    def __init__(self, root: Path, *, run_id: str):
        self.path = root / LOCK
        self.run_id = run_id
        self._file = None

    def __enter__(self) -> WarehouseLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise unwritable(self.path.parent, exc) from None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise SpeechQAError(
                f"{self.path.parent}: another speechqa run is writing this warehouse ({holder}). "
                "Wait for it to finish, or stop it; a killed run releases the lock by itself.",
                error_type="warehouse_busy",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}, run {self.run_id}, since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
        f.flush()
        self._file = f
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()   # closing releases the lock
            self._file = None


class Warehouse:
    def __init__(self, root: str | os.PathLike, *, compression: str = "zstd", metadata: dict[str, str] | None = None):
        """`metadata`: what the writing run is (its configuration hashes, its model), recorded
        in each snapshot's _speechqa.json; a Parquet file's own metadata says what its rows are."""
        self.root = Path(root)
        self.compression = compression
        self.metadata = {"speechqa_version": __version__, **(metadata or {})}

    # ---- what the folder is ----------------------------------------------------------------

    def check_target(self) -> None:
        """For a run that may create the warehouse (`batch --out`): the folder must be absent,
        empty, or a speechqa warehouse; anything else is refused before a file is written."""
        if not self.root.exists():
            return
        if not self.root.is_dir():
            raise SpeechQAError(f"{self.root} is a file, not a folder; give `--out` a folder for the warehouse",
                                error_type="bad_warehouse")
        self.snapshot_dir()   # a `current` that is no link is refused there
        others = sorted(p.name for p in self.root.iterdir()
                        if p.name not in WAREHOUSE_ENTRIES and not (p.name.startswith(f"{CURRENT}.") and p.name.endswith(".tmp")))
        if others:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            raise SpeechQAError(
                f"{self.root} holds other files ({shown}), so it is not a speechqa warehouse; give `--out` "
                "an empty folder, a new one, or a warehouse written by `speechqa batch`",
                error_type="bad_warehouse",
            )

    def check_existing(self) -> Path:
        """For a command that works on a warehouse (`rescore`, `purge`): it must be there, with
        a snapshot. Returns the current snapshot. A mistyped path is refused, never created."""
        if not self.root.exists():
            raise SpeechQAError(f"{self.root} does not exist; give the folder `speechqa batch --out` wrote",
                                error_type="not_found")
        snapshot = self.snapshot_dir() if self.root.is_dir() else None
        if snapshot is None:
            raise SpeechQAError(
                f"{self.root} is not a speechqa warehouse (no `{CURRENT}` link to a snapshot in it); give the "
                "folder `speechqa batch --out` wrote",
                error_type="bad_warehouse",
            )
        return snapshot

    def snapshot_metadata(self) -> dict:
        """The current snapshot's _speechqa.json (what the runs that wrote it were); {} when none."""
        return _read_meta(self.snapshot_dir())

    # ---- reading -------------------------------------------------------------------------

    def snapshot_dir(self) -> Path | None:
        """The snapshot readers see now, or None for an empty warehouse."""
        link = self.root / CURRENT
        if not link.is_symlink():
            if link.exists():
                raise SpeechQAError(
                    f"{link} is not a link to a snapshot: this folder is not a speechqa warehouse. "
                    "Give `--out` an empty or a speechqa warehouse folder.",
                    error_type="bad_warehouse",
                )
            return None
        return (self.root / os.readlink(link)).resolve()

    def read(self, table: str, *, columns: list[str] | None = None) -> pa.Table:
        """A whole table of the current snapshot (all days), older files' missing columns as
        nulls. Partitioned tables keep call_date from inside the files."""
        snapshot = self.snapshot_dir()
        files = [] if snapshot is None else _files(snapshot / table)
        return _read_files(files, table=table, columns=columns)

    def days(self, table: str) -> list[str]:
        """The days of a table in the current snapshot, as folder names (`day=YYYY-MM-DD`),
        whichever layout the snapshot has."""
        snapshot = self.snapshot_dir()
        return [] if snapshot is None else sorted(_day_folders(snapshot / table))

    def read_day(self, table: str, day: str) -> pa.Table:
        """One day of a partitioned table (`day` as given by `days`). A day is found under
        either folder name, so a rescore that commits part-way, moving a warehouse written
        before to `day=` folders, still finds the days it has not reached."""
        snapshot = self.snapshot_dir()
        folders = [] if snapshot is None else _day_folders(snapshot / table).get(_day_name(day), [])
        return _read_files([f for folder in folders for f in _files(folder)], table=table)

    # ---- writing -------------------------------------------------------------------------

    def commit(self, changes: Changes, *, snapshot_id: str, before_swap=None, erase: bool = False) -> Path:
        """Write a new snapshot with `changes` applied and make it current in one rename.
        `before_swap()` (tests) is called when everything is written but not yet visible.
        `erase`: remove every other snapshot once it is current (an erasure: the rows it deleted
        must not stay readable in the snapshots kept for readers).
        A warehouse that cannot be written (read-only, full disk) raises SpeechQAError
        (warehouse_unwritable) and is left as it was."""
        work = self.root / SNAPSHOTS / f"{snapshot_id}.tmp"
        try:
            return self._commit(changes, work, snapshot_id=snapshot_id, before_swap=before_swap, erase=erase)
        except OSError as exc:
            shutil.rmtree(work, ignore_errors=True)   # give back what the unfinished snapshot took
            raise unwritable(self.root, exc) from None

    def _commit(self, changes: Changes, work: Path, *, snapshot_id: str, before_swap, erase: bool) -> Path:
        old = self.snapshot_dir()
        snapshots = work.parent
        snapshots.mkdir(parents=True, exist_ok=True)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir()
        # Calls in `delete` leave every table; a call's new rows in a table replace its rows there.
        delete_days = {_day_name(day) for day in changes.delete.values()}
        for table in PARTITIONED:
            rows = changes.rows.get(table)
            deleted = set(changes.delete) | (set() if rows is None else set(rows.column("call_id").to_pylist()))
            self._write_partitioned(table, old, work, rows, deleted, delete_days, snapshot_id)
            if not (work / table).exists():   # no rows at all: one empty file with the table's columns
                before = [] if old is None else sorted((old / table).glob(f"*/{EMPTY_FILE}"))
                if before:
                    _link_tree(before[0].parent, work / table / _day_name(before[0].parent.name))
                else:
                    empty = changes.empty_schemas.get(table, table_schema(table)).empty_table()
                    self._write_file(empty, work / table / _day_name(_utc_today()) / EMPTY_FILE, table=table)
        for table in SINGLE_FILE:
            if table in changes.replace:
                self._write_file(changes.replace[table], work / table / f"{table}.parquet", table=table)
            elif old is not None and (old / table).exists():
                _link_tree(old / table, work / table)
        carried = {k: v for k, v in _read_meta(old).items() if k in CARRIED_META}
        (work / META_FILE).write_text(
            json.dumps({"snapshot": snapshot_id, **carried, **self.metadata}, indent=1), encoding="utf-8"
        )
        _fsync(work / META_FILE)
        _fsync_folders(work)
        final = snapshots / snapshot_id
        os.rename(work, final)
        _fsync(snapshots)
        if before_swap is not None:
            before_swap()
        _swap_link(self.root / CURRENT, Path(SNAPSHOTS) / snapshot_id)
        self._collect_garbage(current=final, previous=None if erase or old is None else old, erase=erase)
        return final

    def clean_unfinished(self) -> None:
        """Remove what a killed run left: unfinished snapshots. Call only under the lock."""
        snapshots = self.root / SNAPSHOTS
        if snapshots.exists():
            for path in snapshots.glob("*.tmp"):
                shutil.rmtree(path, ignore_errors=True)
        for path in self.root.glob(f"{CURRENT}.*.tmp"):
            path.unlink(missing_ok=True)

    def _write_partitioned(self, table, old, work, new_rows, deleted, delete_days, snapshot_id) -> None:
        by_day = {} if new_rows is None else _split_by_day(new_rows)
        old_days = {} if old is None else _day_folders(old / table)
        legacy = [p for folders in old_days.values() for p in folders if p.name != _day_name(p.name)]
        if legacy:
            log.info("%s: %d day folders renamed from %s= to %s= in this commit",
                     table, len(legacy), legacy[0].name.partition("=")[0], DAY_KEY)
        for day_name in sorted(set(old_days) | set(by_day)):
            target = work / table / day_name
            if day_name not in by_day and day_name not in delete_days and len(old_days[day_name]) == 1:
                if [f.name for f in _files(old_days[day_name][0])] != [EMPTY_FILE]:   # an empty table's file goes
                    _link_tree(old_days[day_name][0], target)   # untouched day: shared, not copied
                continue
            old_files = [f for folder in old_days.get(day_name, []) for f in _files(folder)]
            parts = [_without(_read_files([f], table=table), deleted) for f in old_files]
            if day_name in by_day:
                parts.append(by_day[day_name])
            merged = _concat(parts, table)
            if merged.num_rows:
                self._write_file(merged, target / f"part-{snapshot_id}.parquet", table=table)

    def _write_file(self, rows: pa.Table, path: Path, *, table: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {**(rows.schema.metadata or {}), **{k.encode(): v.encode() for k, v in file_metadata(rows, table).items()}}
        pq.write_table(
            rows.replace_schema_metadata(meta), path, compression=self.compression,
            coerce_timestamps="us", allow_truncated_timestamps=False,
        )
        _fsync(path)

    def _collect_garbage(self, *, current: Path, previous: Path | None, erase: bool) -> None:
        """Remove the snapshots no reader should still be on: all but the current one, the one
        before it, and those replaced less than KEEP_REPLACED_S ago (a snapshot is replaced when
        the next one is written: its successor's _speechqa.json time). `erase`: all but the
        current one."""
        now = time.time()
        finished = sorted((_written_s(p), p.name) for p in (self.root / SNAPSHOTS).iterdir()
                          if not p.name.endswith(".tmp"))
        keep = {current.name} | ({previous.name} if previous is not None else set())
        if not erase:
            keep |= {name for (_, name), (replaced, _) in zip(finished, finished[1:]) if now - replaced < KEEP_REPLACED_S}
        for _, name in finished:
            if name not in keep:
                shutil.rmtree(self.root / SNAPSHOTS / name, ignore_errors=True)


def unwritable(root: Path, exc: OSError) -> SpeechQAError:
    """A warehouse that cannot be written, as one line that says why and what to do."""
    import errno

    why = exc.strerror or str(exc)
    hint = {errno.ENOSPC: "free some space on its disk", errno.EDQUOT: "free some space or raise the quota",
            errno.EROFS: "mount it writable, or give another folder",
            errno.EACCES: "give the user running speechqa write access", errno.EPERM: "give the user running speechqa write access",
            }.get(exc.errno, "check the disk and the folder's permissions")
    where = f" ({exc.filename})" if getattr(exc, "filename", None) and str(exc.filename) != str(root) else ""
    return SpeechQAError(f"{root}: the warehouse cannot be written: {why}{where}; {hint}. Readers keep the "
                         "last commit that finished; run again when it is mended", error_type="warehouse_unwritable")


def file_metadata(rows: pa.Table, table: str) -> dict[str, str]:
    """A Parquet file's own metadata: the table, the speechqa version that wrote it, and for each
    provenance column it has, the values its rows hold (comma-separated, sorted), so a file that
    holds rows of several runs (a day rewritten by a rescore, or by a batch that added calls)
    says so instead of naming only the last run's."""
    meta = {"speechqa_table": table, "speechqa_version": __version__}
    for name in PROVENANCE:
        if name in rows.column_names:
            values = {v for v in rows.column(name).to_pylist() if v is not None}
            meta[name] = ",".join(sorted(values))
    return meta


def _read_meta(snapshot: Path | None) -> dict:
    try:
        return json.loads((snapshot / META_FILE).read_text(encoding="utf-8")) if snapshot else {}
    except (OSError, ValueError):
        return {}


def _written_s(snapshot: Path) -> float:
    """When a snapshot was written (its _speechqa.json, the last file a commit writes)."""
    try:
        return (snapshot / META_FILE).stat().st_mtime
    except OSError:
        return snapshot.stat().st_mtime if snapshot.exists() else 0.0


def _utc_today() -> date:
    return datetime.now(timezone.utc).date()


def _day_name(day: date | str) -> str:
    """The folder name of a day: a date, or a folder name under either key."""
    iso = day.isoformat() if isinstance(day, date) else day.rpartition("=")[2]
    return f"{DAY_KEY}={iso}"


def _day_folders(table_dir: Path) -> dict[str, list[Path]]:
    """A table's day folders by the name they are written under now (`day=YYYY-MM-DD`),
    those of a warehouse written before (`call_date=`) included."""
    out: dict[str, list[Path]] = {}
    for key in (DAY_KEY, *LEGACY_DAY_KEYS):
        for path in sorted(table_dir.glob(f"{key}=*")):
            out.setdefault(_day_name(path.name), []).append(path)
    return out


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet")) if folder.exists() else []


def _read_files(files: list[Path], *, table: str, columns: list[str] | None = None) -> pa.Table:
    parts = []
    for path in files:
        names = None if columns is None else set(pq.read_schema(path).names)   # once per file, not per column
        wanted = None if columns is None else [c for c in columns if c in names]
        parts.append(pq.read_table(path, columns=wanted, partitioning=None))   # only the columns asked for are read
    if not parts:
        schema = table_schema(table)
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
        return schema.empty_table()
    return _concat(parts, table)


def _concat(parts: list[pa.Table], table: str) -> pa.Table:
    parts = [p.replace_schema_metadata(None) for p in parts]
    if not parts:
        return table_schema(table).empty_table()
    return pa.concat_tables(parts, promote_options="default")


def _split_by_day(rows: pa.Table) -> dict[str, pa.Table]:
    days = rows.column("call_date").to_pylist()
    out = {}
    for day in sorted(set(days)):
        mask = pa.array([d == day for d in days])
        out[_day_name(day)] = rows.filter(mask)
    return out


def _without(rows: pa.Table, call_ids: set[str]) -> pa.Table:
    if not call_ids:
        return rows
    return rows.filter(pa.array([c not in call_ids for c in rows.column("call_id").to_pylist()]))


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of `source` under `target` (a copy where links are not possible)."""
    for path in source.rglob("*"):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copy2(path, dest)
                _fsync(dest)


def _fsync_folders(folder: Path) -> None:
    """Make the snapshot's folder entries durable. Files are synced where they are written;
    hard-linked ones were durable already, so a commit costs no I/O for the days it keeps."""
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        _fsync(path)
    _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_link(link: Path, target: Path) -> None:
    """Point `link` at `target` in one step: a new link under a temporary name, renamed over it."""
    tmp = link.with_name(f"{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync(link.parent)
