"""What was said: utterances and words with times, per party. Types only; speechqa.asr makes
them, and the rate, script and PII modules read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    text: str            # as recognised, with its punctuation
    start_s: float
    end_s: float
    probability: float   # the recogniser's confidence, 0..1
    # Measured from the audio under the word's time (speechqa.features.emphasis); None when not
    # measured (no audio, too few voiced frames, a masked placeholder).
    f0_peak_hz: float | None = None
    level_dbfs: float | None = None


@dataclass(frozen=True)
class Utterance:
    party: str           # "agent" or "caller" ("call" for a mono recording)
    start_s: float
    end_s: float
    text: str
    avg_logprob: float   # the recogniser's mean log-probability per token
    language: str        # ISO 639-1, e.g. "ru", "en"
    words: tuple[Word, ...] = ()
