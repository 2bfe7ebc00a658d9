"""Score one call: read, measure, derive, judge. The library entry the CLI and the batch use,
and the composition `rescore` runs on a stored Measurement (derive and judge only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from speechqa import __version__
from speechqa.audio import Recording, read_audio
from speechqa.config import Config, ScoreConfig
from speechqa.derive import Derived, derive
from speechqa.judge import Score, Verdict, judge, total_score
from speechqa.measure import Measurement, measure_call
from speechqa.sources import content_id
from speechqa.stages import StageHook, no_hook, timed


@dataclass(frozen=True)
class Assessment:
    """What [score] makes of a Measurement: its metrics, the verdicts and the total."""

    derived: Derived
    verdicts: tuple[Verdict, ...]
    score: Score


@dataclass(frozen=True)
class CallResult:
    call_id: str
    path: str
    sample_rate_hz: int
    channels: int
    source_format: str
    measurement: Measurement     # under [measure], hashed as measure_hash
    assessment: Assessment       # under [score], hashed as score_hash
    measure_hash: str
    score_hash: str
    speechqa_version: str = __version__
    notes: tuple[str, ...] = ()  # what the reader noticed about the file, without its path (speechqa.audio)

    @property
    def metrics(self) -> dict[str, float | int | None]:
        return self.assessment.derived.metrics

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return self.assessment.verdicts

    @property
    def score(self) -> Score:
        return self.assessment.score


def score_call(path: str | Path, *, config: Config, transcriber=None, hook: StageHook = no_hook) -> CallResult:
    """Read, measure and judge one call. `transcriber` defaults to one built from
    [measure.asr] (the model is loaded once per process); none when ASR is off.
    `hook(stage, seconds)` hears each stage's time."""
    with read_audio(path, max_duration_s=config.measure.max_duration_s) as recording:   # its sample file goes at the end
        return score_recording(recording, call_id=content_id(path), config=config, transcriber=transcriber, hook=hook)


def score_recording(recording: Recording, *, call_id: str, config: Config, transcriber=None,
                    hook: StageHook = no_hook, direction: str | None = None) -> CallResult:
    """Measure and judge a call already read (one file, or two legs joined by speechqa.sources);
    `direction` from its metadata decides the roles where the words do not (speechqa.roles)."""
    if transcriber is None and config.measure.asr.enabled:
        from speechqa.asr import Transcriber

        transcriber = Transcriber(config.measure.asr)
    measurement = measure_call(recording, measure=config.measure, transcriber=transcriber, hook=hook, direction=direction)
    with timed(hook, "score"):
        assessment = assess(measurement, score=config.score)
    return CallResult(
        call_id=call_id,
        path=str(recording.path),
        sample_rate_hz=recording.source_sample_rate_hz,
        channels=recording.channels,
        source_format=recording.source_format,
        measurement=measurement,
        assessment=assessment,
        measure_hash=config.measure_hash,
        score_hash=config.score_hash,
        notes=recording.notes,
    )


def assess(measurement: Measurement, *, score: ScoreConfig) -> Assessment:
    """Derive and judge: what `score_call` does after measuring, and all `rescore` does to a
    Measurement read back from the warehouse (speechqa.records)."""
    return judged(derive(measurement, score=score), score=score)


def judged(derived: Derived, *, score: ScoreConfig, baselines=None) -> Assessment:
    """Judge derived figures: the verdicts and the total. `baselines` (metric -> a
    speechqa.baseline.Baseline, the agent's own) for the criteria with `baseline = "agent"`,
    which abstain without them."""
    verdicts = judge(derived, score.criteria, quality=score.quality, baselines=baselines)
    return Assessment(derived=derived, verdicts=verdicts,
                      score=total_score(verdicts, min_decided_weight=score.min_decided_weight))
