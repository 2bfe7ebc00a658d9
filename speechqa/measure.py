"""Measure one call: a Recording in, what its audio says out, under [measure] only.

Per channel, each frame track (VAD, pitch) is computed once; every per-party figure is a
statistic over those tracks restricted to that party's speech. The samples are read a block at
a time (a recording from speechqa.audio holds them in a temporary file, speechqa.sample_file),
so a call's memory does not grow with its length; only the frame tracks are whole. A Measurement holds measured data
only: the quality flags, the speech timelines, the measured turns with each turn's level, F0 and
words, the caller->agent level pairs, the per-party audio figures and the (PII-masked) words.
Nothing here reads [score]: speechqa.derive turns a Measurement into metrics under [score], and
speechqa.judge turns metrics into verdicts, at measure time and at `rescore` time alike.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np

from speechqa.audio import Recording, require_signal
from speechqa.config import MeasureConfig
from speechqa.errors import SpeechQAError
from speechqa.features.emphasis import word_acoustics
from speechqa.features.loudness import active_speech_level, integrated_loudness
from speechqa.features.pitch import PitchTrack, pitch_stats, track_pitch
from speechqa.features.vad import detect_speech_with_floor, load_vad_model
from speechqa.lexicon import load_lexicon
from speechqa.diarize import Diarization, diarize, split_by_speaker
from speechqa.names import AUTO, CALL, CHANNELS, PARTIES
from speechqa.pii import PLACEHOLDERS, mask_utterances
from speechqa.quality import Quality, channel_correlation, clipping_share, high_band_share, leak_intervals
from speechqa.roles import Roles, assign_roles, first_speaker, is_outbound
from speechqa.sample_file import SampleFile
from speechqa.stages import StageHook, no_hook, timed
from speechqa.timeline import Event, Turn, bridge_gaps, find_turns, subtract, total_s
from speechqa.transcript import Utterance
from speechqa.words import mean_word_probability, turn_words

log = logging.getLogger("speechqa")

PER_TURN_LEVEL_MIN_S = 1.0    # criteria.md: per-turn levels use P.56 over turns of 1 s or more
PER_TURN_MIN_VOICED_S = 0.5   # a turn's median F0 needs this much voiced speech (50 frames)

# The metrics measured from the samples, stored as measured. Per party: P.56 level, BS.1770
# loudness and noise floor (gain offsets applied to the first two), pitch over the party's speech
# and the voiced time it rests on. A mono call has MONO_AUDIO_METRIC_NAMES only.
_PARTY_AUDIO = ("level_dbfs", "loudness_lufs", "noise_floor_dbfs", "f0_median_hz", "f0_sd_st", "f0_range_st", "voiced_s")
MONO_AUDIO_METRIC_NAMES: tuple[str, ...] = (
    "duration_s",
    "snr_db",          # speech level over noise floor, the worse channel (mono: the one channel)
)
AUDIO_METRIC_NAMES: tuple[str, ...] = (
    *MONO_AUDIO_METRIC_NAMES,
    "level_diff_db",   # agent - caller level: a difference of two audio metrics
    *(f"{party}_{name}" for party in PARTIES for name in _PARTY_AUDIO),
)


@dataclass(frozen=True)
class ChannelTracks:
    """What is computed once per channel and reused by every statistic."""

    speech: np.ndarray        # bridged speech intervals (s), leak removed
    leaked_s: float           # speech removed as the other channel's leak
    noise_floor_dbfs: float | None
    pitch: PitchTrack


@dataclass(frozen=True)
class TurnStats:
    """A measured turn ([measure.turns]) and what its audio and words say."""

    party: str
    start_s: float
    end_s: float
    level_dbfs: float | None               # P.56 over the turn on its channel, gain offset applied; None under 1 s
    f0_median_hz: float | None             # median F0 of the party's speech in the turn; None under 0.5 s voiced
    articulation_syll_per_s: float | None  # syllables per second of the party's speech in the turn; None without ASR
    words: int | None                      # the turn's words (speechqa.rate's assignment); None without ASR

    @property
    def turn(self) -> Turn:
        return Turn(self.party, self.start_s, self.end_s)


@dataclass(frozen=True)
class LevelPair:
    """A caller turn answered by an agent turn (both >= 1 s) and the loudness match of that
    exchange: agent - caller P.56 level over each whole turn (dB), gain offsets applied.
    Times in seconds from the start of the recording."""

    caller_start_s: float
    caller_end_s: float
    agent_start_s: float
    agent_end_s: float
    level_diff_db: float


@dataclass(frozen=True, eq=False)   # eq=False: numpy arrays have no single truth value
class Measurement:
    """What the audio of a call says under [measure]; all of it but `pitch` is stored as rows.

    mono: one channel of speech (one channel, or dual mono): no channel is a party's.
    diarized: the parties of a mono call were split by diarization (not available yet), so
        the per-party figures exist although `mono` is true.
    audio_metrics: name -> value for AUDIO_METRIC_NAMES (MONO_AUDIO_METRIC_NAMES unless split
        into parties); None when unmeasured.
    speech: party ("agent", "caller"; "call" when not split) -> (n, 2) float64 [start_s, end_s]
        rows: that party's speech, crosstalk removed, gaps < bridge_gap_s bridged.
    turns: the turns under [measure.turns], each with its measured statistics; backchannels:
        the short speech inside the other's turn that find_turns set aside.
    level_pairs: caller->agent turn pairs, both turns >= 1 s, and their level differences.
    language: the transcript's language ("ru", "en"); None when the call was not transcribed
        ([measure.asr] off), which leaves the word metrics unmeasured. With a language the word
        metrics are measured, from `utterances` even when there are none (0 words).
    utterances: what was said, PII-masked as configured, with words and their times (s).
    pitch: party -> its channel's F0 track (not stored: empty when read back from a warehouse).
    """

    duration_s: float
    roles: Roles
    quality: Quality
    audio_metrics: dict[str, float | int | None]
    speech: dict[str, np.ndarray]
    mono: bool
    diarized: bool = False
    turns: tuple[TurnStats, ...] = ()
    backchannels: tuple[Event, ...] = ()
    level_pairs: tuple[LevelPair, ...] = ()
    language: str | None = None
    language_method: str | None = None       # "config" or "detected"
    utterances: tuple[Utterance, ...] = ()
    pitch: dict[str, PitchTrack] = field(default_factory=dict)

    def __post_init__(self):
        if self.diarized and not self.mono:
            raise ValueError("diarized is for mono calls: a stereo call's parties come from its channels")
        names = AUDIO_METRIC_NAMES if self.split else MONO_AUDIO_METRIC_NAMES
        unknown, missing = sorted(set(self.audio_metrics) - set(names)), sorted(set(names) - set(self.audio_metrics))
        if unknown or missing:
            raise ValueError(f"audio_metrics {unknown} are not measured from audio for this call, {missing} are "
                             f"missing; give exactly speechqa.measure.{'AUDIO' if self.split else 'MONO_AUDIO'}"
                             "_METRIC_NAMES (None for unmeasured)")
        parties = set(PARTIES) if self.split else {CALL}
        if set(self.speech) != parties:
            raise ValueError(f"speech has parties {sorted(self.speech)}; this call needs exactly {sorted(parties)}")
        object.__setattr__(self, "speech", {p: _intervals(v, party=p) for p, v in self.speech.items()})
        if self.language is None and self.utterances:
            raise ValueError("utterances given without their language; a transcribed call has one ('ru', 'en')")
        if not self.split and (self.turns or self.level_pairs or self.backchannels):
            raise ValueError("a call not split into parties has no turns, backchannels or level pairs")

    @property
    def split(self) -> bool:
        """Whether the call's speech is split into agent and caller (channels or diarization)."""
        return not self.mono or self.diarized

    @property
    def transcribed(self) -> bool:
        """Whether speech recognition ran on the call (its words are measured, maybe none)."""
        return self.language is not None

    @property
    def plain_turns(self) -> tuple[Turn, ...]:
        return tuple(t.turn for t in self.turns)


