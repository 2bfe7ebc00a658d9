"""A scored call as warehouse rows, and back: the rows `rescore` reads become a Measurement.

Column names and types are in speechqa.tables; this module fills them and reads them back, so
writing and reading a call are defined side by side. Provenance: a row of measured data carries
the measure_hash it was measured under (and the words the model_id), a row that [score] made
carries the score_hash, so a rescore changes the score_hash of derived rows only.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from datetime import datetime, timezone

import numpy as np

from speechqa import __version__
from speechqa.measure import AUDIO_METRIC_NAMES, MONO_AUDIO_METRIC_NAMES, LevelPair, Measurement, TurnStats
from speechqa.metrics import METRIC_NAMES
from speechqa.names import BACKCHANNEL, CALL, DERIVED_KINDS, LEVEL_PAIR, MEASURED_KINDS, PARTIES, SPEECH, TURN
from speechqa.quality import Quality
from speechqa.roles import Roles
from speechqa.tables import KNOWN_METADATA, QUALITY_FIELDS
from speechqa.timeline import Event
from speechqa.transcript import Utterance, Word

TURN_STATS = ("level_dbfs", "f0_median_hz", "articulation_syll_per_s", "words")


def call_records(result, *, source, override: str | None, run_id: str, model_id: str) -> dict[str, list[dict]]:
    """Every table's rows for one scored call (a speechqa.call.CallResult from `source`)."""
    m = result.measurement
    key = {"call_id": result.call_id, "call_date": source.call_date}
    now = datetime.now(timezone.utc)
    quality = m.quality.as_dict()
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
        "agent_channel": m.roles.agent_channel,
        "mono": m.mono,
        "diarized": m.diarized,
        "roles_method": m.roles.method,
        "roles_evidence": m.roles.evidence,
        "language": m.language,
        "language_method": m.language_method,
        **{name: _plain(quality[name.removeprefix("quality_")]) for name, _ in QUALITY_FIELDS},
        **assessed_columns(result.assessment),
        "measure_hash": result.measure_hash,
        "score_hash": result.score_hash,
        "model_id": model_id,
        "speechqa_version": __version__,
        "run_id": run_id,
        "processed_utc": now,
        "scored_utc": now,
    }
    measured = {"measure_hash": result.measure_hash}
    return {
        "calls": [call],
        "criteria": criteria_rows(key, result.verdicts, score_hash=result.score_hash, run_id=run_id),
        "turns": measured_rows(key, m, measure_hash=result.measure_hash)
        + derived_rows(key, result.assessment.derived, score_hash=result.score_hash),
        "utterances": [
            {**key, "utterance_index": i, "party": u.party, "start_s": u.start_s, "end_s": u.end_s,
             "text": u.text, "avg_logprob": u.avg_logprob, "language": u.language, **measured, "model_id": model_id}
            for i, u in enumerate(m.utterances)
        ],
        "words": [
            {**key, "utterance_index": i, "word_index": j, "party": u.party, "start_s": w.start_s,
             "end_s": w.end_s, "text": w.text, "probability": w.probability, "f0_peak_hz": w.f0_peak_hz,
             "level_dbfs": w.level_dbfs, **measured, "model_id": model_id}
            for i, u in enumerate(m.utterances)
            for j, w in enumerate(u.words)
        ],
    }


def meta_column(key: str) -> str:
    """A filename or sidecar field's column: `meta_` and the key in lower case, letters, digits
    and underscores only ("Branch Office" -> meta_branch_office)."""
    return "meta_" + (re.sub(r"\W+", "_", key.strip().lower()).strip("_") or "field")


def assessed_columns(assessment) -> dict:
    """The calls table's columns that [score] decides: every metric, one verdict column per
    criterion, the total (null when too little was decided), the decided share of the weight and
    the fatal fails (a speechqa.call.Assessment)."""
    metrics, score = assessment.derived.metrics, assessment.score
    return {
        **{name: metrics[name] for name in METRIC_NAMES},
        **{f"verdict_{v.id}": v.verdict for v in assessment.verdicts},
        "score_total": score.total,
        "score_decided_weight": score.decided_weight,
        "score_abstained_weight": score.abstained_weight,
        "score_fatal_failures": ",".join(score.fatal_failures),
    }


def judged_rows(call: dict, assessment, *, score_hash: str, run_id: str, now: datetime) -> dict[str, list[dict]]:
    """A stored call's calls row and criteria rows once it is judged again (rescore, or a batch
    commit re-judging against new baselines): its old verdict columns give way to the new."""
    key = {"call_id": call["call_id"], "call_date": call["call_date"]}
    new_call = {k: v for k, v in call.items() if not k.startswith("verdict_")}
    new_call.update(assessed_columns(assessment), score_hash=score_hash, scored_utc=now)
    return {"calls": [new_call], "criteria": criteria_rows(key, assessment.verdicts, score_hash=score_hash, run_id=run_id)}


