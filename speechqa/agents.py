"""Per-agent baselines kept true in the warehouse: what a batch commit adds to its changes.

A call's baseline is a function of its agent's earlier calls in the warehouse, ordered by call
time (speechqa.baseline.call_order). A commit that adds, replaces or removes calls of an agent
recomputes the baselines of that agent's calls from the earliest call it changes onwards, over
the stored and the new calls together. So the warehouse after any sequence of commits (a run
interrupted and resumed, calls committed in any order) holds the baselines one commit of the
same calls would give; in the nightly case, where the new calls are the agent's latest, only
they are computed. A call whose baseline is computed is judged again where a criterion compares
against it (`baseline = "agent"`): from its measured rows, as `speechqa rescore` judges it
(speechqa.rescore), so the two agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from speechqa.baseline import History, baseline_metrics, baseline_rows, call_order, no_agent
from speechqa.call import judged
from speechqa.config import Config, config_for_queue
from speechqa.derive import derive
from speechqa.records import by_call, judged_rows, read_measurement

ORDER_COLUMNS = ["call_id", "call_date", "agent_id", "call_start_utc", "queue"]   # what orders an agent's calls
TABLES = ("turns", "utterances", "words")   # a call's measured rows beside its calls row


def _configurations(config: Config) -> list[Config]:
    """The configuration and each queue override's."""
    return [config] + [config_for_queue(config, o.queue)[0] for o in config.batch.overrides.values()]


def largest_window(config: Config) -> int:
    """The most earlier values any call's baseline looks at: the configuration's window_calls,
    or a queue override's where larger."""
    return max(c.score.baseline.window_calls for c in _configurations(config))


def _baseline_metrics(config: Config) -> list[str]:
    """Every metric a baseline is kept of, under the configuration or any queue override."""
    return sorted({m for c in _configurations(config) for m in baseline_metrics(c.score.baseline)})


def uses_baseline(config: Config) -> bool:
    return any(c.baseline for c in config.score.criteria)


def commit_update(warehouse, pending: Mapping[str, dict[str, list[dict]]], leaving: Mapping[str, date], config: Config,
                  *, run_id: str, now: datetime) -> dict[str, list[dict]]:
    """The rows a batch commit adds for baselines: `pending` are the new calls' records (call id
    -> table -> rows), `leaving` the stored calls they replace. Returns table -> rows: the
    baselines rows of every call whose baseline is computed, and for those judged again their
    calls and criteria rows (these replace a pending call's own)."""
    new = {call_id: records["calls"][0] for call_id, records in pending.items()}
    # Only the metrics kept baselines of, and (below) only the calls of the agents this commit
    # touches become Python rows: the calls table grows every night.
    stored = warehouse.read("calls", columns=ORDER_COLUMNS + _baseline_metrics(config))
    stored = stored.filter(pc.invert(pc.is_in(stored["call_id"], pa.array(list(new), type=pa.string()))))
    replaced = stored.filter(pc.is_in(stored["call_id"], pa.array(list(leaving), type=pa.string())))
    start: dict[str, tuple] = {}   # agent -> the earliest call this commit changes
    for call in [*new.values(), *replaced.select(ORDER_COLUMNS).to_pylist()]:
        if call["agent_id"] is not None:
            start[call["agent_id"]] = min(start.get(call["agent_id"], call_order(call)), call_order(call))
    stored = stored.filter(pc.is_in(stored["agent_id"], pa.array(sorted(start), type=pa.string())))
    calls = [r for r in stored.to_pylist() if r["call_id"] not in leaving]
    calls += [r for r in new.values() if r["agent_id"] is not None]
    history = History(keep=largest_window(config))
    out: dict[str, list[dict]] = defaultdict(list)
    again: list[tuple[dict, dict, Config]] = []   # (call, baselines, its configuration): judged again
    for call in sorted(calls, key=lambda r: (r["agent_id"], call_order(r))):
        agent = call["agent_id"]
        if call_order(call) >= start[agent]:
            call_config, _ = config_for_queue(config, call["queue"])
            baselines = history.baselines(agent, options=call_config.score.baseline)
            out["baselines"] += baseline_rows(call, baselines, score_hash=call_config.score_hash, run_id=run_id)
            if uses_baseline(call_config):
                again.append((call, baselines, call_config))
        history.add(agent, call)
    for call in new.values():
        call_config, _ = config_for_queue(config, call["queue"])
        if call["agent_id"] is None and uses_baseline(call_config):
            again.append((call, no_agent(call_config.score.baseline), call_config))
    # Judged again from its measured rows: a new call's are in `pending`; a stored call's (later
    # than one this commit adds) are read day by day.
    waiting: dict[date, list] = defaultdict(list)
    for call, baselines, call_config in again:
        if call["call_id"] in pending:
            _extend(out, judge_again(pending[call["call_id"]], config=call_config, baselines=baselines, run_id=run_id, now=now))
        else:
            waiting[call["call_date"]].append((call["call_id"], baselines, call_config))
    for day, wanted in sorted(waiting.items()):
        tables = {t: by_call(warehouse.read_day(t, f"day={day.isoformat()}").to_pylist()) for t in ("calls", *TABLES)}
        for call_id, baselines, call_config in wanted:
            records = {t: rows.get(call_id, []) for t, rows in tables.items()}
            _extend(out, judge_again(records, config=call_config, baselines=baselines, run_id=run_id, now=now))
    return dict(out)


def judge_again(records: Mapping[str, list[dict]], *, config: Config, baselines, run_id: str,
                now: datetime) -> dict[str, list[dict]]:
    """A call's calls and criteria rows judged with `baselines`, from its measured rows (table ->
    rows: its calls row and its turns, utterances and words), derived and judged as rescore does."""
    [call] = records["calls"]
    measurement = read_measurement(call, *(records.get(t, []) for t in TABLES))
    assessment = judged(derive(measurement, score=config.score), score=config.score, baselines=baselines)
    return judged_rows(call, assessment, score_hash=config.score_hash, run_id=run_id, now=now)


def _extend(out: dict[str, list[dict]], rows: Mapping[str, list[dict]]) -> None:
    for table, table_rows in rows.items():
        out[table] += table_rows
