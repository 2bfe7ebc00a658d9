"""Derive: a call's Measurement and a [score] configuration in, its metrics out, no audio.

Everything that depends on [score] (silences, overtalk, interruptions, latencies and pauses
under [score.timing]; word, rate and script metrics; the level-pair figures; the evidence behind
each metric) is computed here from what speechqa.measure stored: at measure time and at
`rescore` time alike, through this one function, so a change confined to [score] rescored from
stored rows gives what processing the audio again would give.

Each producer of metrics declares the names it makes (speechqa.timeline.TIMING_METRICS,
speechqa.measure.AUDIO_METRIC_NAMES, speechqa.words.WORD_METRICS, speechqa.voice's and
speechqa.sentiment's, DERIVED_METRICS here);
speechqa.metrics.conform raises when one of them does not come, so a producer that stops
producing a metric fails loudly instead of leaving its criterion to abstain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechqa.config import ScoreConfig
from speechqa.measure import AUDIO_METRIC_NAMES, MONO_AUDIO_METRIC_NAMES, LevelPair, Measurement
from speechqa.metrics import conform
from speechqa.names import BACKCHANNEL, CALL, INTERRUPTION, OVERTALK, PARTIES, PAUSE, SILENCE
from speechqa.rate import match_slope_per_min
from speechqa.sentiment import SENTIMENT_METRICS, tone_metrics
from speechqa.timeline import SILENCE_METRICS, TIMING_METRICS, Event, analyse_conversation, silence_metrics, total_s, union
from speechqa.voice import AROUSAL_METRICS, EMPHASIS_METRICS, arousal_metrics, emphasis_metrics
from speechqa.words import CALL_WORD_METRICS, WORD_METRICS, call_word_metrics, word_metrics

MONO_REASON = "mono recording not split into agent and caller: diarization is off ([measure.diarize] enabled = false)"
ONE_SPEAKER_REASON = "mono recording of one voice (quality_speakers = 1): no agent and caller to measure apart"
NO_ASR_REASON = "no transcript: speech recognition is off ([measure.asr] enabled = false)"
TOO_LITTLE_REASON = "too little speech to measure"
OVERLAP_REASON = ("diarized mono call: speech of both parties at once cannot be told apart in one channel, "
                  "so overlap is not measured")

# What needs to know who speaks while the other does: unmeasured on a diarized call, never 0.
OVERLAP_METRICS = ("overtalk_s", "overtalk_episodes", "agent_interruptions", "caller_interruptions",
                   "agent_backchannels", "caller_backchannels", "agent_interruptions_in_question",
                   "agent_backchannels_in_caller_turns")

# The metrics derive() makes itself: from the speech as a whole, and from the level pairs.
DERIVED_METRICS = ("speech_s", "turns_total", "level_support_s", "level_pairs", "level_diff_pair_median_db",
                   "level_match_slope_db_per_min")
MONO_DERIVED_METRICS = ("speech_s",)
OVERLAP_EVENTS = (OVERTALK, INTERRUPTION, BACKCHANNEL)


@dataclass(frozen=True)
class Derived:
    """Everything that depends on [score], from one Measurement."""

    metrics: dict[str, float | int | None]    # every name of speechqa.metrics, None when unmeasured
    unmeasured: dict[str, str]                # metric -> why it is None
    events: tuple[Event, ...]                 # silences, overtalk, interruptions, pauses, backchannels
    evidence: dict[str, list[tuple[float, float]]]   # metric -> (start_s, end_s) moments behind it
    notes: dict[str, str]                     # metric -> what decided it (the words said)


def derive(measurement: Measurement, *, score: ScoreConfig) -> Derived:
    """Every [score]-dependent metric, event and piece of evidence of a measured call. Pure: no
    audio, no files beyond the packaged lexicons."""
    return _derive_two_party(measurement, score) if measurement.split else _derive_mono(measurement, score)


def _derive_two_party(m: Measurement, score: ScoreConfig) -> Derived:
    speech, turns = m.speech, m.plain_turns
    conversation = analyse_conversation(speech, turns, m.backchannels, options=score.timing)
    values = {**conversation.metrics, **m.audio_metrics}
    produced = [*TIMING_METRICS, *AUDIO_METRIC_NAMES, *DERIVED_METRICS]
    pairs = m.level_pairs
    values.update(
        speech_s=total_s(union(*speech.values())),
        turns_total=len(turns),
        level_support_s=min(values["agent_talk_s"], values["caller_talk_s"]),
        level_pairs=len(pairs),
        level_diff_pair_median_db=float(np.median([p.level_diff_db for p in pairs])) if pairs else None,
        level_match_slope_db_per_min=match_slope_per_min([p.agent_start_s for p in pairs],
                                                         [abs(p.level_diff_db) for p in pairs]),
    )
    word_evidence, notes = {}, {}
    if m.transcribed:
        words = word_metrics(
            list(m.utterances), turns, conversation.events, speech, language=m.language,
            rate=score.rate, script=score.script, lexicon_additions=score.lexicon,
        )
        values.update(words.metrics)
        produced += WORD_METRICS
        word_evidence, notes = words.evidence, words.notes
    voice = [arousal_metrics(m.turns, speech, options=score.arousal)]
    produced += AROUSAL_METRICS
    if m.transcribed:
        voice.append(emphasis_metrics(m.utterances, turns, speech, language=m.language, options=score.emphasis))
        produced += EMPHASIS_METRICS
        voice.append(tone_metrics(m.utterances, language=m.language, options=score.sentiment))
        produced += SENTIMENT_METRICS
    why = {}
    for v in voice:
        values.update(v.metrics)
        word_evidence, notes, why = {**word_evidence, **v.evidence}, {**notes, **v.notes}, {**why, **v.reasons}
    reasons = {}
    if m.diarized:
        reasons = {name: OVERLAP_REASON for name in OVERLAP_METRICS if name in values}
        values.update(dict.fromkeys(reasons))
    metrics = conform(values, produced=produced)
    unmeasured = {name: reasons.get(name, why.get(name, TOO_LITTLE_REASON)) if name in values else NO_ASR_REASON
                  for name, v in metrics.items() if v is None}
    evidence = {**_evidence(conversation.events, turns, pairs, slow_reply_s=score.timing.slow_reply_s), **word_evidence}
    return Derived(
        metrics=metrics,
        unmeasured=unmeasured,
        events=tuple(e for e in conversation.events if not (m.diarized and e.kind in OVERLAP_EVENTS)),
        evidence={k: v for k, v in evidence.items() if k not in reasons},
        notes={k: v for k, v in notes.items() if k not in reasons},
    )


def _derive_mono(m: Measurement, score: ScoreConfig) -> Derived:
    speech = m.speech[CALL]
    values, events = silence_metrics(speech, options=score.timing)
    values.update(m.audio_metrics)
    values["speech_s"] = total_s(speech)
    produced = [*SILENCE_METRICS, *MONO_AUDIO_METRIC_NAMES, *MONO_DERIVED_METRICS]
    if m.transcribed:
        values.update(call_word_metrics(m.utterances))
        produced += CALL_WORD_METRICS
    metrics = conform(values, produced=produced)
    why_not_split = ONE_SPEAKER_REASON if m.quality.speakers == 1 else MONO_REASON
    return Derived(
        metrics=metrics,
        unmeasured={name: TOO_LITTLE_REASON if name in values else why_not_split
                    for name, v in metrics.items() if v is None},
        events=tuple(events),
        evidence=_evidence(events, (), (), slow_reply_s=score.timing.slow_reply_s),
        notes={},
    )


def _evidence(events, turns, pairs: tuple[LevelPair, ...], *, slow_reply_s: float, most: int = 5) -> dict[str, list[tuple[float, float]]]:
    """The moments behind each metric a criterion may judge, worst first, at most `most`."""
    def moments(kind, party=None, longest_first=True):
        found = [e for e in events if e.kind == kind and (party is None or e.party == party)]
        if longest_first:
            found.sort(key=lambda e: e.start_s - e.end_s)
        return [(round(e.start_s, 2), round(e.end_s, 2)) for e in found[:most]]

    evidence = {
        "silence_max_s": moments(SILENCE)[:1],
        "silence_total_s": moments(SILENCE),
        "silence_count": moments(SILENCE),
        "silence_share": moments(SILENCE),
        "overtalk_s": moments(OVERTALK),
        "overtalk_episodes": moments(OVERTALK),
    }
    worst_pairs = sorted(pairs, key=lambda p: -abs(p.level_diff_db))[:most]
    evidence["level_diff_db"] = [(round(p.caller_start_s, 2), round(p.agent_end_s, 2)) for p in worst_pairs]
    evidence["level_diff_pair_median_db"] = evidence["level_diff_db"]
    for party in PARTIES:
        own_turns = sorted((t for t in turns if t.party == party), key=lambda t: -t.duration_s)
        evidence[f"{party}_interruptions"] = moments(INTERRUPTION, party, longest_first=False)
        evidence[f"{party}_backchannels"] = moments(BACKCHANNEL, party, longest_first=False)
        evidence[f"{party}_monologue_max_s"] = [(round(t.start_s, 2), round(t.end_s, 2)) for t in own_turns[:1]]
        evidence[f"{party}_long_pauses"] = moments(PAUSE, party)
        evidence[f"{party}_pauses_per_min"] = moments(PAUSE, party)
        for name in ("f0_sd_st", "f0_range_st", "level_dbfs", "talk_s"):
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