def measure_call(
    recording: Recording,
    *,
    measure: MeasureConfig,
    transcriber=None,
    hook: StageHook = no_hook,
    direction: str | None = None,
) -> Measurement:
    """What the audio of one call says. Raises SpeechQAError(no_speech) when nobody speaks.
    `transcriber` (a speechqa.asr.Transcriber, or None for no words) transcribes each channel;
    `hook(stage, seconds)` hears how long each stage took (benchmarks, run manifests);
    `direction`: the call's direction from its metadata ("outbound": the agent dialled), which
    decides the roles when the words do not."""
    require_signal(recording)
    samples, sr = recording.samples, recording.sample_rate_hz
    with timed(hook, "quality"):
        flags = _recording_flags(recording, options=measure.quality)
    if flags["dual_mono"]:
        samples = samples.mixed() if isinstance(samples, SampleFile) else samples.mean(axis=0, keepdims=True)

    tracks = _channel_tracks(samples, sr, measure=measure, hook=hook)
    if all(len(t.speech) == 0 for t in tracks):
        raise SpeechQAError(
            f"{recording.path}: no speech found in any channel (signal present, but nothing the VAD "
            "calls speech: music, tones or noise only?)",
            error_type="no_speech",
        )
    flags["crosstalk_s"] = sum(t.leaked_s for t in tracks)
    flags["crosstalk"] = flags["crosstalk_s"] > 0

    transcript = None
    if transcriber is not None:
        speech_by_channel = [t.speech for t in tracks]
        first = CHANNELS.index(measure.agent) if measure.agent in CHANNELS else first_speaker(speech_by_channel)
        with timed(hook, "asr"):
            transcript = transcriber.transcribe(samples, sr, speech_by_channel, first_channel=min(first, len(tracks) - 1))

    if len(tracks) == 1:
        diarization = _diarize(samples[0], sr, tracks[0], measure=measure, hook=hook)
        if diarization is not None and diarization.speakers == 2:
            return _measure_diarized(recording, samples, tracks, flags, transcript, transcriber, diarization,
                                     measure=measure, hook=hook, direction=direction)
        return _measure_mono(recording, samples[0], tracks[0], flags, transcript, measure=measure,
                             speakers=None if diarization is None else diarization.speakers)
    return _measure_two_party(recording, samples, tracks, flags, transcript, transcriber, measure=measure, hook=hook,
                              direction=direction)


