"""Tonality: the sentiment of what each party says, per utterance and per party, from lexicons.

Pure: utterances (speechqa.transcript, PII-masked) in, scores out; no model, no network. A word's
valence comes from a lexicon shipped with speechqa (`speechqa/lexicons/sentiment_<language>.tsv`,
-4 to 4): English, the word entries of the VADER lexicon (Hutto & Gilbert 2014, MIT); Russian, a
list of lemmas written for speechqa on the same scale, matched on pymorphy3 lemmas so that one
entry covers every inflected form. The rules are VADER's, for both languages:

- a negator among the three words before a word flips and damps it (x -0.74): "not bad",
  "не плохо", "без проблем", "no problem"; a Russian word "не..." that the lexicon lacks counts
  as its remainder negated ("неплохо" when only "плохо" is listed);
- an intensifier among the three words before strengthens it by 0.293 (0.95 x that two words
  back, 0.9 x three back), a softener weakens it as much ("very good", "очень плохо");
- after a contrast word ("but", "но", "однако", "зато") words count 1.5 x, before it 0.5 x;
- each "!" (up to four) adds 0.292 in the direction of the sum;
- the sum s becomes the utterance's score s / sqrt(s^2 + 15), in (-1, 1) (VADER's normalisation).

Negators and intensifiers carry no valence of their own here ("no" as an answer is not negative).
Per party, the score of the party's speech is the mean of its utterances' scores weighted by
their words, the trend the mean of its last third of words minus that of its first third, and
the evidence its most negative utterances. The measured accuracy and the limits are in the README
("Tonality").
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from importlib import resources

from speechqa.lexicon import Token, _ru_lemma, tokenise
from speechqa.names import LANGUAGES, PARTIES
from speechqa.options import SentimentOptions
from speechqa.pii import PLACEHOLDERS

SENTIMENT_METRICS = tuple(
    f"{p}_{name}" for p in PARTIES
    for name in ("sentiment_words", "sentiment_mean", "sentiment_trend", "negative_utterances"))

NEGATION_SCALE = -0.74     # VADER's N_SCALAR
BOOST = 0.293              # VADER's B_INCR
BOOST_BY_DISTANCE = (1.0, 0.95, 0.9)
CONTRAST_BEFORE, CONTRAST_AFTER = 0.5, 1.5
EXCLAMATION = 0.292        # per "!", up to four
ALPHA = 15.0               # s / sqrt(s^2 + ALPHA)
WINDOW = 3                 # words before a word that negate or intensify it
_MOST = 5                  # evidence moments per metric

NEGATORS = {
    "en": frozenset({
        "not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "nowhere", "without",
        "cannot", "hardly", "rarely", "seldom", "aint", "dont", "doesnt", "didnt", "isnt", "arent",
        "wasnt", "werent", "cant", "couldnt", "wont", "wouldnt", "shouldnt", "havent", "hasnt", "hadnt",
        "mustnt", "neednt", "nope",
    }),
    "ru": frozenset({"не", "ни", "нет", "никогда", "без", "ничуть", "нисколько", "отнюдь"}),
}
INTENSIFIERS = {
    "en": frozenset({
        "very", "really", "so", "extremely", "absolutely", "completely", "totally", "utterly", "truly",
        "highly", "incredibly", "especially", "particularly", "quite", "thoroughly", "entirely", "deeply",
        "most", "more", "super", "such", "too", "pretty", "awfully", "terribly", "exceptionally", "remarkably",
    }),
    "ru": frozenset({
        "очень", "совсем", "совершенно", "крайне", "абсолютно", "так", "такой", "настолько", "весьма",
        "сильно", "слишком", "чрезвычайно", "невероятно", "огромный", "большой", "просто", "вообще",
        "полностью", "абсолютный", "самый", "безумно", "жутко", "страшно",
    }),
}
SOFTENERS = {
    "en": frozenset({"slightly", "somewhat", "barely", "little", "partly", "kinda", "sorta", "marginally", "fairly"}),
    "ru": frozenset({"немного", "немножко", "чуть", "чуть-чуть", "слегка", "отчасти", "несколько", "довольно"}),
}
# Words of conversation that the lexicons rate but that in a call are answers, backchannels and
# fillers ("yeah", "okay", "like", "да", "ладно"): no valence. "like" keeps its valence after a
# person ("I like it", "they don't like"), "kind" before "of" is "kind of", and a Russian
# "хорошо" opening a phrase is the answer "okay" ("Хорошо, я понял"), not praise ("всё хорошо").
DISCOURSE = {
    "en": frozenset({"yeah", "yes", "yep", "yup", "okay", "ok", "alright", "right", "sure", "well", "please",
                     "like", "kind"}),
    "ru": frozenset({"да", "ладно", "ок", "окей", "угу", "ага", "пожалуйста", "понятно", "ясно"}),
}
_LIKE_AFTER = frozenset({"i", "we", "you", "they", "he", "she", "really", "dont", "didnt", "doesnt", "not", "also", "just"})
_PHRASE_OPENING_ANSWERS = {"en": frozenset(), "ru": frozenset({"хорошо"})}
_PHRASE_END = re.compile(r"[.,!?;:…]+")
CONTRASTS = {"en": frozenset({"but", "however", "though"}), "ru": frozenset({"но", "однако", "зато"})}
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


@dataclass(frozen=True)
class Tone:
    """One utterance's sentiment: its score in (-1, 1) (0: nothing said with valence), its words
    (placeholders of masked numbers left out) and the words that carried valence, as weighed."""

    score: float
    words: int
    cues: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ToneResult:
    metrics: dict[str, float | int | None]
    evidence: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)   # metric -> why it is None


def utterance_tone(text: str, *, language: str) -> Tone:
    """The sentiment of one utterance's text (see the module docstring for the rules)."""
    lexicon = load_valences(language)
    tokens, opening = [], set()
    for phrase in _PHRASE_END.split(_PLACEHOLDER.sub(" ", text)):
        opening.add(len(tokens))
        tokens += tokenise(phrase, language=language)
    negators, intensifiers, softeners = NEGATORS[language], INTENSIFIERS[language], SOFTENERS[language]
    modifiers = negators | intensifiers | softeners | CONTRASTS[language]
    found: list[tuple[int, str, float]] = []   # (token index, the word as weighed, valence)
    for i, token in enumerate(tokens):
        if _key(token) in modifiers or _discourse(tokens, i, i in opening, language):
            continue
        valence, said = _valence(token, lexicon, language)
        if valence is None:
            continue
        before = [_key(t) for t in tokens[max(0, i - WINDOW):i]][::-1]   # nearest first
        for distance, word in enumerate(before):
            if word in intensifiers or word in softeners:
                step = BOOST * BOOST_BY_DISTANCE[distance]
                valence += math.copysign(step, valence) * (1 if word in intensifiers else -1)
        if any(word in negators for word in before):
            valence *= NEGATION_SCALE
            said = f"{next(w for w in before if w in negators)} … {said}"
        found.append((i, said, valence))
    contrast = max((i for i, t in enumerate(tokens) if _key(t) in CONTRASTS[language]), default=None)
    if contrast is not None:
        found = [(i, s, v * (CONTRAST_BEFORE if i < contrast else CONTRAST_AFTER)) for i, s, v in found]
    total = sum(v for _, _, v in found)
    if total:
        total += math.copysign(EXCLAMATION * min(text.count("!"), 4), total)
    score = total / math.sqrt(total * total + ALPHA)
    return Tone(score=score, words=len(tokens), cues=tuple((s, round(v, 2)) for _, s, v in found))


