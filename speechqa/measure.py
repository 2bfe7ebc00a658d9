"""Measure one call: a Recording in, every metric out.

Per channel, each frame track (VAD, pitch) is computed once; every per-party figure is a
statistic over those tracks restricted to that party's speech. What needs the audio (quality,
VAD, crosstalk, roles, ASR and PII masking, levels, pitch, turn statistics and pair levels) is
measured here into a speechqa.stored.StoredCall; what depends on [score] is computed from that
by speechqa.stored.score_stored, the same function `rescore` runs on stored calls.
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
from speechqa.features.pitch import PitchTrack, pitch_stats, track_pitch
from speechqa.features.vad import detect_speech, load_vad_model
from speechqa.lexicon import load_lexicon
from speechqa.pii import mask_utterances
from speechqa.quality import channel_correlation, clipping_share, high_band_share, leak_intervals
from speechqa.roles import CHANNEL_NAMES, Roles, assign_roles, first_speaker
from speechqa.stored import LevelPair, StoredCall, score_stored
from speechqa.timeline import PARTIES, Event, Turn, analyse_conversation, bridge_gaps, subtract, total_s
from speechqa.transcript import Utterance
from speechqa.words import turn_words

log = logging.getLogger("speechqa")

StageHook = Callable[[str, float], None]   # called with (stage name, seconds) after each stage


def no_hook(stage: str, seconds: float) -> None:
    """The default stage hook: does nothing."""


@contextmanager
def _stage(hook: StageHook, name: str):
    start = time.perf_counter()
    yield
    hook(name, time.perf_counter() - start)


PER_TURN_LEVEL_MIN_S = 1.0    # criteria.md: per-turn levels use P.56 over turns of 1 s or more
PER_TURN_MIN_VOICED_S = 0.5   # a turn's median F0 needs this much voiced speech (50 frames)


@dataclass(frozen=True)
class ChannelTracks:
    """What is computed once per channel and reused by every statistic."""

    speech: np.ndarray        # bridged speech intervals (s), leak removed
    leaked_s: float           # speech removed as the other channel's leak
    noise_floor_dbfs: float | None
    pitch: object             # features.pitch.PitchTrack


@dataclass(frozen=True)
class TurnStats:
    """One turn (of the measuring configuration's turns) and what its audio and words say."""

    party: str
    start_s: float
    end_s: float
    level_dbfs: float | None               # P.56 over the turn on its channel, gain offset applied; None under 1 s
    f0_median_hz: float | None             # median F0 of the party's speech in the turn; None under 0.5 s voiced
    articulation_syll_per_s: float | None  # syllables per second of the party's speech in the turn; None without ASR
    words: int | None                      # the turn's words (speechqa.rate's assignment); None without ASR


@dataclass(frozen=True)
class Measurement:
    duration_s: float
    roles: Roles
    quality: dict
    metrics: dict                      # every name of speechqa.metrics, None when unmeasured
    unmeasured: dict[str, str]         # metric -> why it is None
    speech: dict[str, np.ndarray]      # party (or "call" for mono) -> speech intervals
    turns: tuple[Turn, ...]
    turn_pairs: tuple[LevelPair, ...]
    events: tuple[Event, ...]
    evidence: dict[str, list[tuple[float, float]]]
    stored: StoredCall                           # what rescoring needs: score_stored(stored) gave the above
    language: str | None = None                  # the transcript's language, None without ASR
    language_method: str | None = None           # "config" or "detected"
    utterances: tuple[Utterance, ...] = ()       # PII-masked as configured
    notes: dict[str, str] = dataclasses.field(default_factory=dict)   # metric -> what decided it
    turn_stats: tuple[TurnStats, ...] = ()       # per turn, on the measuring configuration's turns


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
    `hook(stage, seconds)` hears how long each stage took (benchmarks, run manifests).
    What needs the audio is measured here into a StoredCall; everything that depends on [score]
    comes from speechqa.stored.score_stored, the function `rescore` runs on stored calls."""
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

    transcript = None
    if transcriber is not None:
        speech_by_channel = [t.speech for t in tracks]
        first = CHANNEL_NAMES.index(measure.agent) if measure.agent in CHANNEL_NAMES else first_speaker(speech_by_channel)
        with _stage(hook, "asr"):
            transcript = transcriber.transcribe(samples, sr, speech_by_channel, first_channel=min(first, len(tracks) - 1))

    if len(tracks) == 1:
        return _measure_mono(recording, samples[0], tracks[0], quality, transcript, measure=measure, score=score, hook=hook)
    return _measure_two_party(recording, samples, tracks, quality, transcript, transcriber,
                              measure=measure, score=score, hook=hook)


def _measure_two_party(recording, samples, tracks, quality, transcript, transcriber, *, measure, score, hook) -> Measurement:
    sr = recording.sample_rate_hz
    roles = assign_roles(
        [t.speech for t in tracks],
        agent=measure.agent,
        utterances_by_channel=None if transcript is None else [list(c) for c in transcript.channels],
        # The shipped lexicon only: roles are measured, and [score.lexicon] additions must not
        # change them, or a stored call could not be rescored under new lexicon additions.
        lexicon=None if transcript is None else load_lexicon(transcript.language),
    )
    channel_of = {"agent": roles.agent_channel, "caller": 1 - roles.agent_channel}
    offsets_db = (measure.gain_offset_left_db, measure.gain_offset_right_db)
    speech = {party: tracks[channel_of[party]].speech for party in PARTIES}
    audio = _audio_metrics(samples, sr, tracks, speech, channel_of, offsets_db, hook)
    audio["duration_s"] = recording.duration_s
    language = None if transcript is None else transcript.language
    utterances = ()
    if transcript is not None:
        with _stage(hook, "words"):
            # Masked before any word metric: the stored words are the masked ones, and a rescore
            # must count what a fresh measurement counts.
            utterances = mask_utterances(
                _party_utterances(transcript, channel_of, samples, sr, speech, transcriber, measure), options=measure.pii
            )
    # Turn statistics and pair levels need the audio, so they are measured on the turns of the
    # measuring [score.timing]; score_stored derives those same turns again below.
    with _stage(hook, "timeline"):
        turns = analyse_conversation(speech, options=score.timing).turns
    turn_stats = _turn_stats(samples, sr, turns, tracks, speech, channel_of, offsets_db, utterances,
                             language=language, hook=hook)
    stored = StoredCall(audio_metrics=audio, speech=speech, mono=False, language=language,
                        utterances=utterances, level_pairs=tuple(_level_pairs(turn_stats)))
    with _stage(hook, "score"):
        derived = score_stored(stored, score=score)
    quality["snr_db"] = audio["snr_db"]
    if transcript is not None:
        quality["asr_confidence"] = derived.metrics["asr_confidence"]
    return _measurement(recording, roles, quality, stored, derived, transcript, turn_stats)


def _measurement(recording, roles, quality, stored, derived, transcript, turn_stats=()) -> Measurement:
    return Measurement(
        duration_s=recording.duration_s,
        roles=roles,
        quality=quality,
        metrics=derived.metrics,
        unmeasured=derived.unmeasured,
        speech=stored.speech,
        turns=derived.turns,
        turn_pairs=stored.level_pairs,
        events=derived.events,
        evidence=derived.evidence,
        stored=stored,
        language=stored.language,
        language_method=None if transcript is None else transcript.method,
        utterances=stored.utterances,
        notes=derived.notes,
        turn_stats=tuple(turn_stats),
    )


def _audio_metrics(samples, sr, tracks, speech, channel_of, offsets_db, hook) -> dict:
    """Loudness and pitch of each party over its own speech, gain offsets applied; the level
    match and the SNR from them (speechqa.stored.AUDIO_METRIC_NAMES but duration_s)."""
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
    if values["agent_level_dbfs"] is not None and values["caller_level_dbfs"] is not None:
        values["level_diff_db"] = values["agent_level_dbfs"] - values["caller_level_dbfs"]
    values["snr_db"] = _snr_db(values)
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
    recording: Recording, signal: np.ndarray, track: ChannelTracks, quality: dict, transcript, *,
    measure: MeasureConfig, score: ScoreConfig, hook: StageHook,
) -> Measurement:
    level = active_speech_level(signal, recording.sample_rate_hz, segments=track.speech).level_dbfs
    snr_db = None if level is None or track.noise_floor_dbfs is None else level - track.noise_floor_dbfs
    stored = StoredCall(
        audio_metrics={"duration_s": recording.duration_s, "snr_db": snr_db},
        speech={"call": track.speech},
        mono=True,
        language=None if transcript is None else transcript.language,
        utterances=() if transcript is None else mask_utterances(transcript.channels[0], options=measure.pii),
    )
    with _stage(hook, "score"):
        derived = score_stored(stored, score=score)
    quality["snr_db"] = snr_db
    if transcript is not None:
        quality["asr_confidence"] = derived.metrics["asr_confidence"]
    roles = Roles(
        agent_channel=None,
        method="mono",
        evidence="two channels carrying one signal (dual mono)" if quality["dual_mono"] else "one channel",
    )
    return _measurement(recording, roles, quality, stored, derived, transcript)


def _turn_stats(samples, sr, turns, tracks, speech, channel_of, offsets_db, utterances, *, language, hook) -> list[TurnStats]:
    """Level, median F0 and (with a transcript) words and articulation rate of each turn."""
    words = [None] * len(turns)
    if language is not None:
        with _stage(hook, "words"):
            words = turn_words(turns, list(utterances), speech, language=language)
    stats = []
    for turn, said in zip(turns, words):
        ch = channel_of[turn.party]
        level = None
        if turn.duration_s >= PER_TURN_LEVEL_MIN_S:
            with _stage(hook, "loudness"):
                a, b = int(turn.start_s * sr), int(turn.end_s * sr)
                level = active_speech_level(samples[ch, a:b], sr).level_dbfs
        with _stage(hook, "pitch"):
            f0 = _turn_f0_median_hz(tracks[ch].pitch, turn, speech[turn.party])
        stats.append(TurnStats(
            party=turn.party, start_s=turn.start_s, end_s=turn.end_s,
            level_dbfs=None if level is None else level + offsets_db[ch],
            f0_median_hz=f0,
            articulation_syll_per_s=None if said is None else said.articulation_syll_per_s,
            words=None if said is None else said.words,
        ))
    return stats


def _turn_f0_median_hz(track: PitchTrack, turn: Turn, speech: np.ndarray) -> float | None:
    """Median F0 over the party's speech inside the turn. The track is cut to the turn first
    (frame i of the cut is frame first + i of the track): pitch_stats then reads only its frames."""
    first = max(int(np.floor(turn.start_s / track.hop_s)), 0)
    stop = int(np.ceil(turn.end_s / track.hop_s)) + 1
    near = speech[(speech[:, 1] > turn.start_s) & (speech[:, 0] < turn.end_s)]
    inside = np.clip(near, turn.start_s, turn.end_s) - first * track.hop_s   # sorted, disjoint: clip = intersect
    piece = PitchTrack(f0_hz=track.f0_hz[first:stop], hop_s=track.hop_s)
    return pitch_stats(piece, segments=inside, min_voiced_s=PER_TURN_MIN_VOICED_S).median_hz


def _level_pairs(turn_stats: list[TurnStats]) -> list[LevelPair]:
    """Each caller turn answered by the next turn, an agent's, both with a P.56 level (>= 1 s)."""
    pairs = []
    for caller, agent in zip(turn_stats, turn_stats[1:]):
        if (caller.party, agent.party) != ("caller", "agent"):
            continue
        if caller.level_dbfs is not None and agent.level_dbfs is not None:
            pairs.append(LevelPair(caller.start_s, caller.end_s, agent.start_s, agent.end_s,
                                   agent.level_dbfs - caller.level_dbfs))
    return pairs


def _snr_db(values: dict) -> float | None:
    snrs = [
        values[f"{p}_level_dbfs"] - values[f"{p}_noise_floor_dbfs"]
        for p in PARTIES
        if values.get(f"{p}_level_dbfs") is not None and values.get(f"{p}_noise_floor_dbfs") is not None
    ]
    return min(snrs) if snrs else None
