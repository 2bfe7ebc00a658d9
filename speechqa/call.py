"""Score one call: read, measure, judge; or rescore a stored one. The library entry the CLI and
the batch both use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from speechqa import __version__
from speechqa.asr import Transcriber
from speechqa.audio import Recording, read_audio
from speechqa.config import Config, ScoreConfig
from speechqa.measure import Measurement, measure_call, no_hook
from speechqa.metrics import BY_NAME
from speechqa.scoring import Criterion, Score, Verdict, evaluate, total_score
from speechqa.stored import Derived, StoredCall, score_stored


@dataclass(frozen=True)
class CallResult:
    call_id: str
    path: str
    sample_rate_hz: int
    channels: int
    source_format: str
    measurement: Measurement
    verdicts: tuple[Verdict, ...]
    score: Score
    measure_hash: str
    score_hash: str
    speechqa_version: str = __version__


def content_id(path: str | Path) -> str:
    """A call's id: a hash of the file's bytes, so a moved or renamed file keeps it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


def score_call(path: str | Path, *, config: Config, transcriber=None, hook=no_hook) -> CallResult:
    """Read, measure and judge one call. `transcriber` defaults to one built from
    [measure.asr] (the model is loaded once per process); none when ASR is off.
    `hook(stage, seconds)` hears each stage's time."""
    recording = read_audio(path, max_duration_s=config.measure.max_duration_s)
    return score_recording(recording, call_id=content_id(path), config=config, transcriber=transcriber, hook=hook)


def score_recording(recording: Recording, *, call_id: str, config: Config, transcriber=None, hook=no_hook) -> CallResult:
    """Measure and judge a call already read (one file, or two legs joined by speechqa.sources)."""
    if transcriber is None and config.measure.asr.enabled:
        transcriber = Transcriber(config.measure.asr)
    measurement = measure_call(recording, measure=config.measure, score=config.score, transcriber=transcriber, hook=hook)
    verdicts = judge(measurement, config.score.criteria)
    return CallResult(
        call_id=call_id,
        path=str(recording.path),
        sample_rate_hz=recording.source_sample_rate_hz,
        channels=recording.channels,
        source_format=recording.source_format,
        measurement=measurement,
        verdicts=tuple(verdicts),
        score=total_score(verdicts),
        measure_hash=config.measure_hash,
        score_hash=config.score_hash,
    )


def judge(derived, criteria: tuple[Criterion, ...] | None = None, *, measurement=None, config=None) -> list[Verdict]:
    """One verdict per criterion from a call's derived figures: a speechqa.stored.Derived, or a
    Measurement (anything with metrics, unmeasured, evidence and notes); `criteria` from
    [score.criteria]. The older form judge(metrics, measurement=m, config=c) still works."""
    if measurement is not None:
        derived, criteria = measurement, config.score.criteria
    if criteria is None:
        raise TypeError("judge needs the criteria: judge(derived, config.score.criteria)")
    metrics = derived.metrics
    supports = {
        name: metrics.get(spec.support) if spec.support else None for name, spec in BY_NAME.items()
    }
    return evaluate(
        criteria,
        metrics,
        supports=supports,
        evidence=derived.evidence,
        reasons=derived.unmeasured,
        notes=derived.notes,
    )


def rescore_call(stored: StoredCall, *, score: ScoreConfig) -> tuple[Derived, list[Verdict], Score]:
    """A stored call judged under `score`, with no audio: what score_call with that [score]
    gives, but for the caller->agent pair levels, which stay as measured (speechqa.stored)."""
    derived = score_stored(stored, score=score)
    verdicts = judge(derived, score.criteria)
    return derived, verdicts, total_score(verdicts)
