"""Run bookkeeping shared by `batch`, `rescore` and `purge`: run ids, the runs table's rows, and
which model a run scored with.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timezone
from pathlib import Path

from speechqa import __version__
from speechqa.config import Config
from speechqa.model_path import find_model
from speechqa.tables import to_table
from speechqa.warehouse import Warehouse


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def model_id(config: Config) -> str:
    """Which recogniser scored the calls: the model folder's name and the sha256 of its weights
    (a hub model name as given)."""
    asr = config.measure.asr
    if not asr.enabled:
        return "none"
    folder = find_model(asr.model)   # as the recogniser finds it, from any working directory
    if folder is None:
        return asr.model
    weights = folder / "model.bin"
    stat = weights.stat()
    return f"{Path(asr.model).name}:{_sha256_prefix(str(weights), stat.st_size, stat.st_mtime_ns)}"


@functools.lru_cache(maxsize=4)
def _sha256_prefix(path: str, size: int, mtime_ns: int) -> str:   # size and time: a changed file is hashed again
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def run_row(run_id: str, command: str, config: Config, *, started: datetime, status: str,
            ended: datetime | None = None, **columns) -> dict:
    """A row of the runs table: what every command records, and its own `columns`."""
    ended = None if status == "running" else ended or datetime.now(timezone.utc)
    return {
        "run_id": run_id, "command": command, "status": status, "started_utc": started, "ended_utc": ended,
        "speechqa_version": __version__, "measure_hash": config.measure_hash, "score_hash": config.score_hash,
        **columns,
    }


def runs_with(warehouse: Warehouse, row: dict):
    """The runs table with `row` added or updated. Call under the lock: any other run still
    marked running was killed."""
    previous = [r for r in warehouse.read("runs").to_pylist() if r["run_id"] != row["run_id"]]
    for r in previous:
        if r["status"] == "running":
            r["status"] = "killed"
    return to_table("runs", previous + [row])
