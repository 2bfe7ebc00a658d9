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

import numpy as np

from speechqa.batch import new_run_id, run_row, runs_with
from speechqa.config import Config, config_for_queue
from speechqa.measure import TurnStats
from speechqa.metrics import METRIC_NAMES
from speechqa.records import LEVEL_PAIR, SPEECH, TURN, criteria_rows, score_columns, timeline_rows
from speechqa.sources import hash_customer_id
from speechqa.stored import AUDIO_METRIC_NAMES, LevelPair, StoredCall
from speechqa.tables import to_table
from speechqa.timeline import PARTIES
from speechqa.transcript import Utterance, Word
from speechqa.warehouse import Changes, Warehouse, WarehouseLock

TURN_STATS = ("level_dbfs", "f0_median_hz", "articulation_syll_per_s", "words")


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
                          metadata={"score_hash": config.score_hash})
    with WarehouseLock(warehouse.root, run_id=run_id):
        warehouse.clean_unfinished()
        now = datetime.now(timezone.utc)
        out: dict[str, list[dict]] = defaultdict(list)
        totals = {"calls": 0, "changed": 0, "other_measure": 0}
        commits = 0
        days = warehouse.days("calls")
        for n, day in enumerate(days, start=1):
            _rescore_day(warehouse, day, config, out, totals, run_id=run_id, now=now)
            if n == len(days) or sum(len(rows) for rows in out.values()) >= max_pending_rows:
                commits += 1
                status = "complete" if n == len(days) else "running"
                row = run_row(run_id, "rescore", config, started=now, status=status, calls_scored=totals["calls"])
                changes = Changes(rows={t: to_table(t, rows) for t, rows in out.items() if rows},
                                  replace={"runs": runs_with(warehouse, row)})
                warehouse.commit(changes, snapshot_id=f"{run_id}-{commits:04d}")
                out.clear()
    return RescoreResult(run_id, totals["calls"], totals["changed"], totals["other_measure"], time.perf_counter() - start)


def _rescore_day(warehouse: Warehouse, day: str, config: Config, out: dict, totals: dict, *, run_id: str, now) -> None:
    from speechqa.call import rescore_call

    timeline = _by_call(warehouse.read_day("turns", day).to_pylist())
    utterances = _by_call(warehouse.read_day("utterances", day).to_pylist())
    words = _by_call(warehouse.read_day("words", day).to_pylist())
    for call in warehouse.read_day("calls", day).to_pylist():
        call_id = call["call_id"]
        call_config, _ = config_for_queue(config, call.get("queue"))
        stored = stored_call(call, timeline.get(call_id, []), utterances.get(call_id, []), words.get(call_id, []))
        derived, verdicts, score = rescore_call(stored, score=call_config.score)
        key = {"call_id": call_id, "call_date": call["call_date"]}
        new_call = {k: v for k, v in call.items() if not k.startswith("verdict_")}
        new_call.update({name: derived.metrics[name] for name in METRIC_NAMES})
        new_call.update(score_columns(verdicts, score))
        new_call.update(score_hash=call_config.score_hash, scored_utc=now)
        out["calls"].append(new_call)
        out["criteria"] += criteria_rows(key, verdicts, score_hash=call_config.score_hash, run_id=run_id)
        out["turns"] += timeline_rows(
            key, stored, derived.turns, derived.events, _turn_stats(timeline.get(call_id, [])),
            score_hash=call_config.score_hash,
        )
        totals["calls"] += 1
        totals["changed"] += sum(call.get(f"verdict_{v.id}") != v.verdict for v in verdicts)
        totals["other_measure"] += call["measure_hash"] != call_config.measure_hash


def purge_warehouse(warehouse_dir: str | os.PathLike, *, before: date | None = None, customer: str | None = None,
                    config: Config) -> int:
    """Delete every row of the calls before a day and/or of one customer, from every table, in
    one commit. The customer id is hashed first when the batch stores it hashed. Returns how
    many calls went."""
    if before is None and customer is None:
        raise ValueError("purge needs `before` or `customer`")
    options = config.batch.sources
    if customer is not None and options.customer_id == "hash":
        customer = hash_customer_id(customer, salt=options.customer_id_salt)
    run_id = new_run_id()
    warehouse = Warehouse(warehouse_dir, compression=config.batch.compression)
    with WarehouseLock(warehouse.root, run_id=run_id):
        warehouse.clean_unfinished()
        calls = warehouse.read("calls", columns=["call_id", "call_date", "customer_id"]).to_pylist()
        doomed = {
            c["call_id"]: c["call_date"] for c in calls
            if (before is None or c["call_date"] < before) and (customer is None or c["customer_id"] == customer)
        }
        row = run_row(run_id, "purge", config, started=datetime.now(timezone.utc), status="complete",
                      calls_removed=len(doomed))
        warehouse.commit(Changes(delete=doomed, replace={"runs": runs_with(warehouse, row)}), snapshot_id=f"{run_id}-0001")
    return len(doomed)


def stored_call(call: dict, timeline: list[dict], utterances: list[dict], words: list[dict]) -> StoredCall:
    """A call's StoredCall from its warehouse rows (the inverse of speechqa.records)."""
    mono = call["agent_channel"] is None
    parties = ("call",) if mono else PARTIES
    speech = {p: np.array([(r["start_s"], r["end_s"]) for r in timeline if r["kind"] == SPEECH and r["party"] == p],
                          dtype=float).reshape(-1, 2) for p in parties}
    words_of = defaultdict(list)
    for w in sorted(words, key=lambda w: (w["utterance_index"], w["word_index"])):
        words_of[w["utterance_index"]].append(Word(w["text"], w["start_s"], w["end_s"], w["probability"]))
    said = tuple(
        Utterance(u["party"], u["start_s"], u["end_s"], u["text"], u["avg_logprob"], u["language"], tuple(words_of[u["utterance_index"]]))
        for u in sorted(utterances, key=lambda u: u["utterance_index"])
    )
    pairs = tuple(
        LevelPair(r["other_start_s"], r["other_end_s"], r["start_s"], r["end_s"], r["level_diff_db"])
        for r in sorted(timeline, key=lambda r: r["start_s"]) if r["kind"] == LEVEL_PAIR
    )
    names = ("duration_s", "snr_db") if mono else AUDIO_METRIC_NAMES
    return StoredCall(
        audio_metrics={name: call.get(name) for name in names}, speech=speech, mono=mono,
        language=call["language"], utterances=said, level_pairs=pairs,
    )


def _turn_stats(timeline: list[dict]) -> list[TurnStats]:
    return [TurnStats(r["party"], r["start_s"], r["end_s"], *(r[k] for k in TURN_STATS)) for r in timeline if r["kind"] == TURN]


def _by_call(rows: list[dict]) -> dict[str, list[dict]]:
    out = defaultdict(list)
    for row in rows:
        out[row["call_id"]].append(row)
    return out
