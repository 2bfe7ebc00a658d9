"""Judge: a call's derived metrics against the criteria give pass, fail or abstain, with evidence.

Reads only metrics, their support and the moments behind them, never audio, so it runs on stored
results as well. The criteria themselves (speechqa.options.Criterion) are checked when the
configuration loads: a criterion naming a metric speechqa does not measure never gets here.
"""

from __future__ import annotations

from dataclasses import dataclass

from speechqa.metrics import BY_NAME
from speechqa.options import Criterion


@dataclass(frozen=True)
class Verdict:
    id: str
    label: str
    metric: str
    value: float | None
    threshold: float
    direction: str
    verdict: str                # "pass", "fail" or "abstain"
    weight: float
    fatal: bool
    support: float | None
    evidence: tuple[tuple[float, float], ...]   # (start_s, end_s) moments that decided it
    note: str


@dataclass(frozen=True)
class Score:
    total: float | None         # 0..100 over the criteria that did not abstain; None if all abstained
    abstained_weight: float     # share of the total weight that abstained, 0..1
    fatal_failures: tuple[str, ...]


def judge(derived, criteria: tuple[Criterion, ...]) -> tuple[Verdict, ...]:
    """One verdict per criterion from a call's derived figures (a speechqa.derive.Derived:
    metrics, unmeasured, evidence, notes)."""
    metrics = derived.metrics
    verdicts = []
    for c in criteria:
        value = metrics[c.metric]
        spec = BY_NAME[c.metric]
        support = metrics[spec.support] if spec.support else None
        if value is None:
            verdict, note = "abstain", derived.unmeasured.get(c.metric, "not measured")
        elif support is not None and support < c.min_support:
            verdict, note = "abstain", f"too little support: {support:g} < {c.min_support:g}"
        else:
            verdict, note = ("pass" if _passes(c, value) else "fail"), derived.notes.get(c.metric, "")
        verdicts.append(
            Verdict(
                id=c.id, label=c.label, metric=c.metric, value=value, threshold=c.threshold,
                direction=c.direction, verdict=verdict, weight=c.weight, fatal=c.fatal,
                support=support, evidence=tuple(derived.evidence.get(c.metric, ())), note=note,
            )
        )
    return tuple(verdicts)


def total_score(verdicts: list[Verdict]) -> Score:
    """Weighted pass share over criteria that did not abstain, 0..100; a fatal fail makes it 0."""
    weight_all = sum(v.weight for v in verdicts)
    decided = [v for v in verdicts if v.verdict != "abstain"]
    weight_decided = sum(v.weight for v in decided)
    fatal = tuple(v.id for v in decided if v.fatal and v.verdict == "fail")
    if weight_decided > 0:
        total = 100.0 * sum(v.weight for v in decided if v.verdict == "pass") / weight_decided
    else:
        total = None
    if fatal:
        total = 0.0
    abstained = (weight_all - weight_decided) / weight_all if weight_all > 0 else 0.0
    return Score(total=total, abstained_weight=abstained, fatal_failures=fatal)


def _passes(c: Criterion, value: float) -> bool:
    if c.direction == "min":
        return value >= c.threshold
    if c.direction == "max":
        return value <= c.threshold
    if c.direction == "ratio_max":
        return value > 0 and max(value, 1 / value) <= c.threshold
    return abs(value) <= c.threshold
