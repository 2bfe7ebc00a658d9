"""Configuration: a TOML file in two parts, [measure] and [score], each with its own hash.

A change under [measure] means the audio must be processed again; a change under [score]
(timing thresholds, criteria) can be re-applied to stored timelines and metrics.
Loaded at the edge (CLI, pipelines) and passed down; nothing here is global. The options of each
stage are defined in speechqa.options; this module only assembles, loads, checks and hashes them,
and imports no stage.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from speechqa.errors import SpeechQAError
from speechqa.names import AGENT_CHOICES, AUTO
from speechqa.options import (
    CUSTOMER_ID_MODES, ArousalOptions, AsrOptions, BaselineOptions, Criterion, DiarizeOptions, EmphasisOptions, PiiOptions, SentimentOptions, PitchOptions,
    QualityGate, QualityOptions, RateOptions, ScriptOptions, SourceOptions, TimingOptions, TurnOptions, VadOptions,
)

log = logging.getLogger("speechqa")

# Options that moved, and where to: an old configuration file is told, not just refused.
MOVED = {
    "score.timing.floor_take_s": "measure.turns.floor_take_s",
    "score.timing.turn_end_silence_s": "measure.turns.turn_end_silence_s",
}


@dataclass(frozen=True)
class MeasureConfig:
    agent: str = AUTO                    # which channel is the agent: left, right or auto
    max_duration_s: float = 14400.0      # longer recordings are refused (error type too_long)
    gain_offset_left_db: float = 0.0     # added to levels measured on the left channel
    gain_offset_right_db: float = 0.0
    bridge_gap_s: float = 0.25           # speech gaps shorter than this are bridged in the timeline
    turns: TurnOptions = field(default_factory=TurnOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    pitch: PitchOptions = field(default_factory=PitchOptions)
    quality: QualityOptions = field(default_factory=QualityOptions)
    asr: AsrOptions = field(default_factory=AsrOptions)
    pii: PiiOptions = field(default_factory=PiiOptions)
    diarize: DiarizeOptions = field(default_factory=DiarizeOptions)

    def __post_init__(self):
        if self.agent not in AGENT_CHOICES:
            raise ValueError(f"agent = {self.agent!r}; use one of {AGENT_CHOICES}")


@dataclass(frozen=True)
class ScoreConfig:
    # A call whose decided criteria (not abstaining) hold less than this share of the weight has
    # no total (null, with the reason): a total over a few criteria reads as the call's quality.
    min_decided_weight: float = 0.5
    timing: TimingOptions = field(default_factory=TimingOptions)
    rate: RateOptions = field(default_factory=RateOptions)
    script: ScriptOptions = field(default_factory=ScriptOptions)
    arousal: ArousalOptions = field(default_factory=ArousalOptions)
    emphasis: EmphasisOptions = field(default_factory=EmphasisOptions)
    sentiment: SentimentOptions = field(default_factory=SentimentOptions)
    quality: QualityGate = field(default_factory=QualityGate)
    baseline: BaselineOptions = field(default_factory=BaselineOptions)   # each agent's own baseline
    # Phrases added to the shipped lexicons: {language: {category: [phrase, ...]}}
    lexicon: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    criteria: tuple[Criterion, ...] = ()

    def __post_init__(self):
        if not 0.0 <= self.min_decided_weight <= 1.0:
            raise ValueError(f"score.min_decided_weight = {self.min_decided_weight!r}; use a share from 0 "
                             "(a total over whatever was decided) to 1 (only calls where every criterion decided)")
        left_out = [c.id for c in self.criteria
                    if c.baseline and self.baseline.metrics and c.metric not in self.baseline.metrics]
        if left_out:
            raise ValueError(f"criteria {left_out} compare against the agent's baseline of a metric that "
                             "[score.baseline] metrics leaves out; add their metrics to it, or leave metrics out (every metric)")


COMPRESSIONS = ("zstd", "snappy")


@dataclass(frozen=True)
class QueueOverride:
    """[measure] and [score] tables laid over the configuration for the calls of one queue."""

    queue: str
    measure: dict = field(default_factory=dict)
    score: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BatchOptions:
    """How `speechqa batch` runs: neither hash covers it, since it changes no call's result."""

    workers: int = 0                  # calls processed at once, each in its own process; 0 = automatic
    threads_per_worker: int = 0       # CPU threads each worker's engines use; 0 = cores / workers
    commit_interval_s: float = 300.0  # finished calls are committed at least this often; 0: at the end only
    compression: str = "zstd"         # Parquet compression: zstd or snappy
    sources: SourceOptions = field(default_factory=SourceOptions)
    overrides: dict[str, QueueOverride] = field(default_factory=dict)

    def __post_init__(self):
        if self.workers < 0:
            raise ValueError(f"batch.workers = {self.workers}; use 0 (automatic) or more")
        if self.threads_per_worker < 0:
            raise ValueError(f"batch.threads_per_worker = {self.threads_per_worker}; use 0 (automatic) or more")
        if not self.commit_interval_s >= 0:
            raise ValueError(f"batch.commit_interval_s = {self.commit_interval_s}; use seconds, or 0 for one commit at the end")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"batch.compression = {self.compression!r}; use one of {COMPRESSIONS}")
        if self.sources.customer_id not in CUSTOMER_ID_MODES:
            raise ValueError(f"batch.sources.customer_id = {self.sources.customer_id!r}; use one of {CUSTOMER_ID_MODES}")


