"""Each agent's own baseline: a metric's median over the agent's earlier calls, and how far a
call lies from it in robust standard deviations (a z-score).

Pure: calls' metric values in, in call order, baselines out. Which calls come earlier, and where
the values come from, is the warehouse's business (speechqa.agents); judge receives the
baselines as data (speechqa.judge).

Definitions (README, "Per-agent baselines"): a call's baseline of a metric rests on the agent's
last `window_calls` earlier calls that measured it (a call measuring it as null is passed over,
not counted); with fewer than `min_calls` of them there is none. Its centre is their median; its
spread 1.4826 x their median absolute deviation (MAD), which estimates the standard deviation of
normally distributed values and ignores a few wild calls. Where more than half the values equal
the median (counts such as interruptions, mostly 0), the MAD is 0: the spread is then
1.2533 x their mean absolute deviation from the median (the same estimate for normal data); where
that is 0 too, every value is the same and there is no spread (no z).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from speechqa.metrics import METRIC_NAMES
from speechqa.options import BaselineOptions

MAD_TO_SD = 1.4826       # 1 / the normal distribution's 75th percentile: MAD -> SD
MEAN_AD_TO_SD = 1.2533   # sqrt(pi / 2): mean absolute deviation -> SD


@dataclass(frozen=True)
class Baseline:
    """One metric's baseline for one call: None where there is none, and `note` says why."""

    median: float | None
    spread: float | None     # robust SD: 1.4826 x MAD (or 1.2533 x mean absolute deviation when the MAD is 0)
    calls: int               # the earlier calls it rests on
    note: str = ""


NO_AGENT = Baseline(None, None, 0, "the call has no agent_id, so no baseline of its own agent")


def baseline_of(earlier: Iterable[float], *, min_calls: int) -> Baseline:
    """The baseline over `earlier`, the values it rests on (already the last window_calls)."""
    values = np.asarray(list(earlier), dtype=float)
    n = len(values)
    if n < min_calls:
        return Baseline(None, None, n, f"{n} earlier calls of the agent measured it, under [score.baseline] min_calls = {min_calls}")
    median = float(np.median(values))
    deviations = np.abs(values - median)
    spread = MAD_TO_SD * float(np.median(deviations))
    if spread == 0.0:
        spread = MEAN_AD_TO_SD * float(np.mean(deviations))
    if spread == 0.0:
        return Baseline(median, None, n, f"the agent's last {n} values are all {median:g}: no spread to measure a z-score by")
    return Baseline(median, spread, n)


def robust_z(value: float | None, baseline: Baseline) -> float | None:
    """How many robust SDs `value` lies above (+) or below (-) the baseline; None without one."""
    if value is None or baseline.median is None or not baseline.spread:
        return None
    return (float(value) - baseline.median) / baseline.spread


def call_order(call: Mapping) -> tuple:
    """The order of an agent's calls: by start time, and by call id between calls that start at
    the same moment, so every run orders them alike."""
    return (call["call_start_utc"], call["call_id"])


def baseline_metrics(options: BaselineOptions) -> tuple[str, ...]:
    return options.metrics or METRIC_NAMES


def no_agent(options: BaselineOptions) -> dict[str, Baseline]:
    """The baselines of a call without an agent_id: none, each saying why."""
    return {metric: NO_AGENT for metric in baseline_metrics(options)}


class History:
    """Each agent's earlier values of each metric, fed in call order (speechqa.baseline.call_order):
    `baselines` for the next call of an agent, then `add` that call. Keeps the last `keep` values
    of each agent and metric (the largest window_calls in use), so memory stays bounded however
    many calls pass through."""

    def __init__(self, *, keep: int):
        self._values: dict[tuple[str, str], deque] = defaultdict(lambda: deque(maxlen=keep))

    def baselines(self, agent_id: str, *, options: BaselineOptions) -> dict[str, Baseline]:
        out = {}
        for metric in baseline_metrics(options):
            earlier = list(self._values.get((agent_id, metric), ()))[-options.window_calls:]
            out[metric] = baseline_of(earlier, min_calls=options.min_calls)
        return out

    def add(self, agent_id: str, metrics: Mapping[str, float | int | None]) -> None:
        for metric in METRIC_NAMES:
            value = metrics.get(metric)
            if value is not None and value == value:   # NaN never reaches the warehouse, but is no value either
                self._values[(agent_id, metric)].append(float(value))


def baseline_rows(call: Mapping, baselines: Mapping[str, Baseline], *, score_hash: str, run_id: str) -> list[dict]:
    """The baselines table's rows of one call (a calls row, with its metrics): one per metric."""
    rows = []
    for metric, b in baselines.items():
        value = call.get(metric)
        z = robust_z(value, b)
        note = b.note or ("" if value is not None else "the call did not measure it")
        rows.append({
            "call_id": call["call_id"], "call_date": call["call_date"], "agent_id": call["agent_id"],
            "call_start_utc": call["call_start_utc"], "metric": metric,
            "value": None if value is None else float(value),
            "baseline_median": b.median, "baseline_spread": b.spread, "baseline_calls": b.calls, "z": z,
            "note": note or None, "score_hash": score_hash, "run_id": run_id,
        })
    return rows
