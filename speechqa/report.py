"""What `speechqa score` shows: a JSON object, or a scorecard a QA lead can read."""

from __future__ import annotations

import math

from speechqa.call import CallResult
from speechqa.judge import Verdict
from speechqa.names import PARTIES
from speechqa.quality import Quality
from speechqa.sentiment import utterance_scores

SYMBOL = {"pass": "PASS", "fail": "FAIL", "abstain": "----"}
OPERATOR = {"min": ">=", "max": "<=", "abs_max": "|x| <=", "ratio_max": "x or 1/x <="}


def to_json(result: CallResult) -> dict:
    m, derived = result.measurement, result.assessment.derived
    return {
        "call_id": result.call_id,
        "path": result.path,
        "duration_s": _round(m.duration_s),
        "sample_rate_hz": result.sample_rate_hz,
        "channels": result.channels,
        "source_format": result.source_format,
        "mono": m.mono,
        "diarized": m.diarized,
        "roles": {
            "agent": m.roles.agent_channel,
            "caller": m.roles.caller_channel,
            "method": m.roles.method,
            "evidence": m.roles.evidence,
        },
        "quality": {k: _round(v) for k, v in m.quality.as_dict().items()},
        "metrics": {k: _round(v) for k, v in derived.metrics.items()},
        "criteria": [_verdict_json(v) for v in result.verdicts],
        "score": {
            "total": _round(result.score.total),
            "not_scored": result.score.not_scored,
            "decided_weight": _round(result.score.decided_weight),
            "abstained_weight": _round(result.score.abstained_weight),
            "abstentions": [
                {"reason": a.reason, "criteria": list(a.criteria), "weight": _round(a.weight)}
                for a in result.score.abstentions
            ],
            "fatal_failures": list(result.score.fatal_failures),
        },
        "language": m.language,
        "language_method": m.language_method,
        "utterances": [
            {"party": u.party, "start_s": _round(u.start_s), "end_s": _round(u.end_s), "text": u.text,
             "sentiment": _round(score)}
            for u, score in zip(m.utterances, utterance_scores(m.utterances, language=m.language))
        ],
        "turns": [
            {"party": t.party, "start_s": _round(t.start_s), "end_s": _round(t.end_s)} for t in m.turns
        ],
        "turn_pairs": [
            {
                "caller_start_s": _round(p.caller_start_s),
                "caller_end_s": _round(p.caller_end_s),
                "agent_start_s": _round(p.agent_start_s),
                "agent_end_s": _round(p.agent_end_s),
                "level_diff_db": _round(p.level_diff_db),
            }
            for p in m.level_pairs
        ],
        "measure_hash": result.measure_hash,
        "score_hash": result.score_hash,
        "speechqa_version": result.speechqa_version,
    }


def scorecard(result: CallResult) -> str:
    m, derived, score = result.measurement, result.assessment.derived, result.score
    total = "n/a" if score.total is None else f"{score.total:.0f} / 100"
    lines = [
        f"speechqa scorecard  {result.path}",
        f"  call {result.call_id}  {m.duration_s:.1f} s  {result.channels} ch  "
        f"{result.sample_rate_hz} Hz  {result.source_format}",
        f"  agent: {_agent_line(m)}",
        f"  quality: {_quality_line(m.quality)}",
        "",
        f"  SCORE {total}   decided weight {score.decided_weight:.0%} (abstained {score.abstained_weight:.0%})",
    ]
    if score.fatal_failures:
        lines.append(f"  fatal: {', '.join(score.fatal_failures)}")
    if score.not_scored:
        lines.append(f"  not scored: {score.not_scored}")
    if score.total is None and score.abstentions:
        lines.append("  why criteria abstained:")
        lines += [f"    {a.weight:>4.0%}  {a.reason}  ({_ids(a.criteria)})" for a in score.abstentions]
    lines += ["", f"  {'':4}  {'criterion':<28} {'value':>9}  {'threshold':<12} evidence / note"]
    for v in result.verdicts:
        lines.append(f"  {SYMBOL[v.verdict]}  {(v.label or v.id)[:28]:<28} {_fmt(v.value):>9}  "
                     f"{OPERATOR[v.direction] + ' ' + _fmt(v.threshold):<12} {_verdict_note(v)}")
    lines += ["", "  metrics"]
    shown = [(k, val) for k, val in derived.metrics.items() if val is not None]
    for i in range(0, len(shown), 2):
        pair = shown[i:i + 2]
        lines.append("  " + "".join(f"  {k:<26} {_fmt(val):>9}" for k, val in pair))
    hidden = [k for k, val in derived.metrics.items() if val is None]
    if hidden:
        reasons = sorted({derived.unmeasured.get(k, "not measured") for k in hidden})
        lines.append(f"  not measured ({len(hidden)}): {'; '.join(reasons)}")
    if m.utterances:
        lines += ["", f"  transcript ({m.language}, {m.language_method})"] + _transcript_lines(result)
    return "\n".join(lines)