def _measure_two_party(recording, samples, tracks, flags, transcript, transcriber, *, measure, hook, direction) -> Measurement:
    roles = assign_roles(
        [t.speech for t in tracks],
        agent=measure.agent,
        utterances_by_channel=None if transcript is None else [list(c) for c in transcript.channels],
        # The shipped lexicon only: roles are measured, and [score.lexicon] additions must not change them.
        lexicon=None if transcript is None else load_lexicon(transcript.language),
        direction=direction,
    )
    agent = CHANNELS.index(roles.agent_channel)
    channel_of = dict(zip(PARTIES, (agent, 1 - agent)))
    speech = {party: tracks[channel_of[party]].speech for party in PARTIES}
    said = None if transcript is None else {party: transcript.channels[channel_of[party]] for party in PARTIES}
    return _measure_parties(recording, samples, tracks, flags, roles=roles, channel_of=channel_of, speech=speech,
                            said=said, transcript=transcript, transcriber=transcriber, measure=measure, hook=hook)


def _measure_diarized(recording, samples, tracks, flags, transcript, transcriber, diarization, *, measure, hook,
                      direction) -> Measurement:
    """A mono call split into two speakers: the agent found among them as among two channels
    (the words first, then who speaks first), every per-party figure from its speaker's regions
    of the one channel, each word given to the speaker whose speech holds its middle."""
    by_speaker = None if transcript is None else split_by_speaker(transcript.channels[0], diarization.speech)
    found = assign_roles(
        list(diarization.speech),
        agent=AUTO,   # no channel is a party's: [measure] agent = left/right says nothing here
        utterances_by_channel=by_speaker,
        lexicon=None if transcript is None else load_lexicon(transcript.language),
    )
    if found.method == "transcript":
        agent = CHANNELS.index(found.agent_channel)
        how = f"the words: {found.evidence} (left = speaker 1, right = speaker 2)"
    elif is_outbound(direction):
        agent, how = 1, f"the direction: an outbound call ({direction!r}), where the called party answers first"
    else:   # who opens the call, as diarize ordered the speakers
        agent, how = 0, "opening the call (most of its first stretch of speech)"
    speaker_of = dict(zip(PARTIES, (agent, 1 - agent)))
    roles = Roles(None, "diarized", f"two speakers in one channel; speaker {agent + 1} is the agent by {how}")
    speech = {party: diarization.speech[speaker_of[party]] for party in PARTIES}
    said = None if by_speaker is None else {party: by_speaker[speaker_of[party]] for party in PARTIES}
    return _measure_parties(recording, samples, tracks, flags, roles=roles, channel_of={p: 0 for p in PARTIES},
                            speech=speech, said=said, transcript=transcript, transcriber=transcriber, measure=measure,
                            hook=hook, diarization=diarization)