def tone_metrics(utterances, *, language: str, options: SentimentOptions) -> ToneResult:
    """SENTIMENT_METRICS of a two-party call's utterances: per party its words scored, the
    word-weighted mean score, the trend (last third of its words minus the first third) and its
    utterances scoring at or under -negative_at; the evidence is its most negative utterances."""
    metrics, evidence, notes, reasons = {}, {}, {}, {}
    if language not in LANGUAGES:
        why = f"no sentiment lexicon for language {language!r} (speechqa has {', '.join(LANGUAGES)})"
        return ToneResult(metrics=dict.fromkeys(SENTIMENT_METRICS), reasons=dict.fromkeys(SENTIMENT_METRICS, why))
    for party in PARTIES:
        said = sorted((u for u in utterances if u.party == party), key=lambda u: u.start_s)
        scored = [(u, t) for u in said for t in [utterance_tone(u.text, language=language)] if t.words]
        words = sum(t.words for _, t in scored)
        metrics[f"{party}_sentiment_words"] = words
        names = [f"{party}_{n}" for n in ("sentiment_mean", "sentiment_trend", "negative_utterances")]
        if words < options.min_words:
            why = (f"too few words from the {party} for a tonality: {words} (need [score.sentiment] "
                   f"min_words = {options.min_words})")
            metrics.update(dict.fromkeys(names))
            reasons.update(dict.fromkeys(names, why))
            continue
        mean = _weighted_mean(scored)
        ranked = sorted((ut for ut in scored if ut[1].score < 0), key=lambda ut: ut[1].score)   # most negative first
        negative = [ut for ut in ranked if ut[1].score <= -options.negative_at]   # negative_at > 0: a prefix
        metrics[f"{party}_sentiment_mean"] = mean
        metrics[f"{party}_negative_utterances"] = len(negative)
        trend, trend_note, trend_why = _trend(scored, words, party, options)
        metrics[f"{party}_sentiment_trend"] = trend
        if trend_why:
            reasons[f"{party}_sentiment_trend"] = trend_why
        worst = ranked[:_MOST]
        moments = [(round(u.start_s, 2), round(u.end_s, 2)) for u, _ in worst]
        for name in names:
            evidence[name] = moments
        if worst:
            quoted = "; ".join(_describe(u, t) for u, t in worst[:3])
            notes[f"{party}_sentiment_mean"] = f"{mean:+.2f} over {words} words; most negative: {quoted}"
            notes[f"{party}_negative_utterances"] = ("; ".join(_describe(u, t) for u, t in negative[:3]) if negative
                                                     else f"none at or under -{options.negative_at:g}")
        else:
            notes[f"{party}_sentiment_mean"] = f"{mean:+.2f} over {words} words; no negative utterance"
        if trend_note:
            notes[f"{party}_sentiment_trend"] = trend_note
    return ToneResult(metrics=metrics, evidence=evidence, notes=notes, reasons=reasons)


