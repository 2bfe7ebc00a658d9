"""The validity suite: a real call perturbed one behaviour at a time, scored again, and checked
that the metric that should move moves by what it should, and that only the criterion that
should change its verdict changes it.

A case names its perturbation, what it expects of its own metrics (`Expect`), which criteria it
may change (`flips`), and which metrics it may move besides (`own`: the ones the behaviour itself
is made of). Everything else is compared with the unperturbed call: a criterion outside `flips`
that changes its verdict fails the case; a metric outside `own` that moves beyond its tolerance
(`tolerance`) is reported beside it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from benchmarks.validity import perturb as P
from speechqa.call import CallResult, score_call
from speechqa.config import Config
from speechqa.judge import passes
from speechqa.metrics import BY_NAME
from speechqa.names import CHANNELS

SEED = 49


@dataclass(frozen=True)
class Call:
    """The unperturbed call, its samples at the file's rate, and what speechqa made of it."""

    path: Path
    samples: np.ndarray          # (channels, n) float64 at sample_rate_hz, as in the file
    sample_rate_hz: int
    result: CallResult

    @property
    def agent(self) -> int:
        return CHANNELS.index(self.result.measurement.roles.agent_channel)

    @property
    def caller(self) -> int:
        return 1 - self.agent

    def speech(self, party: str) -> np.ndarray:
        return self.result.measurement.speech[party]

    def turns(self, party: str) -> list[tuple[float, float]]:
        return [(t.start_s, t.end_s) for t in self.result.measurement.turns if t.party == party]

    def stretches(self, party: str) -> list[tuple[float, float]]:
        """The party's turns and its backchannels (which are no turns, but are its speech)."""
        backchannels = [(e.start_s, e.end_s) for e in self.result.measurement.backchannels if e.party == party]
        return sorted(self.turns(party) + backchannels)

    def fill(self, channel: int) -> P.Background:
        party = "agent" if channel == self.agent else "caller"
        return P.background(self.samples[channel], self.sample_rate_hz, self.speech(party))

    def metric(self, name: str):
        return self.result.metrics[name]


@dataclass(frozen=True)
class Expect:
    """What a case expects of one metric: perturbed / unperturbed within [low, high] ("ratio"),
    perturbed - unperturbed within it ("delta"), or the perturbed value itself ("value")."""

    metric: str
    kind: str
    low: float
    high: float

    def holds(self, before, after) -> bool:
        if before is None or after is None:
            return False
        if self.kind == "ratio":
            return before != 0 and self.low <= after / before <= self.high
        if self.kind == "delta":
            return self.low <= after - before <= self.high
        return self.low <= after <= self.high

    def apply(self, before: float, x: float) -> float:
        """The perturbed value that x (a point of [low, high]) stands for."""
        return before * x if self.kind == "ratio" else before + x if self.kind == "delta" else x

    def describe(self) -> str:
        unit = {"ratio": "x", "delta": "+", "value": "="}[self.kind]
        if self.kind == "ratio":
            return f"{self.low:g}-{self.high:g}{unit}"
        if self.kind == "delta":
            return f"{self.low:+g} to {self.high:+g}" if self.low != self.high else f"{self.low:+g}"
        return f"{self.low:g} to {self.high:g}"

    def moved(self, before, after) -> str:
        if before is None or after is None:
            return f"{fmt(before)} -> {fmt(after)}"
        if self.kind == "ratio" and before:
            return f"{fmt(before)} -> {fmt(after)} ({after / before:.2f}x)"
        if self.kind == "delta":
            return f"{fmt(before)} -> {fmt(after)} ({after - before:+.2f})"
        return f"{fmt(before)} -> {fmt(after)}"


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    make: Callable[[Call, np.random.Generator], np.ndarray]
    expects: tuple[Expect, ...]
    flips: tuple[tuple[str, str], ...] = ()   # (criterion, the verdict the perturbation should leave it at)
    own: tuple[str, ...] = ()          # metrics this behaviour is made of: they may move
    needs_words: bool = False          # the case is built from the transcript: skip it without ASR
    roles: str = "same"                # the agent's channel afterwards: "same", "swapped", or "any" (a mono mix has none)
    check: Callable[[Call, CallResult], list[str]] | None = None   # more the case must hold (problems)


@dataclass(frozen=True)
class Outcome:
    case: Case
    moved: tuple[tuple[Expect, object, object, bool], ...]   # (expect, before, after, holds)
    changed: tuple[tuple[str, str, str], ...]                # (criterion, before, after)
    targets: dict[str, str]                                  # criterion -> the verdict it must reach
    already: tuple[tuple[str, str], ...]                     # targets already at their verdict unperturbed: nothing to change
    others: tuple[str, ...]                                  # metrics outside `own` that moved beyond tolerance
    problems: tuple[str, ...]
    edge: tuple[str, ...] = ()    # criteria that changed while their metric stayed within tolerance of a threshold it sat on

    @property
    def ok(self) -> bool:
        return not self.problems


