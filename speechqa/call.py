"""Score one call: read, measure, judge. The library entry the CLI and the batch both use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from speechqa import __version__
from speechqa.asr import Transcriber
from speechqa.audio import read_audio
from speechqa.config import Config
from speechqa.measure import Measurement, measure_call, no_hook
from speechqa.metrics import BY_NAME
from speechqa.scoring import Score, Verdict, evaluate, total_score


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
    if transcriber is None and config.measure.asr.enabled:
        transcriber = Transcriber(config.measure.asr)
    measurement = measure_call(recording, measure=config.measure, score=config.score, transcriber=transcriber, hook=hook)
    verdicts = judge(measurement.metrics, measurement=measurement, config=config)
    return CallResult(
        call_id=content_id(path),
        path=str(path),
        sample_rate_hz=recording.source_sample_rate_hz,
        channels=recording.channels,
        source_format=recording.source_format,
        measurement=measurement,
        verdicts=tuple(verdicts),
        score=total_score(verdicts),
        measure_hash=config.measure_hash,
        score_hash=config.score_hash,
    )


def judge(metrics: dict, *, measurement: Measurement, config: Config) -> list[Verdict]:
    supports = {
        name: metrics.get(spec.support) if spec.support else None for name, spec in BY_NAME.items()
    }
    return evaluate(
        config.score.criteria,
        metrics,
        supports=supports,
        evidence=measurement.evidence,
        reasons=measurement.unmeasured,
        notes=measurement.notes,
    )
