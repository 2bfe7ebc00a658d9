"""Synthetic warehouses for the night report: a few scored calls' `calls/` rows replicated over
days and agents, with scores and verdicts varied by a seeded generator. Used by
tests/test_night_report.py and benchmarks/bench_report.py (100,000 calls)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

VARIED = {"agent_talk_share": 0.1, "silence_max_s": 3.0, "level_diff_db": 3.0, "rate_ratio": 0.15, "agent_f0_sd_st": 0.6}
QUEUES = ("sales", "support", "vip", None)   # None: a call whose name and sidecar give no queue
OVERRIDDEN = {"vip": "vip"}                  # queue -> the [batch.overrides] entry the batch applied to its calls


def replicate_calls(seed_warehouse: Path, target: Path, *, copies: int, days: int, agents: int,
                    last_day: date, seed: int = 0) -> pa.Table:
    """Commit `copies` calls to a new warehouse at `target` (calls/ only): the seed warehouse's
    calls in turn, each under a new call id, on one of `days` days up to `last_day` and for one
    of `agents` agents and one of QUEUES (its config_override as OVERRIDDEN says), its score and
    decided verdicts redrawn. Returns the rows written."""
    from speechqa.warehouse import Changes, Warehouse

    rng = np.random.default_rng(seed)
    seed_calls = Warehouse(seed_warehouse).read("calls")
    k = np.arange(copies)
    rows = seed_calls.take(pa.array(k % seed_calls.num_rows))
    day_index = rng.integers(0, days, copies)
    agent_index = rng.integers(0, agents, copies)
    skill = rng.uniform(-15, 15, agents)   # each agent's own level, so agents differ
    score = np.clip(70 + skill[agent_index] + rng.normal(0, 12, copies), 0, 100)
    score[rng.random(copies) < 0.05] = np.nan   # some calls not scored
    columns = {
        "call_id": pa.array([f"syn{i:09d}" for i in k], pa.string()),
        "call_date": pa.array([last_day - timedelta(days=int(d)) for d in day_index], pa.date32()),
        "agent_id": pa.array([f"ag{a:03d}" for a in agent_index], pa.string()),
        "source_path": pa.array([f"synthetic/{i:09d}.wav" for i in k], pa.string()),
        "score_total": pa.array(score, pa.float64(), mask=np.isnan(score)),
    }
    for metric, spread in VARIED.items():
        if metric in rows.column_names:
            base = rows[metric].to_numpy(zero_copy_only=False).astype(np.float64)
            varied = np.abs(base + rng.normal(0, spread, copies)) if metric != "level_diff_db" else base + rng.normal(0, spread, copies)
            columns[metric] = pa.array(varied, pa.float64(), mask=np.isnan(base))
    fail_rate = np.clip(0.5 - skill[agent_index] / 40, 0.05, 0.95)
    for name in rows.column_names:
        if name.startswith("verdict_"):
            old = rows[name].to_numpy(zero_copy_only=False)
            decided = (old == "pass") | (old == "fail")
            share = rng.uniform(0.3, 1.0)   # each criterion fails at its own rate
            new = np.where(rng.random(copies) < fail_rate * share, "fail", "pass")
            columns[name] = pa.array(np.where(decided, new, old), pa.string())
    queue = [QUEUES[i] for i in rng.integers(0, len(QUEUES), copies)]   # drawn last: the draws above stay as they were
    columns["queue"] = pa.array(queue, pa.string())
    columns["config_override"] = pa.array([OVERRIDDEN.get(q) for q in queue], pa.string())
    for name, values in columns.items():
        rows = rows.set_column(rows.schema.get_field_index(name), name, values.cast(rows.schema.field(name).type))
    Warehouse(target).commit(Changes(rows={"calls": rows}), snapshot_id="synthetic-0001")
    return rows