def _measure_parties(recording, samples, tracks, flags, *, roles, channel_of, speech, said, transcript, transcriber,
                     measure, hook, diarization=None) -> Measurement:
    """Everything per party, once each party's channel, speech and utterances are known."""
    sr = recording.sample_rate_hz
    offsets_db = (measure.gain_offset_left_db, measure.gain_offset_right_db)
    audio = _audio_metrics(samples, sr, tracks, speech, channel_of, offsets_db, hook)
    audio["duration_s"] = recording.duration_s
    language = None if transcript is None else transcript.language
    utterances = ()
    if transcript is not None:
        with timed(hook, "words"):
            # Masked before any word is counted: the stored words are the masked ones, and a
            # rescore must count what a fresh measurement counts.
            utterances = tuple(mask_utterances(
                _party_utterances(said, transcript, channel_of, samples, sr, speech, transcriber, measure), options=measure.pii
            ))
            utterances = _with_word_acoustics(utterances, samples, sr, tracks, channel_of, offsets_db)
    with timed(hook, "timeline"):
        turns, backchannels = find_turns(speech, options=measure.turns)
    if diarization is not None:
        backchannels = []   # short speech over the other's turn: in one channel it cannot be told apart
    turn_stats = _turn_stats(samples, sr, turns, tracks, speech, channel_of, offsets_db, utterances,
                             language=language, hook=hook)
    quality = Quality(**flags, snr_db=audio["snr_db"],
                      asr_confidence=None if transcript is None else mean_word_probability(utterances),
                      speakers=None if diarization is None else diarization.speakers,
                      diarization_confidence=None if diarization is None else diarization.confidence)
    return Measurement(
        duration_s=recording.duration_s, roles=roles, quality=quality, audio_metrics=audio, speech=speech,
        mono=diarization is not None, diarized=diarization is not None, turns=tuple(turn_stats),
        backchannels=tuple(backchannels), level_pairs=tuple(_level_pairs(turn_stats)), language=language,
        language_method=None if transcript is None else transcript.method, utterances=utterances,
        pitch={party: tracks[channel_of[party]].pitch for party in PARTIES},
    )


