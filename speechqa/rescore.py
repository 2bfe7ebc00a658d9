"""Working on a warehouse without audio: `rescore` (a new [score] over the stored timelines and
words) and `purge` (retention and erasure).

Both take the warehouse's lock and commit like a batch does: all at once, or not at all.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone

from speechqa.agents import largest_window, uses_baseline
from speechqa.baseline import History, baseline_rows, call_order, no_agent
from speechqa.call import judged
from speechqa.config import Config, config_for_queue
from speechqa.derive import derive
from speechqa.records import by_call, derived_rows, judged_rows, kept_measured_rows, read_measurement
from speechqa.runs import new_run_id, run_row, runs_with
from speechqa.errors import SpeechQAError
from speechqa.sources import customer_id_policy, hash_customer_id
from speechqa.tables import to_table
from speechqa.warehouse import Changes, Warehouse, WarehouseLock


@dataclass(frozen=True)
class RescoreResult:
    run_id: str
    calls: int
    changed_verdicts: int
    other_measure: int     # calls measured with another [measure] configuration than the given one
    seconds: float


def rescore_warehouse(warehouse_dir: str | os.PathLike, *, config: Config, max_pending_rows: int = 2_000_000) -> RescoreResult:
    """Recompute every stored call's [score]-dependent metrics, criteria and total under
    `config` (its queue overrides applied per call) from the stored rows: no audio, no
    transcription. Day by day, so memory stays bounded; the days are committed together, or in
    commits of about `max_pending_rows` rows for a large warehouse (each call whole in each)."""
    start = time.perf_counter()
    run_id = new_run_id()
    warehouse = Warehouse(warehouse_dir, compression=config.batch.compression,
                          metadata={"score_hash": config.score_hash})   # the measured rows keep their own measure_hash
    warehouse.check_existing()
    with WarehouseLock(warehouse.root, run_id=run_id):
        warehouse.clean_unfinished()
        now = datetime.now(timezone.utc)
        out: dict[str, list[dict]] = defaultdict(list)
        totals = {"calls": 0, "changed": 0, "other_measure": 0}
        commits = 0
        days = warehouse.days("calls")   # in order, as the calls' times are: each agent's baselines build up as they go
        history = History(keep=largest_window(config))
        for n, day in enumerate(days, start=1):
            _rescore_day(warehouse, day, config, out, totals, history, run_id=run_id, now=now)
            if n == len(days) or sum(len(rows) for rows in out.values()) >= max_pending_rows:
                commits += 1
                status = "complete" if n == len(days) else "running"
                row = run_row(run_id, "rescore", config, started=now, status=status, calls_scored=totals["calls"])
                changes = Changes(rows={t: to_table(t, rows) for t, rows in out.items() if rows},
                                  replace={"runs": runs_with(warehouse, row)})
                warehouse.commit(changes, snapshot_id=f"{run_id}-{commits:04d}")
                out.clear()
    return RescoreResult(run_id, totals["calls"], totals["changed"], totals["other_measure"], time.perf_counter() - start)


def _rescore_day(warehouse: Warehouse, day: str, config: Config, out: dict, totals: dict, history: History, *,
                 run_id: str, now) -> None:
    """One day's calls, in call order: each is derived, then judged against its agent's baseline
    over the calls before it (`history`, fed as they go), as a batch judges it."""
    timeline = by_call(warehouse.read_day("turns", day).to_pylist())
    utterances = by_call(warehouse.read_day("utterances", day).to_pylist())
    words = by_call(warehouse.read_day("words", day).to_pylist())
    for call in sorted(warehouse.read_day("calls", day).to_pylist(), key=call_order):
        call_id = call["call_id"]
        call_config, _ = config_for_queue(config, call.get("queue"))
        score_hash = call_config.score_hash
        rows = timeline.get(call_id, [])
        measurement = read_measurement(call, rows, utterances.get(call_id, []), words.get(call_id, []))
        derived = derive(measurement, score=call_config.score)
        agent, options = call.get("agent_id"), call_config.score.baseline
        baselines = no_agent(options) if uses_baseline(call_config) else None
        if agent is not None:
            baselines = history.baselines(agent, options=options)
            history.add(agent, derived.metrics)
            out["baselines"] += baseline_rows({**call, **derived.metrics}, baselines, score_hash=score_hash, run_id=run_id)
        assessment = judged(derived, score=call_config.score, baselines=baselines)
        for table, table_rows in judged_rows(call, assessment, score_hash=score_hash, run_id=run_id, now=now).items():
            out[table] += table_rows
        key = {"call_id": call_id, "call_date": call["call_date"]}
        out["turns"] += kept_measured_rows(rows, measure_hash=call["measure_hash"])
        out["turns"] += derived_rows(key, assessment.derived, score_hash=score_hash)
        totals["calls"] += 1
        totals["changed"] += sum(call.get(f"verdict_{v.id}") != v.verdict for v in assessment.verdicts)
        totals["other_measure"] += call["measure_hash"] != call_config.measure_hash


def purge_warehouse(warehouse_dir: str | os.PathLike, *, before: date | None = None, customer: str | None = None,
                    config: Config) -> int:
    """Delete every row of the calls before a day and of one customer (given both, the calls
    matching both), from every table, in one commit that also removes the older snapshots (an
    erasure leaves no copy for readers). The customer id is hashed first when the batch stores it
    hashed; a configuration whose customer id mode or salt is not the batch's is refused
    (bad_config), since it could match nothing. Returns how many calls went."""
    if before is None and customer is None:
        raise ValueError("purge needs `before` or `customer`")
    options = config.batch.sources
    run_id = new_run_id()
    warehouse = Warehouse(warehouse_dir, compression=config.batch.compression)
    warehouse.check_existing()
    if customer is not None:
        _check_customer_policy(warehouse, options)
        if options.customer_id == "hash":
            customer = hash_customer_id(customer, salt=options.customer_id_salt)
    with WarehouseLock(warehouse.root, run_id=run_id):
        warehouse.clean_unfinished()
        calls = warehouse.read("calls", columns=["call_id", "call_date", "customer_id"]).to_pylist()
        doomed = {
            c["call_id"]: c["call_date"] for c in calls
            if (before is None or c["call_date"] < before) and (customer is None or c["customer_id"] == customer)
        }
        row = run_row(run_id, "purge", config, started=datetime.now(timezone.utc), status="complete",
                      calls_removed=len(doomed))
        warehouse.commit(Changes(delete=doomed, replace={"runs": runs_with(warehouse, row)}), snapshot_id=f"{run_id}-0001",
                         erase=True)
    return len(doomed)


def _check_customer_policy(warehouse: Warehouse, options) -> None:
    """Refuse a purge by customer whose ids would not match the stored ones: another customer_id
    mode, or another salt, than the batch that wrote the warehouse recorded (warehouses written
    before speechqa recorded it are not checked)."""
    stored = warehouse.snapshot_metadata()
    if "customer_id" not in stored:
        return
    mine = customer_id_policy(options)
    if stored["customer_id"] != mine["customer_id"]:
        raise SpeechQAError(
            f"{warehouse.root}: the batch stores customer ids as customer_id = \"{stored['customer_id']}\", this "
            f"configuration says \"{mine['customer_id']}\"; run purge with --config of the batch's configuration",
            error_type="bad_config")
    if stored["customer_id"] == "drop":
        raise SpeechQAError(
            f"{warehouse.root}: the batch stores no customer ids (customer_id = \"drop\"), so no call can be found "
            "by customer; purge by --before, or find the calls by another column", error_type="bad_config")
    if stored.get("customer_id_check") != mine.get("customer_id_check"):
        raise SpeechQAError(
            f"{warehouse.root}: this configuration's customer_id_salt is not the one the batch hashed the ids "
            "with, so the id would match nothing; run purge with --config of the batch's configuration",
            error_type="bad_config")

