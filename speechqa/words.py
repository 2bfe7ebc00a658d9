"""Metrics from what was said: word counts, speaking rate and its match, the script criteria.

Reads utterances (already assigned to parties and PII-masked, as stored), the turns and the
timing events; no audio.

Masked words. PII masking (speechqa.pii) turns the words of a match into one placeholder word
("[CARD]", "[NUMBER]", ...) spanning their time: a dictated card number is one word of several
seconds. It counts as one word in the word counts. The rates leave it out, with its time: what
was said there is no longer known, and counting its seconds with none of its syllables would
read a caller who dictates a number as speaking at half their pace. So for the rates a masked
word is removed from the words, its time from the party's speech (articulation time) and from
its turns (speaking time; a turn with a masked stretch inside becomes two pieces, so a caller->
agent rate pair takes the piece next to the turn change).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from speechqa.config import ScoreConfig
from speechqa.lexicon import load_lexicon
from speechqa.pii import PLACEHOLDERS
from speechqa.rate import party_rate, rate_metrics
from speechqa.script import script_metrics
from speechqa.timeline import PARTIES, Event, Turn, subtract
from speechqa.transcript import Utterance, Word


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
    known_words, known_speech, known_turns = _without_masked(words, speech, turns)
    metrics.update(
        rate_metrics(
            known_turns, known_words, known_speech, language=language, level_pairs=level_pairs,
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


@dataclasses.dataclass(frozen=True)
class TurnWords:
    words: int                               # the turn's words (speechqa.rate's assignment), masked ones included
    articulation_syll_per_s: float | None    # syllables per second of the party's speech in the turn, masked left out


def turn_words(
    turns: tuple[Turn, ...], utterances: list[Utterance], speech: dict[str, np.ndarray], *, language: str
) -> list[TurnWords]:
    """Words and articulation rate of each turn, by speechqa.rate's definitions with no minimum
    speech time (a turn is short; its caller decides what is enough)."""
    words = {party: [w for u in utterances if u.party == party for w in u.words] for party in PARTIES}
    known_words, known_speech, _ = _without_masked(words, speech, ())
    every, known = _ByMidpoint(words), _ByMidpoint(known_words)
    out = []
    for turn in turns:
        # party_rate counts the words as the rates do (a token with no letter or digit is none).
        count = party_rate(every.near(turn), [turn], np.zeros((0, 2)), language=language).words
        rate = party_rate(known.near(turn), [turn], _overlapping(known_speech[turn.party], turn),
                          language=language, min_speech_s=0.0)
        out.append(TurnWords(words=count, articulation_syll_per_s=rate.articulation_syll_per_s))
    return out


def is_masked(word: Word) -> bool:
    """Whether PII masking replaced (some of) what the word said."""
    return any(placeholder in word.text for placeholder in _PLACEHOLDERS)


_PLACEHOLDERS = tuple(PLACEHOLDERS.values())


def _without_masked(words: dict[str, list[Word]], speech: dict[str, np.ndarray], turns) -> tuple[dict, dict, list[Turn]]:
    """The words, speech and turns with every masked word and its time taken out."""
    masked = {p: np.array([(w.start_s, w.end_s) for w in words[p] if is_masked(w)]).reshape(-1, 2) for p in PARTIES}
    if not any(len(m) for m in masked.values()):
        return words, speech, list(turns)
    known_words = {p: [w for w in words[p] if not is_masked(w)] for p in PARTIES}
    known_speech = {p: subtract(speech[p], masked[p]) for p in PARTIES}
    known_turns = [
        Turn(turn.party, float(start), float(end))
        for turn in turns
        for start, end in subtract(np.array([[turn.start_s, turn.end_s]]), masked[turn.party])
    ]
    return known_words, known_speech, known_turns


class _ByMidpoint:
    """Each party's words sorted by midpoint, to take a turn's words without scanning them all."""

    def __init__(self, words: dict[str, list[Word]]):
        self.words = {p: sorted(ws, key=_midpoint) for p, ws in words.items()}
        self.mids = {p: np.array([_midpoint(w) for w in ws]) for p, ws in self.words.items()}

    def near(self, turn: Turn) -> list[Word]:
        mids = self.mids[turn.party]
        a, b = np.searchsorted(mids, turn.start_s, side="left"), np.searchsorted(mids, turn.end_s, side="right")
        return self.words[turn.party][a:b]


def _overlapping(speech: np.ndarray, turn: Turn) -> np.ndarray:
    speech = np.asarray(speech, dtype=float).reshape(-1, 2)
    return speech[(speech[:, 1] > turn.start_s) & (speech[:, 0] < turn.end_s)]


def _midpoint(word: Word) -> float:
    return (word.start_s + word.end_s) / 2