def _diarize(signal: np.ndarray, sr: int, track: ChannelTracks, *, measure: MeasureConfig, hook: StageHook) -> Diarization | None:
    """The mono channel's speakers, or None when diarization is off."""
    options = measure.diarize
    if not options.enabled:
        return None
    from speechqa.features.segmentation import load_segmentation_model, speakers_heard
    from speechqa.features.speaker import load_speaker_model, speaker_embeddings

    threads = max(1, measure.asr.threads)   # the call's engine threads
    with timed(hook, "diarize"):
        model = load_speaker_model(options.model or None, threads=threads)
        return diarize(track.speech, embed=lambda windows: speaker_embeddings(signal, sr, windows, model=model),
                       options=options, bridge_gap_s=measure.bridge_gap_s,
                       hear=lambda starts, chunk_s: speakers_heard(signal, sr, starts, chunk_s=chunk_s,
                                                                   model=load_segmentation_model(threads=threads)))


def _measure_mono(recording: Recording, signal: np.ndarray, track: ChannelTracks, flags: dict, transcript, *,
                  measure: MeasureConfig, speakers: int | None) -> Measurement:
    level = active_speech_level(signal, recording.sample_rate_hz, segments=track.speech).level_dbfs
    snr_db = None if level is None or track.noise_floor_dbfs is None else level - track.noise_floor_dbfs
    utterances = () if transcript is None else tuple(mask_utterances(transcript.channels[0], options=measure.pii))
    kind = "two channels carrying one signal (dual mono)" if flags["dual_mono"] else "one channel"
    roles = Roles(agent_channel=None, method="mono",
                  evidence=kind + (", one speaker" if speakers == 1 else ""))
    quality = Quality(**flags, snr_db=snr_db,
                      asr_confidence=None if transcript is None else mean_word_probability(utterances),
                      speakers=speakers, diarization_confidence=None)
    return Measurement(
        duration_s=recording.duration_s, roles=roles, quality=quality,
        audio_metrics={"duration_s": recording.duration_s, "snr_db": snr_db}, speech={CALL: track.speech},
        mono=True, language=None if transcript is None else transcript.language,
        language_method=None if transcript is None else transcript.method, utterances=utterances,
        pitch={CALL: track.pitch},
    )


def _audio_metrics(samples, sr, tracks, speech, channel_of, offsets_db, hook) -> dict:
    """Loudness and pitch of each party over its own speech, gain offsets applied; the level
    match and the SNR from them (AUDIO_METRIC_NAMES but duration_s)."""
    values = {}
    for party in PARTIES:
        ch = channel_of[party]
        signal, track = samples[ch], tracks[ch]
        with timed(hook, "loudness"):
            level = active_speech_level(signal, sr, segments=speech[party]).level_dbfs
            lufs = integrated_loudness(signal, sr, segments=speech[party])
        with timed(hook, "pitch"):
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
    agent, caller = values["agent_level_dbfs"], values["caller_level_dbfs"]
    values["level_diff_db"] = None if agent is None or caller is None else agent - caller
    values["snr_db"] = _snr_db(values)
    return values


def _party_utterances(said, transcript, channel_of, samples, sr, speech, transcriber, measure) -> list[Utterance]:
    """Each party's utterances (`said`: party -> what was recognised in its speech) under its
    name; a party with its own language in the configuration is transcribed again in that
    language, over its own speech."""
    utterances = []
    for party in PARTIES:
        language = getattr(measure.asr, f"{party}_language") or transcript.language
        if language != transcript.language:
            utterances += transcriber.transcribe_channel(samples[channel_of[party]], sr, speech[party], party=party,
                                                         language=language)
        else:
            utterances += [dataclasses.replace(u, party=party) for u in said[party]]
    return sorted(utterances, key=lambda u: u.start_s)


def _with_word_acoustics(utterances, samples, sr, tracks, channel_of, offsets_db) -> tuple[Utterance, ...]:
    """Each word with its F0 peak and peak level from its party's channel (gain offset applied),
    for emphasis (speechqa.features.emphasis). A masked placeholder gets none: its time spans
    several words."""
    out = []
    for u in utterances:
        ch = channel_of[u.party]
        found = word_acoustics(samples[ch], sr, tracks[ch].pitch, [w.start_s for w in u.words], [w.end_s for w in u.words])
        words = tuple(
            w if any(ph in w.text for ph in PLACEHOLDERS.values()) else dataclasses.replace(
                w, f0_peak_hz=float(f0) if np.isfinite(f0) else None,
                level_dbfs=float(level) + offsets_db[ch] if np.isfinite(level) else None)
            for w, f0, level in zip(u.words, found.f0_peak_hz, found.level_dbfs)
        )
        out.append(dataclasses.replace(u, words=words))
    return tuple(out)


