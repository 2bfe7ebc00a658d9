"""Metrics from what was said: word counts, speaking rate and its match, the script criteria.

Reads utterances (already assigned to parties), the turns and the timing events; no audio.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from speechqa.config import ScoreConfig
from speechqa.lexicon import load_lexicon
from speechqa.rate import rate_metrics
from speechqa.script import script_metrics
from speechqa.timeline import PARTIES, Event, Turn
from speechqa.transcript import Utterance


@dataclasses.dataclass(frozen=True)
class WordResult:
    metrics: dict[str, float | int | None]
    evidence: dict[str, list[tuple[float, float]]]
    notes: dict[str, str]


def word_metrics(
    utterances: list[Utterance],
    turns: tuple[Turn, ...],
    events: tuple[Event, ...],
    speech: dict[str, np.ndarray],
    *,
    language: str,
    level_pairs: list[tuple[float, float]],
    score: ScoreConfig,
) -> WordResult:
    """Every word metric of a two-party call. `level_pairs`: (agent turn start, level diff)."""
    words = {party: [w for u in utterances if u.party == party for w in u.words] for party in PARTIES}
    all_words = [w for party in PARTIES for w in words[party]]
    metrics: dict[str, float | int | None] = {f"{p}_words": len(words[p]) for p in PARTIES}
    metrics["words_total"] = len(all_words)
    metrics["asr_confidence"] = float(np.mean([w.probability for w in all_words])) if all_words else None
    metrics.update(
        rate_metrics(
            list(turns), words, speech, language=language, level_pairs=level_pairs,
            min_speech_s=score.rate.min_speech_s, min_pair_words=score.rate.min_pair_words,
        )
    )
    lexicon = load_lexicon(language, extra=score.lexicon.get(language))
    script = script_metrics(
        sorted(utterances, key=lambda u: u.start_s), list(turns), list(events), lexicon=lexicon, options=score.script
    )
    metrics.update(script.metrics)
    return WordResult(metrics=metrics, evidence=script.evidence, notes=script.notes)


def call_word_metrics(utterances: list[Utterance]) -> dict[str, float | int | None]:
    """What a mono call's words tell without parties: how many, and how sure the recogniser is."""
    all_words = [w for u in utterances for w in u.words]
    return {
        "words_total": len(all_words),
        "asr_confidence": float(np.mean([w.probability for w in all_words])) if all_words else None,
    }
