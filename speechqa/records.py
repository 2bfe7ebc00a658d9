"""A scored call as warehouse rows, and back: the rows `rescore` reads become a StoredCall.

Column names and types are in speechqa.tables; this module only fills them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np

from speechqa import __version__
from speechqa.metrics import METRIC_NAMES
from speechqa.tables import KNOWN_METADATA, QUALITY_FIELDS

SPEECH = "speech"
TURN = "turn"
LEVEL_PAIR = "level_pair"
EVENT_KINDS = ("silence", "overtalk", "interruption", "backchannel", "pause")


def call_records(result, *, source, override: str | None, run_id: str, model_id: str) -> dict[str, list[dict]]:
    """Every table's rows for one scored call (a speechqa.call.CallResult from `source`)."""
    m = result.measurement
    key = {"call_id": result.call_id, "call_date": source.call_date}
    now = datetime.now(timezone.utc)
    call = {
        **key,
        "source_path": source.shown_relpath,
        "source_caller_path": source.shown_relpaths[1] if source.two_legs else None,
        "source_size_bytes": source.size_bytes,
        "source_mtime_ns": source.mtime_ns,
        "source_format": result.source_format,
        "sample_rate_hz": result.sample_rate_hz,
        "channels": result.channels,
        "call_start_utc": source.call_start_utc,
        "call_time_source": source.call_time_source,
        **{name: source.metadata.get(name) for name in KNOWN_METADATA},
        **{meta_column(k): v for k, v in source.metadata.items() if k not in KNOWN_METADATA},
        "config_override": override,
        "agent_channel": m.roles.agent,
        "roles_method": m.roles.method,
        "roles_evidence": m.roles.evidence,
        "language": m.language,
        "language_method": m.language_method,
        **{name: _plain(m.quality.get(name.removeprefix("quality_"))) for name, _ in QUALITY_FIELDS},
        **{name: m.metrics[name] for name in METRIC_NAMES},
        **score_columns(result.verdicts, result.score),
        "measure_hash": result.measure_hash,
        "score_hash": result.score_hash,
        "model_id": model_id,
        "speechqa_version": __version__,
        "run_id": run_id,
        "processed_utc": now,
        "scored_utc": now,
    }
    return {
        "calls": [call],
        "criteria": criteria_rows(key, result.verdicts, score_hash=result.score_hash, run_id=run_id),
        "turns": timeline_rows(key, m.stored, m.turns, m.events, m.turn_stats, score_hash=result.score_hash),
        "utterances": [
            {**key, "utterance_index": i, "party": u.party, "start_s": u.start_s, "end_s": u.end_s,
             "text": u.text, "avg_logprob": u.avg_logprob, "language": u.language}
            for i, u in enumerate(m.stored.utterances)
        ],
        "words": [
            {**key, "utterance_index": i, "word_index": j, "party": u.party, "start_s": w.start_s,
             "end_s": w.end_s, "text": w.text, "probability": w.probability}
            for i, u in enumerate(m.stored.utterances)
            for j, w in enumerate(u.words)
        ],
    }


def meta_column(key: str) -> str:
    """A filename or sidecar field's column: `meta_` and the key in lower case, letters, digits
    and underscores only ("Branch Office" -> meta_branch_office)."""
    return "meta_" + (re.sub(r"\W+", "_", key.strip().lower()).strip("_") or "field")


def score_columns(verdicts, score) -> dict:
    """The calls table's judgement: one verdict column per criterion, the total, the fatal fails."""
    return {
        **{f"verdict_{v.id}": v.verdict for v in verdicts},
        "score_total": score.total,
        "score_abstained_weight": score.abstained_weight,
        "score_fatal_failures": ",".join(score.fatal_failures),
    }


def criteria_rows(key: dict, verdicts, *, score_hash: str, run_id: str) -> list[dict]:
    rows = []
    for v in verdicts:
        first = v.evidence[0] if v.evidence else (None, None)
        rows.append({
            **key, "criterion_id": v.id, "label": v.label, "metric": v.metric,
            "value": None if v.value is None else float(v.value), "threshold": v.threshold,
            "direction": v.direction, "verdict": v.verdict, "weight": v.weight, "fatal": v.fatal,
            "support": None if v.support is None else float(v.support),
            "evidence_start_s": first[0], "evidence_end_s": first[1],
            "evidence": ";".join(f"{a:g}-{b:g}" for a, b in v.evidence),
            "note": v.note, "score_hash": score_hash, "run_id": run_id,
        })
    return rows


def timeline_rows(key: dict, stored, turns, events, turn_stats, *, score_hash: str) -> list[dict]:
    """The speech intervals (what rescore re-reads), the turns with their measured statistics,
    the timing events, and the caller->agent level pairs."""
    rows = []
    for party, intervals in stored.speech.items():
        for start, end in np.asarray(intervals, dtype=float).reshape(-1, 2):
            rows.append(_timeline_row(key, SPEECH, party, start, end, score_hash))
    stats = {(s.party, round(s.start_s, 6), round(s.end_s, 6)): s for s in turn_stats}
    for t in turns:
        row = _timeline_row(key, TURN, t.party, t.start_s, t.end_s, score_hash)
        s = stats.get((t.party, round(t.start_s, 6), round(t.end_s, 6)))
        if s is not None:   # a turn that rescoring moved has no measured statistics
            row.update(level_dbfs=s.level_dbfs, f0_median_hz=s.f0_median_hz,
                       articulation_syll_per_s=s.articulation_syll_per_s, words=s.words)
        rows.append(row)
    for e in events:
        rows.append(_timeline_row(key, e.kind, e.party, e.start_s, e.end_s, score_hash))
    for p in stored.level_pairs:
        row = _timeline_row(key, LEVEL_PAIR, "agent", p.agent_start_s, p.agent_end_s, score_hash)
        row.update(other_start_s=p.caller_start_s, other_end_s=p.caller_end_s, level_diff_db=p.level_diff_db)
        rows.append(row)
    return rows


def _timeline_row(key, kind, party, start, end, score_hash) -> dict:
    return {**key, "kind": kind, "party": party, "start_s": float(start), "end_s": float(end),
            "duration_s": float(end) - float(start), "score_hash": score_hash}


def _plain(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