def utterance_scores(utterances, *, language: str) -> tuple[float | None, ...]:
    """Each utterance's sentiment score, None where it has no words or the language no lexicon."""
    if language not in LANGUAGES:
        return tuple(None for _ in utterances)
    tones = [utterance_tone(u.text, language=language) for u in utterances]
    return tuple(t.score if t.words else None for t in tones)


def _trend(scored, words: int, party: str, options: SentimentOptions):
    """(trend, note, why None). An utterance is in the first third when the middle of its words
    falls in the party's first third of words, in the last third when it falls in the last."""
    if words < options.min_trend_words:
        return None, "", (f"too few words from the {party} for a trend: {words} (need [score.sentiment] "
                          f"min_trend_words = {options.min_trend_words})")
    first, last, seen = [], [], 0
    for u, t in scored:
        middle = seen + t.words / 2
        seen += t.words
        if middle < words / 3:
            first.append((u, t))
        elif middle > 2 * words / 3:
            last.append((u, t))
    if not first or not last:
        return None, "", (f"the {party}'s words are in too few utterances to compare the first third "
                          "of them with the last")
    a, b = _weighted_mean(first), _weighted_mean(last)
    note = (f"first third {a:+.2f} ({sum(t.words for _, t in first)} words, to {first[-1][0].end_s:.1f} s), "
            f"last third {b:+.2f} ({sum(t.words for _, t in last)} words, from {last[0][0].start_s:.1f} s)")
    return b - a, note, None


def _weighted_mean(scored) -> float:
    return sum(t.score * t.words for _, t in scored) / sum(t.words for _, t in scored)


def _describe(u, tone: Tone) -> str:
    text = u.text.strip()
    text = text if len(text) <= 60 else text[:57] + "…"
    cues = ", ".join(f"{w} {v:+g}" for w, v in tone.cues if v < 0)
    return f"{u.start_s:.1f} s {tone.score:+.2f} \"{text}\"" + (f" ({cues})" if cues else "")


def _discourse(tokens: list[Token], i: int, opens_phrase: bool, language: str) -> bool:
    """Whether tokens[i] is a word of conversation with no valence here (see DISCOURSE)."""
    word = _key(tokens[i])
    if opens_phrase and word in _PHRASE_OPENING_ANSWERS[language]:
        return True
    if word not in DISCOURSE[language]:
        return False
    if word == "like":
        return i == 0 or _key(tokens[i - 1]) not in _LIKE_AFTER
    if word == "kind":
        return i + 1 < len(tokens) and tokens[i + 1].surface == "of"
    return True


def _key(token: Token) -> str:
    """The form a modifier list holds: English without apostrophes ("don't" -> "dont")."""
    return token.lemma.replace("'", "")


def _valence(token: Token, lexicon: dict[str, float], language: str) -> tuple[float | None, str]:
    for form in (token.surface, token.lemma):
        if form in lexicon:
            return lexicon[form], token.surface
    if language == "ru" and token.surface.startswith("не") and len(token.surface) > 4:
        rest = token.surface[2:]
        for form in (rest, _ru_lemma(rest)):
            if form in lexicon:
                return lexicon[form] * NEGATION_SCALE, token.surface
    return None, token.surface


@functools.lru_cache(maxsize=len(LANGUAGES))
def load_valences(language: str) -> dict[str, float]:
    """The shipped valence list of a language, keyed by word as listed and (Russian) by its lemma."""
    if language not in LANGUAGES:
        raise ValueError(f"no sentiment lexicon for language {language!r}; speechqa has {', '.join(LANGUAGES)}")
    text = resources.files("speechqa").joinpath(f"lexicons/sentiment_{language}.tsv").read_text(encoding="utf-8")
    out: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        word, _, value = line.partition("\t")
        try:
            valence = float(value)
        except ValueError:
            raise ValueError(f"lexicons/sentiment_{language}.tsv line {n}: {line!r} is not 'word<TAB>valence'") from None
        word = word.strip().lower().replace("ё", "е")
        out[word] = valence
        if language == "ru":
            out.setdefault(_ru_lemma(word), valence)
    return out
