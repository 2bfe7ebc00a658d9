"""Measure one call: a Recording in, every acoustic and timing metric out (no words yet).

Per channel, each frame track (VAD, pitch) is computed once; every per-party figure is a
statistic over those tracks restricted to that party's speech.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from speechqa.audio import Recording, require_signal
from speechqa.config import MeasureConfig, ScoreConfig
from speechqa.errors import SpeechQAError
from speechqa.features.loudness import active_speech_level, integrated_loudness, noise_floor_dbfs
from speechqa.features.pitch import pitch_stats, track_pitch
from speechqa.features.vad import detect_speech, load_vad_model
from speechqa.lexicon import load_lexicon
from speechqa.metrics import WORD_METRIC_NAMES, conform
from speechqa.pii import mask_utterances
from speechqa.quality import channel_correlation, clipping_share, high_band_share, leak_intervals
from speechqa.roles import CHANNEL_NAMES, Roles, assign_roles, first_speaker
from speechqa.transcript import Utterance
from speechqa.words import call_word_metrics, word_metrics
from speechqa.timeline import (
    PARTIES, Event, Turn, analyse_conversation, bridge_gaps, silence_metrics, subtract, total_s, union,
)

log = logging.getLogger("speechqa")

StageHook = Callable[[str, float], None]   # called with (stage name, seconds) after each stage


def no_hook(stage: str, seconds: float) -> None:
    """The default stage hook: does nothing."""


@contextmanager
def _stage(hook: StageHook, name: str):
    start = time.perf_counter()
    yield
    hook(name, time.perf_counter() - start)


MONO_REASON = "mono recording: per-party metrics need diarization (not available yet)"
NO_ASR_REASON = "no transcript: speech recognition is off ([measure.asr] enabled = false)"

PER_TURN_LEVEL_MIN_S = 1.0   # criteria.md: per-turn levels use P.56 over turns of 1 s or more


@dataclass(frozen=True)
class ChannelTracks:
    """What is computed once per channel and reused by every statistic."""

    speech: np.ndarray        # bridged speech intervals (s), leak removed
    leaked_s: float           # speech removed as the other channel's leak
    noise_floor_dbfs: float | None
    pitch: object             # features.pitch.PitchTrack


@dataclass(frozen=True)
class TurnPair:
    """A caller turn answered by an agent turn (both >= 1 s): the loudness match of one exchange."""

    caller: Turn
    agent: Turn
    level_diff_db: float   # agent - caller, P.56 over each turn, gain offsets applied


@dataclass(frozen=True)
class Measurement:
    duration_s: float
    roles: Roles
    quality: dict
    metrics: dict                      # every name of speechqa.metrics, None when unmeasured
    unmeasured: dict[str, str]         # metric -> why it is None
    speech: dict[str, np.ndarray]      # party (or "call" for mono) -> speech intervals
    turns: tuple[Turn, ...]
    turn_pairs: tuple[TurnPair, ...]
    events: tuple[Event, ...]
    evidence: dict[str, list[tuple[float, float]]]
    language: str | None = None                  # the transcript's language, None without ASR
    language_method: str | None = None           # "config" or "detected"
    utterances: tuple[Utterance, ...] = ()       # PII-masked as configured
    notes: dict[str, str] = dataclasses.field(default_factory=dict)   # metric -> what decided it


def measure_call(
    recording: Recording,
    *,
    measure: MeasureConfig,
    score: ScoreConfig,
    transcriber=None,
    hook: StageHook = no_hook,
) -> Measurement:
    """All metrics of one call. Raises SpeechQAError(no_speech) when nobody speaks.
    `transcriber` (a speechqa.asr.Transcriber, or None for no words) transcribes each channel;
    `hook(stage, seconds)` hears how long each stage took (benchmarks, run manifests)."""
    require_signal(recording)
    samples, sr = recording.samples, recording.sample_rate_hz
    with _stage(hook, "quality"):
        quality = _recording_quality(recording, options=measure.quality)
    if quality["dual_mono"]:
        samples = samples.mean(axis=0, keepdims=True)

    tracks = _channel_tracks(samples, sr, measure=measure, hook=hook)
    if all(len(t.speech) == 0 for t in tracks):
        raise SpeechQAError(
            f"{recording.path}: no speech found in any channel (signal present, but nothing the VAD "
            "calls speech: music, tones or noise only?)",
            error_type="no_speech",
        )
    quality["crosstalk_s"] = sum(t.leaked_s for t in tracks)
    quality["crosstalk"] = quality["crosstalk_s"] > 0

    speech_by_channel = [t.speech for t in tracks]
    transcript = None
    if transcriber is not None:
        first = CHANNEL_NAMES.index(measure.agent) if measure.agent in CHANNEL_NAMES else first_speaker(speech_by_channel)
        with _stage(hook, "asr"):
            transcript = transcriber.transcribe(samples, sr, speech_by_channel, first_channel=min(first, len(tracks) - 1))

    if len(tracks) == 1:
        return _measure_mono(recording, samples[0], tracks[0], quality, transcript, measure=measure, score=score)

    roles = assign_roles(
        speech_by_channel,
        agent=measure.agent,
        utterances_by_channel=None if transcript is None else [list(c) for c in transcript.channels],
        lexicon=None if transcript is None else load_lexicon(transcript.language, extra=score.lexicon.get(transcript.language)),
    )
    channel_of = {"agent": roles.agent_channel, "caller": 1 - roles.agent_channel}
    offsets_db = (measure.gain_offset_left_db, measure.gain_offset_right_db)
    speech = {party: tracks[channel_of[party]].speech for party in PARTIES}
    with _stage(hook, "timeline"):
        conversation = analyse_conversation(speech, options=score.timing)

    values = dict(conversation.metrics)
    values["duration_s"] = recording.duration_s
    values["speech_s"] = total_s(union(*speech.values()))
    values["turns_total"] = len(conversation.turns)
    values.update(_party_acoustics(samples, sr, tracks, speech, channel_of, offsets_db, hook))
    if values["agent_level_dbfs"] is not None and values["caller_level_dbfs"] is not None:
        values["level_diff_db"] = values["agent_level_dbfs"] - values["caller_level_dbfs"]
    values["level_support_s"] = min(values["agent_talk_s"], values["caller_talk_s"])
    with _stage(hook, "loudness"):
        pairs = _turn_pairs(samples, sr, conversation.turns, channel_of, offsets_db)
    values["level_pairs"] = len(pairs)
    values["level_diff_pair_median_db"] = float(np.median([p.level_diff_db for p in pairs])) if pairs else None
    quality["snr_db"] = _snr_db(values)
    values["snr_db"] = quality["snr_db"]

    utterances, word_evidence, notes = [], {}, {}
    if transcript is not None:
        with _stage(hook, "words"):
            utterances = _party_utterances(transcript, channel_of, samples, sr, speech, transcriber, measure)
            words = word_metrics(
                utterances, conversation.turns, conversation.events, speech, language=transcript.language,
                level_pairs=[(p.agent.start_s, p.level_diff_db) for p in pairs], score=score,
            )
            values.update(words.metrics)
            word_evidence, notes = words.evidence, words.notes
            utterances = list(mask_utterances(utterances, options=measure.pii))
            quality["asr_confidence"] = values["asr_confidence"]

    metrics = conform(values)
    unmeasured = {name: "too little speech to measure" for name, v in metrics.items() if v is None}
    if transcript is None:
        unmeasured.update({name: NO_ASR_REASON for name in WORD_METRIC_NAMES})
    return Measurement(
        duration_s=recording.duration_s,
        roles=roles,
        quality=quality,
        metrics=metrics,
        unmeasured=unmeasured,
        speech=speech,
        turns=conversation.turns,
        turn_pairs=tuple(pairs),
        events=conversation.events,
        evidence={
            **_evidence(conversation.events, conversation.turns, pairs, slow_reply_s=score.timing.slow_reply_s),
            **word_evidence,
        },
        language=None if transcript is None else transcript.language,
        language_method=None if transcript is None else transcript.method,
        utterances=tuple(utterances),
        notes=notes,
    )


def _party_acoustics(samples, sr, tracks, speech, channel_of, offsets_db, hook) -> dict:
    """Loudness and pitch of each party over its own speech, gain offsets applied."""
    values = {}
    for party in PARTIES:
        ch = channel_of[party]
        signal, track = samples[ch], tracks[ch]
        with _stage(hook, "loudness"):
            level = active_speech_level(signal, sr, segments=speech[party]).level_dbfs
            lufs = integrated_loudness(signal, sr, segments=speech[party])
        with _stage(hook, "pitch"):
            stats = pitch_stats(track.pitch, segments=speech[party])
        values.update({
            f"{party}_level_dbfs": None if level is None else level + offsets_db[ch],
            f"{party}_loudness_lufs": None if lufs is None else lufs + offsets_db[ch],
            f"{party}_noise_floor_dbfs": track.noise_floor_dbfs,
            f"{party}_f0_median_hz": stats.median_hz,
            f"{party}_f0_sd_st": stats.sd_st,
            f"{party}_f0_range_st": stats.range_st,
            f"{party}_voiced_s": stats.voiced_s,
        })
    return values


def _party_utterances(transcript, channel_of, samples, sr, speech, transcriber, measure) -> list[Utterance]:
    """The channels' utterances under party names; a channel whose party has its own language
    in the configuration is transcribed again in that language."""
    overrides = {"agent": measure.asr.agent_language, "caller": measure.asr.caller_language}
    utterances = []
    for party in PARTIES:
        ch = channel_of[party]
        language = overrides[party] or transcript.language
        if language != transcript.language:
            found = transcriber.transcribe_channel(samples[ch], sr, speech[party], party=party, language=language)
        else:
            found = [dataclasses.replace(u, party=party) for u in transcript.channels[ch]]
        utterances += found
    return sorted(utterances, key=lambda u: u.start_s)


def _recording_quality(recording: Recording, *, options) -> dict:
    samples, sr = recording.samples, recording.sample_rate_hz
    quality = {
        "narrowband": recording.source_sample_rate_hz <= 8000
        or max(high_band_share(ch, sr) for ch in samples) < options.narrowband_max_share,
        "clipping_share": max(clipping_share(ch) for ch in samples),
        "truncated": recording.truncated,
        "dual_mono": False,
        "channel_correlation": None,
    }
    quality["clipping"] = quality["clipping_share"] >= options.clipping_share
    if recording.channels == 2:
        corr = channel_correlation(samples[0], samples[1])
        quality["channel_correlation"] = corr
        quality["dual_mono"] = corr >= options.dual_mono_correlation
    return quality


def _channel_tracks(samples: np.ndarray, sr: int, *, measure: MeasureConfig, hook: StageHook) -> list[ChannelTracks]:
    with _stage(hook, "vad"):
        raw = detect_speech(samples, sr, model=load_vad_model(), options=measure.vad)
        speech = [bridge_gaps(r, max_gap_s=measure.bridge_gap_s) for r in raw]
    leaks = [np.zeros((0, 2)) for _ in speech]
    if len(speech) == 2:
        with _stage(hook, "crosstalk"):
            for ch in (0, 1):
                leaks[ch] = leak_intervals(samples[ch], samples[1 - ch], speech[ch], sr, options=measure.quality)
    tracks = []
    p = measure.pitch
    for ch, signal in enumerate(samples):
        with _stage(hook, "loudness"):
            floor = noise_floor_dbfs(signal, sr)
        with _stage(hook, "pitch"):
            pitch = track_pitch(signal, sr, fmin_hz=p.fmin_hz, fmax_hz=p.fmax_hz, hop_s=p.hop_s)
        tracks.append(
            ChannelTracks(
                # Leak comes out of the raw VAD output, before bridging: else the bridged pauses of
                # the leaked speech would stay behind as speech of their own.
                speech=bridge_gaps(
                    subtract(raw[ch], leaks[ch], min_s=measure.vad.min_speech_s), max_gap_s=measure.bridge_gap_s
                ),
                leaked_s=total_s(leaks[ch]),
                noise_floor_dbfs=floor,
                pitch=pitch,
            )
        )
    return tracks


def _measure_mono(
    recording: Recording, signal: np.ndarray, track: ChannelTracks, quality: dict, transcript, *, measure: MeasureConfig, score: ScoreConfig
) -> Measurement:
    values, events = silence_metrics(track.speech, options=score.timing)
    utterances = []
    if transcript is not None:
        utterances = list(mask_utterances(transcript.channels[0], options=measure.pii))
        values.update(call_word_metrics(utterances))
        quality["asr_confidence"] = values["asr_confidence"]
    values["duration_s"] = recording.duration_s
    values["speech_s"] = total_s(track.speech)
    level = active_speech_level(signal, recording.sample_rate_hz, segments=track.speech)
    quality["snr_db"] = (
        None if level.level_dbfs is None or track.noise_floor_dbfs is None
        else level.level_dbfs - track.noise_floor_dbfs
    )
    values["snr_db"] = quality["snr_db"]
    metrics = conform(values)
    unmeasured = {name: MONO_REASON for name, v in metrics.items() if v is None}
    return Measurement(
        duration_s=recording.duration_s,
        roles=Roles(
            agent_channel=None,
            method="mono",
            evidence="two channels carrying one signal (dual mono)" if quality["dual_mono"] else "one channel",
        ),
        quality=quality,
        metrics=metrics,
        unmeasured=unmeasured,
        speech={"call": track.speech},
        turns=(),
        turn_pairs=(),
        events=tuple(events),
        evidence=_evidence(events, (), [], slow_reply_s=score.timing.slow_reply_s),
        language=None if transcript is None else transcript.language,
        language_method=None if transcript is None else transcript.method,
        utterances=tuple(utterances),
    )


def _turn_pairs(samples, sr, turns, channel_of, offsets_db) -> list[TurnPair]:
    """Each caller turn answered by an agent turn, both >= 1 s, with agent - caller P.56 level."""
    pairs = []
    for caller_turn, agent_turn in zip(turns, turns[1:]):
        if (caller_turn.party, agent_turn.party) != ("caller", "agent"):
            continue
        if min(caller_turn.duration_s, agent_turn.duration_s) < PER_TURN_LEVEL_MIN_S:
            continue
        turn_levels = []
        for turn in (agent_turn, caller_turn):
            ch = channel_of[turn.party]
            a, b = int(turn.start_s * sr), int(turn.end_s * sr)
            level = active_speech_level(samples[ch, a:b], sr).level_dbfs
            turn_levels.append(None if level is None else level + offsets_db[ch])
        if None not in turn_levels:
            pairs.append(TurnPair(caller_turn, agent_turn, turn_levels[0] - turn_levels[1]))
    return pairs


def _snr_db(values: dict) -> float | None:
    snrs = [
        values[f"{p}_level_dbfs"] - values[f"{p}_noise_floor_dbfs"]
        for p in PARTIES
        if values.get(f"{p}_level_dbfs") is not None and values.get(f"{p}_noise_floor_dbfs") is not None
    ]
    return min(snrs) if snrs else None


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
    evidence["level_diff_db"] = [(round(p.caller.start_s, 2), round(p.agent.end_s, 2)) for p in worst_pairs]
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
