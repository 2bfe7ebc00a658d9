"""Judge: a call's derived metrics against the criteria give pass, fail or abstain, with evidence.

Reads only metrics, their support and the moments behind them, never audio, so it runs on stored
results as well. The criteria themselves (speechqa.options.Criterion) are checked when the
configuration loads: a criterion naming a metric speechqa does not measure never gets here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Sequence

from speechqa.baseline import Baseline, robust_z
from speechqa.metrics import BY_NAME, WORD_METRIC_NAMES
from speechqa.options import Criterion, QualityGate

NOT_SCORED = "too little could be measured"
_SUPPORT = "too little support: "   # the start of judge's note for a criterion under its min_support
NO_BASELINES = ("no agent baseline given: `speechqa batch` computes it when it commits a call to the warehouse, "
                "and `speechqa rescore`; a call scored alone has none")


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
    baseline: str | None = None   # "agent": value is the metric's robust z-score against the agent's baseline


@dataclass(frozen=True)
class Abstention:
    """One reason criteria abstained, the criteria it silenced and their share of the weight."""

    reason: str
    criteria: tuple[str, ...]
    weight: float               # share of the total weight, 0..1


@dataclass(frozen=True)
class Score:
    total: float | None         # 0..100 over the decided criteria; None when not scored (see not_scored)
    abstained_weight: float     # share of the total weight that abstained, 0..1
    fatal_failures: tuple[str, ...]
    decided_weight: float       # share of the total weight that passed or failed, 0..1
    not_scored: str | None      # why total is None; None when there is a total
    abstentions: tuple[Abstention, ...]   # why criteria abstained, most weight first


def judge(derived, criteria: tuple[Criterion, ...], *, quality: QualityGate = QualityGate(),
          baselines: Mapping[str, Baseline] | None = None) -> tuple[Verdict, ...]:
    """One verdict per criterion from a call's derived figures (a speechqa.derive.Derived:
    metrics, unmeasured, evidence, notes). A criterion abstains when its metric is unmeasured,
    when the call's quality figures fall under `quality`, or when its support is too small.
    A criterion with `baseline = "agent"` judges the metric's robust z-score against
    `baselines[metric]` (the agent's own, speechqa.baseline) with its threshold, and abstains
    also where there is none (the baseline's note says why)."""
    metrics = derived.metrics
    verdicts = []
    for c in criteria:
        value = metrics[c.metric]
        spec = BY_NAME[c.metric]
        support = metrics[spec.support] if spec.support else None
        poor = quality.poor(metrics, words=c.metric in WORD_METRIC_NAMES)
        judged, missing = value, None
        if c.baseline:
            judged, missing = _against_baseline(value, c.metric, baselines)
        if value is None:
            verdict, note = "abstain", derived.unmeasured.get(c.metric, "not measured")
        elif poor:
            verdict, note = "abstain", poor
        elif support is not None and support < c.min_support:
            verdict, note = "abstain", f"{_SUPPORT}{support:g} < {c.min_support:g}"
        elif missing:
            verdict, note = "abstain", missing
        else:
            verdict, note = ("pass" if passes(c, judged) else "fail"), derived.notes.get(c.metric, "")
            if c.baseline:
                b = baselines[c.metric]
                note = (f"{c.metric} {value:g} against the agent's median {b.median:g} (robust SD {b.spread:.3g}, "
                        f"{b.calls} earlier calls): z = {judged:+.2f}" + (f"; {note}" if note else ""))
        verdicts.append(
            Verdict(
                id=c.id, label=c.label, metric=c.metric, value=judged, threshold=c.threshold,
                direction=c.direction, verdict=verdict, weight=c.weight, fatal=c.fatal,
                support=support, evidence=tuple(derived.evidence.get(c.metric, ())), note=note,
                baseline=c.baseline,
            )
        )
    return tuple(verdicts)


def _against_baseline(value, metric: str, baselines: Mapping[str, Baseline] | None) -> tuple[float | None, str | None]:
    """The value's z-score against the agent's baseline, or None and why there is none."""
    if baselines is None:
        return None, NO_BASELINES
    b = baselines.get(metric)
    if b is None:
        return None, f"no agent baseline of {metric} (is it in [score.baseline] metrics?)"
    z = robust_z(value, b)
    return z, None if z is not None else f"no agent baseline: {b.note}"


def total_score(verdicts: Sequence[Verdict], *, min_decided_weight: float = 0.0) -> Score:
    """Weighted pass share over criteria that did not abstain, 0..100.

    When the decided share of the weight is under `min_decided_weight` ([score]), the total is
    None and `not_scored` says why: a total over a few criteria would read as a call's quality.
    A fatal failure makes the total 0 even then: it is a decided result, and one is enough."""
    weight_all = sum(v.weight for v in verdicts)
    decided = [v for v in verdicts if v.verdict != "abstain"]
    weight_decided = sum(v.weight for v in decided)
    share = weight_decided / weight_all if weight_all > 0 else 0.0
    fatal = tuple(v.id for v in decided if v.fatal and v.verdict == "fail")
    total, not_scored = None, None
    if fatal:
        total = 0.0
    elif weight_decided <= 0:
        not_scored = f"{NOT_SCORED}: no criterion could be decided"
    elif share < min_decided_weight - 1e-9:
        not_scored = (f"{NOT_SCORED}: {share:.0%} of the criteria weight was decided, "
                      f"under [score] min_decided_weight = {min_decided_weight:.0%}")
    else:
        total = 100.0 * sum(v.weight for v in decided if v.verdict == "pass") / weight_decided
    abstained = (weight_all - weight_decided) / weight_all if weight_all > 0 else 0.0
    return Score(total=total, abstained_weight=abstained, fatal_failures=fatal, decided_weight=share,
                 not_scored=not_scored, abstentions=_abstentions(verdicts, weight_all))


def _abstentions(verdicts: Sequence[Verdict], weight_all: float) -> tuple[Abstention, ...]:
    """The abstained criteria grouped by why: the reason a metric is null (mono, no transcript,
    too little speech) as derive gave it, or which support was under min_support."""
    by_reason: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if v.verdict == "abstain":
            support = BY_NAME[v.metric].support
            reason = f"too little support: {support} under min_support" if v.note.startswith(_SUPPORT) else v.note
            by_reason.setdefault(reason, []).append(v)
    found = [
        Abstention(reason, tuple(v.id for v in group), sum(v.weight for v in group) / weight_all if weight_all > 0 else 0.0)
        for reason, group in by_reason.items()
    ]
    return tuple(sorted(found, key=lambda a: -a.weight))


def passes(c: Criterion, value: float) -> bool:
    """Whether value passes c (a Criterion, or a Verdict: both carry direction and threshold)."""
    if c.direction == "min":
        return value >= c.threshold
    if c.direction == "max":
        return value <= c.threshold
    if c.direction == "ratio_max":
        return value > 0 and max(value, 1 / value) <= c.threshold
    return abs(value) <= c.threshold