# What speechqa's own code measures differently, for the same audio and the same [measure]: a
# part of measure_hash, so a batch measures stored calls again when a release changes it. Bump it
# with every change to what speechqa.measure stores (2: the DC offset removed, word F0 peaks and
# levels stored for emphasis, speech detection changes; 3: pitch tracked in 5-minute blocks, so a
# longer call's F0 figures move a little: on lca49 repeated to 16 minutes the median F0 by 0.1 Hz,
# the SD by 0.02-0.04 st; shorter calls measure exactly as before; 4: a mono call whose two
# clusters are alike is checked by the segmentation network, and one voice is no longer split).
MEASURE_REVISION = 4


@dataclass(frozen=True)
class Config:
    measure: MeasureConfig
    score: ScoreConfig
    batch: BatchOptions = field(default_factory=BatchOptions)

    @functools.cached_property   # frozen, so computed once: the batch and rescore ask per call
    def measure_hash(self) -> str:
        # Thread and stream counts change how fast, not what: a batch with more workers (fewer
        # threads each) must not measure every stored call again.
        measure = dataclasses.replace(self.measure, asr=dataclasses.replace(self.measure.asr, threads=0, streams=0))
        return _hash({"revision": MEASURE_REVISION, "measure": _plain(measure)})

    @functools.cached_property
    def score_hash(self) -> str:
        return _hash(self.score)


def config_for_queue(config: Config, queue: str | None) -> tuple[Config, str | None]:
    """The configuration for a call of `queue`: the first override naming that queue laid over
    [measure] and [score] (tables merge key by key), and the override's name; else unchanged."""
    for name, override in config.batch.overrides.items():
        if queue is not None and override.queue == queue:
            merged = {
                "measure": _overlay(_plain(config.measure), override.measure),
                "score": _overlay(_plain(config.score), override.score),
                "batch": _plain(config.batch),
            }
            try:
                return _build(Config, merged, where=""), name
            except (TypeError, ValueError, KeyError) as exc:
                raise SpeechQAError(f"[batch.overrides.{name}]: {exc}", error_type="bad_config") from None
    return config, None


def default_config_text() -> str:
    return resources.files("speechqa").joinpath("default_config.toml").read_text(encoding="utf-8")


def default_config() -> Config:
    return parse_config("", source="the default configuration")


def load_config(path: str | Path | None) -> Config:
    """The configuration in `path`, or the shipped default when path is None."""
    if path is None:
        return default_config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpeechQAError(f"{path}: cannot read the configuration ({exc.strerror})", error_type="bad_config") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str) -> Config:
    """The shipped default overlaid with `text`: tables merge key by key, anything else (a
    value, the list of criteria) replaces the default."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpeechQAError(f"{source}: not valid TOML ({exc})", error_type="bad_config") from None
    try:
        config = _build(Config, _overlay(tomllib.loads(default_config_text()), data), where="")
    except (TypeError, ValueError, KeyError) as exc:
        raise SpeechQAError(f"{source}: {exc}", error_type="bad_config") from None
    configs = [config] + [config_for_queue(config, o.queue)[0] for o in config.batch.overrides.values()]
    for warning in dict.fromkeys(w for c in configs for w in score_warnings(c.score)):   # a bad override fails now
        log.warning("%s: %s", source, warning)
    return config


# Metrics that count only silences of at least dead_air_s (0 when none reaches it).
_DEAD_AIR_SECONDS = ("silence_max_s", "silence_total_s")


def score_warnings(score: ScoreConfig) -> list[str]:
    """What in a valid [score] is likely not meant: a silence threshold under dead_air_s can only
    be failed by silences of dead_air_s or more, so it judges as if it were dead_air_s."""
    dead_air_s = score.timing.dead_air_s
    return [
        f"criterion {c.id!r}: {c.metric} <= {c.threshold:g} s is below [score.timing] dead_air_s = {dead_air_s:g} s; "
        f"only silences of {dead_air_s:g} s or more are counted, so any of them fails it. Lower dead_air_s "
        f"to {c.threshold:g} or raise the threshold"
        for c in score.criteria
        if c.metric in _DEAD_AIR_SECONDS and c.direction in ("max", "abs_max") and 0 < c.threshold < dead_air_s
    ]


def dump_config(config: Config) -> str:
    """TOML text that loads back to an equal Config."""
    import tomli_w

    return tomli_w.dumps(_plain(config))


def _overlay(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _overlay(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def _build(cls, data: dict, *, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    moved = [f"{where}.{k}" for k in sorted(unknown) if f"{where}.{k}" in MOVED]
    if moved:
        raise ValueError("; ".join(f"{old} has moved to [{MOVED[old].rsplit('.', 1)[0]}] "
                                 f"{MOVED[old].rsplit('.', 1)[1]}" for old in moved))
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in [{where or 'top level'}]; known: {sorted(known)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, where=f"{where}.{name}".strip("."))
    return cls(**kwargs)


def _convert(hint, value, *, where: str):
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where=where)
    origin = typing.get_origin(hint)
    if origin is dict:
        _, value_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a table")
        return {str(k): _convert(value_hint, v, where=f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list")
        return tuple(_convert(item, v, where=f"{where}[{i}]") for i, v in enumerate(value))
    expected = tuple(a for a in typing.get_args(hint) if a is not type(None)) or (hint,)
    if float in expected and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise ValueError(f"{where} = {value!r} should be of type {' or '.join(t.__name__ for t in expected)}")
    return value


def _plain(obj):
    """Dataclasses as TOML-ready dicts; None values are left out (TOML has no null)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if getattr(obj, f.name) is not None}
    if isinstance(obj, tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _hash(part) -> str:
    canonical = json.dumps(_plain(part), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