def by_call(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by their call_id, in their order."""
    out = defaultdict(list)
    for row in rows:
        out[row["call_id"]].append(row)
    return out


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
            "note": v.note, "baseline": v.baseline, "score_hash": score_hash, "run_id": run_id,
        })
    return rows


def measured_rows(key: dict, m: Measurement, *, measure_hash: str) -> list[dict]:
    """The timeline's measured rows: the speech intervals, the turns with their statistics, the
    backchannels and the caller->agent level pairs."""
    provenance = {"measure_hash": measure_hash}
    rows = [
        _timeline_row(key, SPEECH, party, start, end, provenance)
        for party, intervals in m.speech.items()
        for start, end in np.asarray(intervals, dtype=float).reshape(-1, 2)
    ]
    for t in m.turns:
        rows.append({**_timeline_row(key, TURN, t.party, t.start_s, t.end_s, provenance),
                     **{name: getattr(t, name) for name in TURN_STATS}})
    rows += [_timeline_row(key, BACKCHANNEL, e.party, e.start_s, e.end_s, provenance) for e in m.backchannels]
    for p in m.level_pairs:
        rows.append({**_timeline_row(key, LEVEL_PAIR, "agent", p.agent_start_s, p.agent_end_s, provenance),
                     "other_start_s": p.caller_start_s, "other_end_s": p.caller_end_s, "level_diff_db": p.level_diff_db})
    return rows


def derived_rows(key: dict, derived, *, score_hash: str) -> list[dict]:
    """The timeline's rows that [score] made: silences, overtalk, interruptions and pauses."""
    provenance = {"score_hash": score_hash}
    return [_timeline_row(key, e.kind, e.party, e.start_s, e.end_s, provenance)
            for e in derived.events if e.kind in DERIVED_KINDS]


def read_measurement(call: dict, timeline: list[dict], utterances: list[dict], words: list[dict]) -> Measurement:
    """A call's Measurement from its warehouse rows: the inverse of call_records' measured part
    (all but the pitch tracks, which are not stored)."""
    mono = call.get("mono")
    if mono is None:   # written before the mono column: mono calls were the ones without an agent channel
        mono = call["agent_channel"] is None
    diarized = bool(call.get("diarized"))
    split = not mono or diarized
    rows = defaultdict(list)
    for r in sorted(timeline, key=lambda r: (r["start_s"], r["end_s"])):
        rows[r["kind"]].append(r)
    speech = {p: np.array([(r["start_s"], r["end_s"]) for r in rows[SPEECH] if r["party"] == p], dtype=float).reshape(-1, 2)
              for p in (PARTIES if split else (CALL,))}
    words_of = defaultdict(list)
    for w in sorted(words, key=lambda w: (w["utterance_index"], w["word_index"])):
        words_of[w["utterance_index"]].append(Word(w["text"], w["start_s"], w["end_s"], w["probability"],
                                                   w.get("f0_peak_hz"), w.get("level_dbfs")))
    said = tuple(
        Utterance(u["party"], u["start_s"], u["end_s"], u["text"], u["avg_logprob"], u["language"],
                  tuple(words_of[u["utterance_index"]]))
        for u in sorted(utterances, key=lambda u: u["utterance_index"])
    )
    names = AUDIO_METRIC_NAMES if split else MONO_AUDIO_METRIC_NAMES
    return Measurement(
        duration_s=call["duration_s"],
        roles=Roles(call["agent_channel"], call["roles_method"], call["roles_evidence"]),
        quality=Quality(**{f.name: call.get(f"quality_{f.name}") for f in dataclasses.fields(Quality)}),
        audio_metrics={name: call.get(name) for name in names},
        speech=speech,
        mono=mono,
        diarized=diarized,
        turns=tuple(TurnStats(r["party"], r["start_s"], r["end_s"], *(r.get(k) for k in TURN_STATS)) for r in rows[TURN]),
        backchannels=tuple(Event(BACKCHANNEL, r["party"], r["start_s"], r["end_s"]) for r in rows[BACKCHANNEL]),
        level_pairs=tuple(LevelPair(r["other_start_s"], r["other_end_s"], r["start_s"], r["end_s"], r["level_diff_db"])
                          for r in rows[LEVEL_PAIR]),
        language=call["language"],
        language_method=call.get("language_method"),
        utterances=said,
    )


def kept_measured_rows(timeline: list[dict], *, measure_hash: str) -> list[dict]:
    """A call's measured timeline rows as stored, for a rescore to write back unchanged (rows
    from before the measure_hash column get the call's)."""
    return [{**r, "measure_hash": r.get("measure_hash") or measure_hash, "score_hash": None}
            for r in timeline if r["kind"] in MEASURED_KINDS]


def _timeline_row(key, kind, party, start, end, provenance: dict) -> dict:
    return {**key, "kind": kind, "party": party, "start_s": float(start), "end_s": float(end),
            "duration_s": float(end) - float(start), **provenance}


def _plain(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
