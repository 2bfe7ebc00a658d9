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

from speechqa.baseline import History, baseline_rows, call_order, no_agent
from speechqa.call import judged
from speechqa.config import Config, config_for_queue
from speechqa.derive import derive
from speechqa.metrics import METRIC_NAMES
from speechqa.records import assessed_columns, criteria_rows, read_measurement

HISTORY_COLUMNS = ["call_id", "call_date", "agent_id", "call_start_utc", "queue", *METRIC_NAMES]


def largest_window(config: Config) -> int:
    """The most earlier values any call's baseline looks at: the configuration's window_calls,
    or a queue override's where larger."""
    configs = [config] + [config_for_queue(config, o.queue)[0] for o in config.batch.overrides.values()]
    return max(c.score.baseline.window_calls for c in configs)


def uses_baseline(config: Config) -> bool:
    return any(c.baseline for c in config.score.criteria)


def commit_update(warehouse, pending: Mapping[str, dict[str, list[dict]]], leaving: Mapping[str, date], config: Config,
                  *, run_id: str, now: datetime) -> dict[str, list[dict]]:
    """The rows a batch commit adds for baselines: `pending` are the new calls' records (call id
    -> table -> rows), `leaving` the stored calls they replace. Returns table -> rows: the
    baselines rows of every call whose baseline is computed, and for those judged again their
    calls and criteria rows (these replace a pending call's own)."""
    new = {call_id: records["calls"][0] for call_id, records in pending.items()}
    stored = [r for r in warehouse.read("calls", columns=HISTORY_COLUMNS).to_pylist() if r["call_id"] not in new]
    start: dict[str, tuple] = {}   # agent -> the earliest call this commit changes
    for call in [*new.values(), *(r for r in stored if r["call_id"] in leaving)]:
        if call["agent_id"] is not None:
            start[call["agent_id"]] = min(start.get(call["agent_id"], call_order(call)), call_order(call))
    calls = [r for r in stored if r["agent_id"] in start and r["call_id"] not in leaving]
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
    stored_days: dict[date, list] = defaultdict(list)
    for call, baselines, call_config in again:
        if call["call_id"] in pending:
            records = pending[call["call_id"]]
            rows = judge_again(records["calls"][0], records.get("turns", []), records.get("utterances", []),
                               records.get("words", []), config=call_config, baselines=baselines, run_id=run_id, now=now)
            for table, table_rows in rows.items():
                out[table] += table_rows
        else:   # a stored call later than one this commit adds: read its rows, day by day
            stored_days[call["call_date"]].append((call["call_id"], baselines, call_config))
    for day, wanted in sorted(stored_days.items()):
        tables = {t: _by_call(warehouse.read_day(t, f"day={day.isoformat()}").to_pylist())
                  for t in ("calls", "turns", "utterances", "words")}
        for call_id, baselines, call_config in wanted:
            [stored] = tables["calls"][call_id]
            rows = judge_again(stored, tables["turns"].get(call_id, []), tables["utterances"].get(call_id, []),
                               tables["words"].get(call_id, []), config=call_config, baselines=baselines,
                               run_id=run_id, now=now)
            for table, table_rows in rows.items():
                out[table] += table_rows
    return dict(out)


def judge_again(call: dict, timeline: list[dict], utterances: list[dict], words: list[dict], *, config: Config,
                baselines, run_id: str, now: datetime) -> dict[str, list[dict]]:
    """A call's calls and criteria rows judged with `baselines`, from its measured rows (derive
    and judge, as rescore does)."""
    measurement = read_measurement(call, timeline, utterances, words)
    assessment = judged(derive(measurement, score=config.score), score=config.score, baselines=baselines)
    key = {"call_id": call["call_id"], "call_date": call["call_date"]}
    new_call = {k: v for k, v in call.items() if not k.startswith("verdict_")}
    new_call.update(assessed_columns(assessment), score_hash=config.score_hash, scored_utc=now)
    return {"calls": [new_call],
            "criteria": criteria_rows(key, assessment.verdicts, score_hash=config.score_hash, run_id=run_id)}


def _by_call(rows: list[dict]) -> dict[str, list[dict]]:
    out = defaultdict(list)
    for row in rows:
        out[row["call_id"]].append(row)
    return out