def _transcript_lines(result: CallResult) -> list[str]:
    """Each utterance with its party, and a mark where a failed criterion points at it."""
    lines = []
    for u, marks in zip(result.measurement.utterances, failed_marks(result)):
        flag = f"   <- {', '.join(marks)}" if marks else ""
        lines.append(f"  {_clock(u.start_s):>7}  {u.party:<6} {u.text}{flag}")
    return lines


def failed_marks(result: CallResult) -> list[list[str]]:
    """For each utterance, the ids of the failed criteria whose evidence falls on it (a
    criterion about one party marks only that party's utterances)."""
    flagged: list[tuple[float, float, str | None, str]] = []   # start, end, party it is about, id
    for v in result.verdicts:
        if v.verdict == "fail":
            party = criterion_party(v)
            flagged += [(start, end, party, v.id) for start, end in v.evidence]
    return [sorted({i for s, e, party, i in flagged if s < u.end_s and e > u.start_s and party in (None, u.party)})
            for u in result.measurement.utterances]


def criterion_party(v: Verdict) -> str | None:
    """The party a criterion is about (its metric's prefix), None for the whole call."""
    return next((p for p in PARTIES if v.metric.startswith(p + "_")), None)


def _ids(ids: tuple[str, ...], most: int = 5) -> str:
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _verdict_json(v: Verdict) -> dict:
    return {
        "id": v.id,
        "label": v.label,
        "metric": v.metric,
        "value": _round(v.value),
        "threshold": v.threshold,
        "direction": v.direction,
        "verdict": v.verdict,
        "weight": v.weight,
        "fatal": v.fatal,
        "support": _round(v.support),
        "evidence": [{"start_s": s, "end_s": e} for s, e in v.evidence],
        "note": v.note,
    }


def _verdict_note(v: Verdict) -> str:
    if v.verdict == "abstain":
        return v.note
    times = ", ".join(f"{_clock(s)}-{_clock(e)}" for s, e in v.evidence[:3])
    return f"at {times}" if times else ""


def _agent_line(m) -> str:
    if m.diarized:
        return (f"one of two voices in one channel (diarized, confidence {m.quality.diarization_confidence:.2f}: "
                f"overlap not measured; {m.roles.evidence})")
    where = m.roles.agent_channel + " channel" if m.roles.agent_channel else "n/a"
    return f"{where} ({m.roles.method}: {m.roles.evidence})"


def _quality_line(quality: Quality) -> str:
    flags = [name for name in ("narrowband", "clipping", "dual_mono", "crosstalk", "truncated") if getattr(quality, name)]
    snr = quality.snr_db
    snr_text = "SNR n/a" if snr is None else f"SNR {snr:.0f} dB"
    return ", ".join(flags + [snr_text]) if flags else f"no flags, {snr_text}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.1f}"


def _round(value, digits: int = 4):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value
