"""Criteria: a measured value against a threshold gives pass, fail or abstain, with evidence.

Scoring reads only metrics and event times, never audio, so it can be re-run on stored results.
"""

from __future__ import annotations

from dataclasses import dataclass

DIRECTIONS = {
    "min": "value >= threshold passes",
    "max": "value <= threshold passes",
    "abs_max": "|value| <= threshold passes",
    "ratio_max": "max(value, 1/value) <= threshold passes (a ratio near 1)",
}


@dataclass(frozen=True)
class Criterion:
    id: str
    metric: str
    direction: str
    threshold: float
    weight: float = 1.0
    min_support: float = 0.0   # in the unit of the metric's support (see speechqa.metrics)
    fatal: bool = False        # failing it sets the total to 0
    label: str = ""

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"criterion {self.id!r}: direction {self.direction!r} is not one of {sorted(DIRECTIONS)}")
        if not self.weight >= 0:
            raise ValueError(f"criterion {self.id!r}: weight {self.weight!r} must be 0 or more")


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


def evaluate(
    criteria: tuple[Criterion, ...],
    metrics: dict,
    *,
    supports: dict[str, float | None],
    evidence: dict[str, list[tuple[float, float]]],
    reasons: dict[str, str],
    notes: dict[str, str] | None = None,
) -> list[Verdict]:
    """One verdict per criterion. `supports` maps a metric to its support value, `reasons` a
    metric to why it is unmeasured, `evidence` a metric to the moments behind it, `notes` a
    metric to what decided it (the words said)."""
    notes = notes or {}
    verdicts = []
    for c in criteria:
        if c.metric not in metrics:
            raise KeyError(f"criterion {c.id!r} names metric {c.metric!r}, which speechqa does not measure")
        value = metrics[c.metric]
        support = supports.get(c.metric)
        if value is None:
            verdict, note = "abstain", reasons.get(c.metric, "not measured")
        elif support is not None and support < c.min_support:
            verdict, note = "abstain", f"too little support: {support:g} < {c.min_support:g}"
        else:
            verdict, note = ("pass" if _passes(c, value) else "fail"), notes.get(c.metric, "")
        verdicts.append(
            Verdict(
                id=c.id, label=c.label, metric=c.metric, value=value, threshold=c.threshold,
                direction=c.direction, verdict=verdict, weight=c.weight, fatal=c.fatal,
                support=support, evidence=tuple(evidence.get(c.metric, ())), note=note,
            )
        )
    return verdicts


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