def fmt(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


# Tolerance of a metric that a perturbation should not move, by what the metric is. Each is
# about what one frame or one word more or less moves that kind of figure on a 4-minute call,
# so that what is reported as moved is a change no one would call noise.
def tolerance(name: str, before) -> float:
    if name == "level_match_slope_db_per_min":
        return 0.5                                       # dB per minute: 1 dB over a 2-minute call
    if name == "rate_match_slope_per_min":
        return 0.05                                      # ratio per minute: 0.1 over a 2-minute call
    if name.endswith(("_dbfs", "_lufs", "_db")):
        return 1.0                                       # dB: the P.56 level's repeatability
    if name.endswith("_st"):
        return 0.3                                       # semitones: a few pitch-tracker frames
    if name.endswith("_hz"):
        return 0.03 * abs(before)                        # 3 %: below a semitone (6 %)
    if name.endswith("_share"):
        return 0.03
    if name.endswith("_s"):
        return max(0.5, 0.05 * abs(before))              # a word's length, or 5 % of a total
    if name.endswith(("_per_s", "_wpm", "_per_min")) or name.startswith("rate_"):
        return 0.05 * abs(before)                        # 5 %: a few words in a few hundred
    if name in ("asr_confidence",):
        return 0.05
    return max(1.0, 0.05 * abs(before))                  # counts: one more or less, or 5 % of many


def verdicts(result: CallResult) -> dict[str, str]:
    return {v.id: v.verdict for v in result.verdicts}


def compare(case: Case, call: Call, perturbed: CallResult) -> Outcome:
    before, after = call.result.metrics, perturbed.metrics
    moved = tuple((e, before[e.metric], after[e.metric], e.holds(before[e.metric], after[e.metric]))
                  for e in case.expects)
    v0, v1 = verdicts(call.result), verdicts(perturbed)
    changed = tuple((c, v0[c], v1[c]) for c in v0 if v0[c] != v1[c])
    targets = {**expected_verdicts(case, call.result), **dict(case.flips)}
    already = tuple((c, v) for c, v in targets.items() if v0[c] == v)
    own = {e.metric for e in case.expects} | set(case.own)
    others = []
    for name, b in before.items():
        a = after[name]
        if name in own or (b is None and a is None):
            continue
        if (b is None) != (a is None) or abs(a - b) > tolerance(name, b):
            others.append(f"{name} {fmt(b)} -> {fmt(a)}")
    problems = [f"{e.metric}: {e.moved(b, a)}, expected {e.describe()}" for e, b, a, holds in moved if not holds]
    edge = tuple(c for c, b, a in changed if c not in targets and _on_edge(call.result, perturbed, c))
    problems += [f"criterion {c} changed {b} -> {a}, not this case's" for c, b, a in changed
                 if c not in targets and c not in edge]
    problems += [f"criterion {c} is {v1[c]}, expected {v}" for c, v in targets.items() if v1[c] != v]
    roles = (call.result.measurement.roles.agent_channel, perturbed.measurement.roles.agent_channel)
    if case.roles != "any" and (case.roles == "swapped") == (roles[0] == roles[1]):
        problems.append(f"agent channel {roles[0]} -> {roles[1]}, expected {case.roles}")
    if case.check is not None:
        problems += case.check(call, perturbed)
    return Outcome(case, moved, changed, targets, already, tuple(others), tuple(problems), edge)


def _on_edge(result: CallResult, perturbed: CallResult, criterion: str) -> bool:
    """A criterion whose metric did not move beyond its tolerance, and sat within that tolerance
    of the threshold, may fall either side: that is where the threshold was drawn, not the
    perturbation reaching into another criterion (the English sample's loudness match is made
    at exactly +6 dB against a 6 dB threshold)."""
    v = next(v for v in result.verdicts if v.id == criterion)
    after = perturbed.metrics[v.metric]
    if BY_NAME[v.metric].dtype != "float":
        return False   # a count that crosses its threshold moved by a whole event: no measurement edge
    if v.value is None or after is None or v.verdict == "abstain" or abs(after - v.value) > tolerance(v.metric, v.value):
        return False
    value = max(v.value, 1 / v.value) if v.direction == "ratio_max" and v.value > 0 else v.value
    value = abs(value) if v.direction == "abs_max" else value
    return abs(value - v.threshold) <= tolerance(v.metric, v.value)


def expected_verdicts(case: Case, result: CallResult) -> dict[str, str]:
    """The verdict each criterion on an expected metric must reach: pass where every value the
    expectation allows passes, fail where every one fails; no demand where the range straddles
    the threshold. So the cases say what moves and by how much, and the configuration's own
    thresholds say which verdicts that must change, on whatever call the suite runs."""
    out = {}
    for e in case.expects:
        before = result.metrics[e.metric]
        for v in result.verdicts:
            if v.metric != e.metric or v.verdict == "abstain" or before is None:
                continue
            values = [e.apply(before, x) for x in np.linspace(e.low, e.high, 101)]
            ends = {passes(v, x) for x in values}
            if len(ends) == 1:
                out[v.id] = "pass" if ends.pop() else "fail"
    return out


def write(samples: np.ndarray, sample_rate_hz: int, folder: Path, name: str) -> Path:
    path = folder / f"{name}.wav"
    sf.write(path, np.clip(samples, -1.0, 1.0).T, sample_rate_hz, subtype="PCM_16")
    return path


def load(path: Path, *, config: Config, transcriber=None) -> Call:
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    result = score_call(path, config=config, transcriber=transcriber)
    return Call(path=Path(path), samples=data.T, sample_rate_hz=rate, result=result)


def run_case(case: Case, call: Call, *, config: Config, transcriber=None) -> Outcome:
    rng = np.random.default_rng(SEED)
    samples = case.make(call, rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = write(samples, call.sample_rate_hz, Path(tmp), case.name)
        perturbed = score_call(path, config=config, transcriber=transcriber)
    return compare(case, call, perturbed)


def transcribed(config: Config) -> bool:
    return config.measure.asr.enabled


def with_agent(config: Config, channel: str) -> Config:
    """The configuration with the agent's channel set ("left", "right") instead of found."""
    return dataclasses.replace(config, measure=dataclasses.replace(config.measure, agent=channel))


def no_asr(config: Config) -> Config:
    asr = dataclasses.replace(config.measure.asr, enabled=False)
    return dataclasses.replace(config, measure=dataclasses.replace(config.measure, asr=asr))


@dataclass(frozen=True)
class Skipped:
    case: Case
    reason: str


def run_cases(call: Call, cases, *, config: Config, transcriber=None) -> list[Outcome | Skipped]:
    """Each case on `call`; a case this call or configuration cannot make is Skipped, with why."""
    out: list[Outcome | Skipped] = []
    for case in cases:
        if case.needs_words and not transcribed(config):
            out.append(Skipped(case, "needs the transcript: speech recognition is off"))
            continue
        try:
            out.append(run_case(case, call, config=config, transcriber=transcriber))
        except LookupError as exc:
            out.append(Skipped(case, str(exc)))
    return out


@dataclass(frozen=True)
class Step:
    """One rung of a ladder (a noise level, a codec) against the clean call."""

    name: str
    result: CallResult
    held: dict[str, bool]                       # metric -> within its tolerance of the clean call
    changed: tuple[tuple[str, str, str], ...]   # criteria whose verdict changed: (id, before, after)
    note: str = ""                              # what the rung was in fact (the codec's bit rate)
    poor: str | None = None                     # what the quality gate ([score.quality]) said of it

    @property
    def ok(self) -> bool:
        """Where the quality gate calls the measurement poor, criteria abstain: none may flip."""
        return not (self.poor and self.flipped)

    @property
    def flipped(self) -> tuple[str, ...]:
        """Criteria that went from one decision to the other: what a poor measurement must not do."""
        return tuple(c for c, b, a in self.changed if "abstain" not in (b, a))


def ladder_metrics(call: Call) -> tuple[str, ...]:
    """What a ladder follows: every criterion's metric, then the basic figures under them."""
    names = [v.metric for v in call.result.verdicts]
    names += ["agent_talk_s", "caller_talk_s", "agent_level_dbfs", "caller_level_dbfs", "agent_f0_median_hz",
              "caller_f0_median_hz", "agent_articulation_syll_per_s", "caller_articulation_syll_per_s",
              "words_total"]
    return tuple(dict.fromkeys(n for n in names if n in call.result.metrics))


def step(call: Call, name: str, samples: np.ndarray, *, config: Config, transcriber=None, note: str = "") -> Step:
    with tempfile.TemporaryDirectory() as tmp:
        result = score_call(write(samples, call.sample_rate_hz, Path(tmp), name), config=config, transcriber=transcriber)
    before, after = call.result.metrics, result.metrics
    held = {}
    for m in ladder_metrics(call):
        b, a = before[m], after[m]
        held[m] = (b is None and a is None) or (None not in (b, a) and abs(a - b) <= tolerance(m, b))
    v0, v1 = verdicts(call.result), verdicts(result)
    poor = config.score.quality.poor(after, words=True)
    return Step(name, result, held, tuple((c, v0[c], v1[c]) for c in v0 if v0[c] != v1[c]), note, poor)


NOISE_SNR_DB = (30, 25, 20, 15, 10, 5)


def noise_ladder(call: Call, *, config: Config, transcriber=None, levels=NOISE_SNR_DB) -> list[Step]:
    """Phone-band noise at each SNR below each channel's own active speech level."""
    from speechqa.features.loudness import active_speech_level

    speech_levels = [active_speech_level(channel, call.sample_rate_hz).level_dbfs for channel in call.samples]
    out = []
    for snr in levels:
        rng = np.random.default_rng(SEED)
        noisy = P.add_noise(call.samples, call.sample_rate_hz, speech_levels, snr, rng)
        out.append(step(call, f"snr_{snr}db", noisy, config=config, transcriber=transcriber, note=f"SNR {snr} dB"))
    return out


def codec_ladder(call: Call, *, config: Config, transcriber=None, codecs=P.CODECS) -> list[Step]:
    out = []
    for codec in codecs:
        coded, kbps = P.codec_round_trip(call.samples, call.sample_rate_hz, codec)
        out.append(step(call, codec, coded, config=config, transcriber=transcriber, note=f"{kbps:.1f} kbit/s"))
    return out
