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

from speechqa.lexicon import load_lexicon
from speechqa.names import PARTIES
from speechqa.options import RateOptions, ScriptOptions
from speechqa.pii import PLACEHOLDERS
from speechqa.rate import RATE_METRICS, assign_words, party_rate, rate_metrics
from speechqa.script import METRICS as SCRIPT_METRICS
from speechqa.script import script_metrics
from speechqa.timeline import Event, Turn, subtract
from speechqa.transcript import Utterance, Word

# What each function here produces (speechqa.metrics checks that they all come).
CALL_WORD_METRICS = ("words_total", "asr_confidence")
COUNT_METRICS = (*(f"{p}_words" for p in PARTIES), *CALL_WORD_METRICS)
WORD_METRICS = (*COUNT_METRICS, *RATE_METRICS, *SCRIPT_METRICS)


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
    rate: RateOptions,
    script: ScriptOptions,
    lexicon_additions: dict[str, dict[str, tuple[str, ...]]],
) -> WordResult:
    """Every word metric of a two-party call (WORD_METRICS). `lexicon_additions`: [score.lexicon],
    {language: {category: phrases}} added to the shipped lexicons."""
    words = {party: [w for u in utterances if u.party == party for w in u.words] for party in PARTIES}
    metrics: dict[str, float | int | None] = {f"{p}_words": len(words[p]) for p in PARTIES}
    metrics.update(call_word_metrics(utterances))
    known_words, known_speech, known_turns = without_masked(words, speech, turns)
    metrics.update(
        rate_metrics(
            known_turns, known_words, known_speech, language=language,
            min_speech_s=rate.min_speech_s, min_pair_words=rate.min_pair_words,
        )
    )
    lexicon = load_lexicon(language, extra=lexicon_additions.get(language))
    said = script_metrics(
        sorted(utterances, key=lambda u: u.start_s), list(turns), list(events), lexicon=lexicon, options=script
    )
    metrics.update(said.metrics)
    return WordResult(metrics=metrics, evidence=said.evidence, notes=said.notes)


def call_word_metrics(utterances: list[Utterance] | tuple[Utterance, ...]) -> dict[str, float | int | None]:
    """What a call's words tell without parties (CALL_WORD_METRICS): how many, and how sure the
    recogniser is."""
    return {
        "words_total": sum(len(u.words) for u in utterances),
        "asr_confidence": mean_word_probability(utterances),
    }


def mean_word_probability(utterances) -> float | None:
    """The recogniser's mean probability over the words of `utterances`; None without words."""
    probabilities = [w.probability for u in utterances for w in u.words]
    return float(np.mean(probabilities)) if probabilities else None


@dataclasses.dataclass(frozen=True)
class TurnWords:
    words: int                               # the turn's words (speechqa.rate's assignment), masked ones included
    articulation_syll_per_s: float | None    # syllables per second of the party's speech in the turn, masked left out


def turn_words(
    turns: list[Turn], utterances: list[Utterance], speech: dict[str, np.ndarray], *, language: str
) -> list[TurnWords]:
    """Words and articulation rate of each turn, by speechqa.rate's definitions with no minimum
    speech time (a turn is short; its caller decides what is enough)."""
    words = {party: [w for u in utterances if u.party == party for w in u.words] for party in PARTIES}
    known_words, known_speech, _ = without_masked(words, speech, ())
    found: dict[Turn, TurnWords] = {}
    for party in PARTIES:
        own = [t for t in turns if t.party == party]
        every, known = assign_words(words[party], own), assign_words(known_words[party], own)
        for turn, said, heard in zip(own, every, known):
            rate = party_rate(heard, [turn], _overlapping(known_speech[party], turn), language=language, min_speech_s=0.0)
            found[turn] = TurnWords(words=len(said), articulation_syll_per_s=rate.articulation_syll_per_s)
    return [found[turn] for turn in turns]


def is_masked(word: Word) -> bool:
    """Whether PII masking replaced (some of) what the word said."""
    return any(placeholder in word.text for placeholder in _PLACEHOLDERS)


_PLACEHOLDERS = tuple(PLACEHOLDERS.values())


def without_masked(words: dict[str, list[Word]], speech: dict[str, np.ndarray], turns) -> tuple[dict, dict, list[Turn]]:
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


def _overlapping(speech: np.ndarray, turn: Turn) -> np.ndarray:
    speech = np.asarray(speech, dtype=float).reshape(-1, 2)
    return speech[(speech[:, 1] > turn.start_s) & (speech[:, 0] < turn.end_s)]