def _recording_flags(recording: Recording, *, options) -> dict:
    """The quality flags that need only the samples (Quality's fields up to crosstalk)."""
    samples, sr = recording.samples, recording.sample_rate_hz
    # Counted by the reader before it removed DC (an offset moves a clipped plateau off full
    # scale); a Recording made in memory is counted here.
    share = recording.clipping_share if recording.clipping_share is not None else max(clipping_share(ch) for ch in samples)
    flags = {
        "narrowband": recording.source_sample_rate_hz <= 8000
        or max(high_band_share(ch, sr) for ch in samples) < options.narrowband_max_share,
        "clipping": share >= options.clipping_share,
        "clipping_share": share,
        "truncated": recording.truncated,
        "dual_mono": False,
        "channel_correlation": None,
    }
    if recording.channels == 2:
        corr = channel_correlation(samples[0], samples[1])
        flags["channel_correlation"] = corr
        flags["dual_mono"] = corr >= options.dual_mono_correlation
    return flags


def _channel_tracks(samples: np.ndarray, sr: int, *, measure: MeasureConfig, hook: StageHook) -> list[ChannelTracks]:
    with timed(hook, "vad"):
        found = detect_speech_with_floor(samples, sr, model=load_vad_model(), options=measure.vad)
        raw = [c.intervals_s for c in found]
        speech = [bridge_gaps(r, max_gap_s=measure.bridge_gap_s) for r in raw]
    leaks = [np.zeros((0, 2)) for _ in speech]
    if len(speech) == 2:
        with timed(hook, "crosstalk"):
            for ch in (0, 1):
                leaks[ch] = leak_intervals(samples[ch], samples[1 - ch], speech[ch], sr, options=measure.quality)
    tracks = []
    p = measure.pitch
    for ch, signal in enumerate(samples):
        with timed(hook, "pitch"):
            pitch = track_pitch(signal, sr, fmin_hz=p.fmin_hz, fmax_hz=p.fmax_hz, hop_s=p.hop_s)
        tracks.append(
            ChannelTracks(
                # Leak comes out of the raw VAD output, before bridging: else the bridged pauses of
                # the leaked speech would stay behind as speech of their own.
                speech=bridge_gaps(
                    subtract(raw[ch], leaks[ch], min_s=measure.vad.min_speech_s), max_gap_s=measure.bridge_gap_s
                ),
                leaked_s=total_s(leaks[ch]),
                noise_floor_dbfs=found[ch].noise_floor_dbfs,   # the VAD gate's floor: one floor for both
                pitch=pitch,
            )
        )
    return tracks


def _turn_stats(samples, sr, turns, tracks, speech, channel_of, offsets_db, utterances, *, language, hook) -> list[TurnStats]:
    """Level, median F0 and (with a transcript) words and articulation rate of each turn."""
    words = [None] * len(turns)
    if language is not None:
        with timed(hook, "words"):
            words = turn_words(turns, list(utterances), speech, language=language)
    stats = []
    for turn, said in zip(turns, words):
        ch = channel_of[turn.party]
        level = None
        if turn.duration_s >= PER_TURN_LEVEL_MIN_S:
            with timed(hook, "loudness"):
                a, b = int(turn.start_s * sr), int(turn.end_s * sr)
                level = active_speech_level(samples[ch, a:b], sr).level_dbfs
        with timed(hook, "pitch"):
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
        if (agent.party, caller.party) != PARTIES:
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


def _intervals(value, *, party: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"speech[{party!r}] has shape {array.shape}; give (n, 2) rows of [start_s, end_s]")
    return array
