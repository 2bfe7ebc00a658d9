"""The [score] half of a call: what a stored call gives under a score configuration, no audio.

`measure_call` splits a call in two. What needs the audio (levels, pitch, the VAD timeline, the
words, the P.56 levels of turn pairs) is measured once and kept in a `StoredCall`, which holds
only plain values, numpy interval arrays and the transcript types, so a warehouse can store it as
flat rows. Everything that depends on [score] (turns, silences, pauses, latencies, interruptions,
word, rate and script metrics, evidence) is computed from it by `score_stored`: at measure time
and at `rescore` time alike, through this one function, so a change confined to [score] rescored
from stored rows gives what processing the audio again would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechqa.config import ScoreConfig
from speechqa.metrics import WORD_METRIC_NAMES, conform
from speechqa.timeline import PARTIES, Event, Turn, analyse_conversation, silence_metrics, total_s, union
from speechqa.transcript import Utterance
from speechqa.words import call_word_metrics, word_metrics

MONO_REASON = "mono recording: per-party metrics need diarization (not available yet)"
NO_ASR_REASON = "no transcript: speech recognition is off ([measure.asr] enabled = false)"
TOO_LITTLE_REASON = "too little speech to measure"

# The metrics measured from the samples: none of them depends on [score], so they are stored as
# measured. Per party: P.56 level, BS.1770 loudness and noise floor (gain offsets applied to the
# first two), pitch over the party's speech and the voiced time it rests on.
_PARTY_AUDIO = ("level_dbfs", "loudness_lufs", "noise_floor_dbfs", "f0_median_hz", "f0_sd_st", "f0_range_st", "voiced_s")
AUDIO_METRIC_NAMES: tuple[str, ...] = (
    "duration_s",
    "level_diff_db",   # agent - caller level: a difference of two audio metrics
    "snr_db",          # speech level over noise floor, the worse channel (mono: the one channel)
    *(f"{party}_{name}" for party in PARTIES for name in _PARTY_AUDIO),
)


@dataclass(frozen=True)
class LevelPair:
    """A caller turn answered by an agent turn (both >= 1 s, as measured) and the loudness match
    of that exchange: agent - caller P.56 level over each whole turn (dB), gain offsets applied.
    Times in seconds from the start of the recording."""

    caller_start_s: float
    caller_end_s: float
    agent_start_s: float
    agent_end_s: float
    level_diff_db: float

    @property
    def caller(self) -> Turn:
        return Turn("caller", self.caller_start_s, self.caller_end_s)

    @property
    def agent(self) -> Turn:
        return Turn("agent", self.agent_start_s, self.agent_end_s)


@dataclass(frozen=True, eq=False)   # eq=False: numpy arrays have no single truth value
class StoredCall:
    """What a call's [score]-dependent metrics are computed from; all of it storable as rows.

    audio_metrics: metric name -> value, for names in AUDIO_METRIC_NAMES only (units in the
        names: duration_s, *_level_dbfs, *_loudness_lufs, *_noise_floor_dbfs, *_f0_median_hz,
        *_f0_sd_st, *_f0_range_st, *_voiced_s, level_diff_db, snr_db); None when unmeasured.
        A mono call has duration_s and snr_db only.
    speech: party ("agent", "caller"; "call" for mono) -> (n, 2) float64 [start_s, end_s] rows:
        that party's speech on its own channel, crosstalk removed, gaps < bridge_gap_s bridged.
    mono: True for one channel (or dual mono): call-level figures only.
    language: the transcript's language (ISO 639-1, "ru" or "en"); None when the call was not
        transcribed ([measure.asr] off), which leaves the word metrics unmeasured for lack of
        ASR. With a language the word metrics are measured, from `utterances` even when there
        are none (nobody said a recognisable word: 0 words).
    utterances: what was said, PII-masked as configured ([measure.pii]), with words and their
        times in seconds; party "agent"/"caller" ("call" for mono).
    level_pairs: the caller->agent turn pairs and their level differences as measured, on the
        turns of the measuring configuration. P.56 levels of turns need the audio, so rescoring
        keeps these pairs as they are: a [score.timing] change that moves turn boundaries does
        not re-measure them, and level_pairs, level_diff_pair_median_db,
        level_match_slope_db_per_min and the evidence of level_diff_db stay as measured.
    """

    audio_metrics: dict[str, float | int | None]
    speech: dict[str, np.ndarray]
    mono: bool
    language: str | None = None
    utterances: tuple[Utterance, ...] = ()
    level_pairs: tuple[LevelPair, ...] = ()

    def __post_init__(self):
        unknown = sorted(set(self.audio_metrics) - set(AUDIO_METRIC_NAMES))
        if unknown:
            raise ValueError(f"audio_metrics {unknown} are not measured from audio; "
                             f"keep only names of speechqa.stored.AUDIO_METRIC_NAMES")
        parties = {"call"} if self.mono else set(PARTIES)
        if set(self.speech) != parties:
            raise ValueError(f"speech has parties {sorted(self.speech)}; a {'mono' if self.mono else 'two-party'} "
                             f"call needs exactly {sorted(parties)}")
        object.__setattr__(self, "speech", {p: _intervals(v, party=p) for p, v in self.speech.items()})
        if self.language is None and self.utterances:
            raise ValueError("utterances given without their language; a transcribed call has one ('ru', 'en')")
        if self.mono and self.level_pairs:
            raise ValueError("a mono call has no turns, so no level pairs")

    @property
    def transcribed(self) -> bool:
        """Whether speech recognition ran on the call (its words are measured, maybe none)."""
        return self.language is not None


@dataclass(frozen=True)
class Derived:
    """Everything that depends on [score], from one StoredCall."""

    metrics: dict[str, float | int | None]    # every name of speechqa.metrics, None when unmeasured
    unmeasured: dict[str, str]                # metric -> why it is None
    turns: tuple[Turn, ...]
    events: tuple[Event, ...]
    evidence: dict[str, list[tuple[float, float]]]   # metric -> (start_s, end_s) moments behind it
    notes: dict[str, str]                     # metric -> what decided it (the words said)


def score_stored(stored: StoredCall, *, score: ScoreConfig) -> Derived:
    """Every [score]-dependent metric, event and piece of evidence of a stored call. Pure: no
    audio, no files beyond the packaged lexicons."""
    return _score_mono(stored, score) if stored.mono else _score_two_party(stored, score)


def _score_two_party(stored: StoredCall, score: ScoreConfig) -> Derived:
    speech = stored.speech
    conversation = analyse_conversation(speech, options=score.timing)
    values = dict(conversation.metrics)
    values.update(stored.audio_metrics)
    values["speech_s"] = total_s(union(*speech.values()))
    values["turns_total"] = len(conversation.turns)
    values["level_support_s"] = min(values["agent_talk_s"], values["caller_talk_s"])
    pairs = stored.level_pairs
    values["level_pairs"] = len(pairs)
    values["level_diff_pair_median_db"] = float(np.median([p.level_diff_db for p in pairs])) if pairs else None
    word_evidence, notes = {}, {}
    if stored.transcribed:
        words = word_metrics(
            list(stored.utterances), conversation.turns, conversation.events, speech, language=stored.language,
            level_pairs=[(p.agent_start_s, p.level_diff_db) for p in pairs], score=score,
        )
        values.update(words.metrics)
        word_evidence, notes = words.evidence, words.notes
    metrics = conform(values)
    unmeasured = {name: TOO_LITTLE_REASON for name, v in metrics.items() if v is None}
    if not stored.transcribed:
        unmeasured.update({name: NO_ASR_REASON for name in WORD_METRIC_NAMES})
    evidence = _evidence(conversation.events, conversation.turns, pairs, slow_reply_s=score.timing.slow_reply_s)
    return Derived(
        metrics=metrics,
        unmeasured=unmeasured,
        turns=conversation.turns,
        events=conversation.events,
        evidence={**evidence, **word_evidence},
        notes=notes,
    )


def _score_mono(stored: StoredCall, score: ScoreConfig) -> Derived:
    speech = stored.speech["call"]
    values, events = silence_metrics(speech, options=score.timing)
    if stored.transcribed:
        values.update(call_word_metrics(list(stored.utterances)))
    values.update(stored.audio_metrics)
    values["speech_s"] = total_s(speech)
    metrics = conform(values)
    return Derived(
        metrics=metrics,
        unmeasured={name: MONO_REASON for name, v in metrics.items() if v is None},
        turns=(),
        events=tuple(events),
        evidence=_evidence(events, (), (), slow_reply_s=score.timing.slow_reply_s),
        notes={},
    )


def _intervals(value, *, party: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"speech[{party!r}] has shape {array.shape}; give (n, 2) rows of [start_s, end_s]")
    return array


def _evidence(events, turns, pairs, *, slow_reply_s: float, most: int = 5) -> dict[str, list[tuple[float, float]]]:
    """The moments behind each metric a criterion may judge, worst first, at most `most`."""
    def moments(kind, party=None, longest_first=True):
        found = [e for e in events if e.kind == kind and (party is None or e.party == party)]
        if longest_first:
            found.sort(key=lambda e: e.start_s - e.end_s)
        return [(round(e.start_s, 2), round(e.end_s, 2)) for e in found[:most]]

    evidence = {
        "silence_max_s": moments("silence")[:1],
        "silence_total_s": moments("silence"),
        "silence_count": moments("silence"),
        "silence_share": moments("silence"),
        "overtalk_s": moments("overtalk"),
        "overtalk_episodes": moments("overtalk"),
    }
    worst_pairs = sorted(pairs, key=lambda p: -abs(p.level_diff_db))[:most]
    evidence["level_diff_db"] = [(round(p.caller_start_s, 2), round(p.agent_end_s, 2)) for p in worst_pairs]
    evidence["level_diff_pair_median_db"] = evidence["level_diff_db"]
    for party in PARTIES:
        own_turns = sorted((t for t in turns if t.party == party), key=lambda t: -t.duration_s)
        evidence[f"{party}_interruptions"] = moments("interruption", party, longest_first=False)
        evidence[f"{party}_backchannels"] = moments("backchannel", party, longest_first=False)
        evidence[f"{party}_monologue_max_s"] = [(round(t.start_s, 2), round(t.end_s, 2)) for t in own_turns[:1]]
        evidence[f"{party}_long_pauses"] = moments("pause", party)
        evidence[f"{party}_pauses_per_min"] = moments("pause", party)
        for name in ("talk_share", "f0_sd_st", "f0_range_st", "level_dbfs", "talk_s"):
            evidence[f"{party}_{name}"] = [(round(t.start_s, 2), round(t.end_s, 2)) for t in own_turns[:most]]
    evidence["agent_talk_share"] = evidence["agent_talk_s"]
    for party in PARTIES:
        replies = _replies(turns, party)
        evidence[f"{party}_latency_median_s"] = replies[:most]
        evidence[f"{party}_slow_replies"] = [r for r in replies if r[1] - r[0] > slow_reply_s][:most]
    return evidence


def _replies(turns, party: str) -> list[tuple[float, float]]:
    """The gaps before the party's replies (other's turn end to reply start), longest first."""
    gaps = [
        (prev.end_s, turn.start_s)
        for prev, turn in zip(turns, turns[1:])
        if turn.party == party and prev.party != party
    ]
    gaps.sort(key=lambda g: g[0] - g[1])
    # An overlapping reply (negative gap) is shown as the overlap, earlier time first.
    return [(round(min(g), 2), round(max(g), 2)) for g in gaps]
