"""Speaking rate, articulation rate and rate match per party (shared/docs/criteria.md, "Speaking
rate" and "Matching over time"). Pure functions over words, turns and speech intervals.

Definitions
- Words are the recogniser's `Word`s. A word belongs to the party's turn that contains its
  midpoint, or lies within WORD_SLACK_S of it (the nearer one): Whisper times a turn's first
  word a little before the VAD's onset ("Hello." at 6.54-6.92 s for a turn from 6.74 s on the
  pyannote call), and such words were lost. Words further from every turn of their party (its
  backchannels) are left out. A token with no letter and no digit (a stray "-" or "...") is
  not a word. A masked placeholder in square brackets ("[NUMBER]", "[CARD]") is one word of 0
  syllables: what was said there is no longer known.
- Syllables: letters are counted by their script, whatever the call's language. Cyrillic:
  the vowel letters а е ё и о у ы э ю я (exact for Russian spelling). Latin: a rule-based English
  counter (vowel groups; silent final e; -le, -ed and -es endings; y a vowel except word-initially;
  a few vowel pairs that split, "radio", "actual", "client", "going"; a short exception list);
  at least 1 per word with letters; no dictionary. Digits are spelled as the cardinal number in
  the call's `language` ("ru" or "en") up to 999 999 ("1,500" is one number); a run of 7 or more
  digits, or one with a leading zero (phone and card numbers, "007"), is read digit by digit.
- Speaking time of a party = its speech inside its own turns, and its own pauses there: the
  silent gaps between two stretches of its speech in one turn, in which the other party does
  not speak. A gap in which the other party speaks (a backchannel, a short reply the turn went
  on over, talk the party paused under) is the other's time, not a pause of the party: summing
  whole turns instead read a party answered by "Hello?" and "Neither did I." 19 % slow on the
  pyannote call (benchmarks/bench_rate.py). rate_wpm = words / speaking minutes;
  rate_syll_per_s = syllables / speaking seconds.
- Articulation time = total_s(intersection(speech, turns)): the party's speech inside its own
  turns. The speech intervals come bridged at 0.25 s (timeline.py), so pauses >= 0.25 s are
  excluded and shorter ones kept. articulation_syll_per_s = syllables / articulation seconds.
- A rate is None (not measured) when the party has less than `min_speech_s` of articulation
  time, or nothing to count (no words; no syllables for the syllable rates).
- rate_ratio = agent / caller articulation rate; None when either is None.
- Pairs: a caller turn immediately followed by an agent turn (adjacent in the call's turn list),
  each with >= min_pair_words words and some speech: the ratio of the two turns' articulation
  rates (agent / caller), timed at the agent turn's start.
- Match slopes: least-squares slope per minute of a mismatch against the pair's time; negative
  = the agent converges on the caller. Level (speechqa.derive, from the measured level pairs):
  |level difference| in dB. Rate: |log2(rate ratio)|, because log2 is symmetric: an agent
  twice as fast (2.0) and half as fast (0.5) are equally far from a match, where |ratio - 1|
  would score them 1.0 and 0.5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from speechqa.names import LANGUAGES, PARTIES
from speechqa.timeline import Turn, intersection, total_s, union
from speechqa.transcript import Word

# What rate_metrics produces (speechqa.metrics checks that they all come).
RATE_METRICS = (
    *(f"{p}_{name}" for p in PARTIES for name in ("rate_wpm", "rate_syll_per_s", "articulation_syll_per_s")),
    "rate_ratio", "rate_pairs", "rate_ratio_pair_median", "rate_match_slope_per_min",
)

WORD_SLACK_S = 0.25     # a word this near a turn of its party belongs to it (the timeline's bridge gap)

_RU_VOWELS = frozenset("аеёиоуыэюя")
_LETTER_RUNS = re.compile(r"[a-z]+|[а-яё]+")
_DIGIT_RUNS = re.compile(r"\d+(?:,\d{3})*")
_PLACEHOLDER = re.compile(r"\[[^\]]*\]")
_VOWELS = "aeiouy"
_EN_GROUPS = re.compile(r"[aeiouy]+")
# Vowel pairs that are two syllables: radio, media (not nation, social, Asian); actual (not
# quality, language); client, quiet, experience (not friend, efficient, patient); going, saying.
_EN_SPLITS = re.compile(r"(?<![ctsgx])i(?=[ao](?!ns?$|nal$))|(?<![qg])u(?=[ao])|(?<![cst])i(?=e(?:n[tc]|t))"
                        r"|[aeiouy](?=ing$)")
_EN_SILENT_SUFFIX = re.compile(r"[aeiou][^aeiouy]e(?:ly|ment|ments|ful|less|ness)$")  # statement, safely
_SYLLABIC_L = frozenset("bcdfgkpstvz")   # consonants after which -le, -led, -les, -red are syllabic
_EN_EXCEPTIONS = {"maybe": 2, "business": 2, "every": 2, "everything": 3, "everyone": 3,
                  "everybody": 4, "idea": 3, "ideas": 3, "area": 3, "create": 2, "created": 3}

_EN_ONES = (2, 1, 1, 1, 1, 1, 1, 2, 1, 1)        # zero one two three four five six seven eight nine
_EN_TEENS = (1, 3, 1, 2, 2, 2, 2, 3, 2, 2)       # ten eleven twelve thirteen ... nineteen
_EN_TENS = (0, 0, 2, 2, 2, 2, 2, 3, 2, 2)        # twenty thirty forty fifty sixty seventy eighty ninety
_RU_ONES = "ноль один два три четыре пять шесть семь восемь девять".split()
_RU_TEENS = ("десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать "
             "семнадцать восемнадцать девятнадцать").split()
_RU_TENS = "- - двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split()
_RU_HUNDREDS = "- сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split()


def count_syllables(word: str, *, language: str) -> int:
    """Syllables of one recognised token (definitions in the module docstring)."""
    _check_language(language)
    text = _PLACEHOLDER.sub(" ", word.lower())
    count = sum(_number_syllables(run.replace(",", ""), language) for run in _DIGIT_RUNS.findall(text))
    for run in _LETTER_RUNS.findall(text.replace("'", "").replace("’", "")):
        count += _en_syllables(run) if run[0] <= "z" else _ru_syllables(run)
    return count


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"language = {language!r}; use one of {LANGUAGES} (detect it first; rates compare "
                         "within a language)")


def _ru_syllables(word: str) -> int:
    return sum(ch in _RU_VOWELS for ch in word)


def _en_syllables(w: str) -> int:
    if w in _EN_EXCEPTIONS:
        return _EN_EXCEPTIONS[w]
    core = "#" + w[1:] if w[0] == "y" else w           # initial y is a consonant: yes, you, year
    count = len(_EN_GROUPS.findall(core)) + len(_EN_SPLITS.findall(w))
    p = "###" + w                                        # p[-4] exists for short words
    syllabic = p[-4] in _SYLLABIC_L                      # before -le(d,s): table, handled, tables
    if count > 1 and p[-1] == "e" and p[-2] not in _VOWELS and not (p[-2] == "l" and p[-3] in _SYLLABIC_L):
        count -= 1                                       # make, have, there; not table, people
    elif count > 1 and w.endswith("ed") and p[-3] not in _VOWELS + "td" and not (p[-3] in "lr" and syllabic):
        count -= 1                                       # asked, called; not wanted, handled, hundred
    elif (count > 1 and w.endswith("es") and p[-3] not in _VOWELS + "cgsxz" and p[-4:-2] not in ("ch", "sh")
          and not (p[-3] == "l" and syllabic)):
        count -= 1                                       # makes, minutes; not boxes, changes, tables
    if count > 1 and _EN_SILENT_SUFFIX.search(w):
        count -= 1                                       # statement, safely, careful
    return max(count, 1)


def _number_syllables(digits: str, language: str) -> int:
    if len(digits) > 6 or (len(digits) > 1 and digits[0] == "0"):
        return sum(_number_syllables(d, language) for d in digits)
    n = int(digits)
    if n == 0:
        return _EN_ONES[0] if language == "en" else _ru_syllables(_RU_ONES[0])
    below = _en_below_1000 if language == "en" else _ru_below_1000
    thousands, rest = divmod(n, 1000)
    count = below(rest)
    if thousands and language == "en":
        count += below(thousands) + 2                    # "... thousand"
    elif thousands:                                      # тысяча (not "одна тысяча"), тысячи, тысяч
        last, teen = thousands % 10, thousands % 100 in range(11, 20)
        count += (below(thousands) if thousands > 1 else 0) + (3 if 1 <= last <= 4 and not teen else 2)
    return count


def _en_below_1000(n: int) -> int:
    hundreds, rest = divmod(n, 100)
    count = _EN_ONES[hundreds] + 2 if hundreds else 0   # "... hundred"
    if rest >= 20:
        count += _EN_TENS[rest // 10] + (_EN_ONES[rest % 10] if rest % 10 else 0)
    elif rest >= 10:
        count += _EN_TEENS[rest - 10]
    elif rest:
        count += _EN_ONES[rest]
    return count


def _ru_below_1000(n: int) -> int:
    hundreds, rest = divmod(n, 100)
    words = [_RU_HUNDREDS[hundreds]] if hundreds else []
    if rest >= 20:
        words += [_RU_TENS[rest // 10]] + ([_RU_ONES[rest % 10]] if rest % 10 else [])
    elif rest >= 10:
        words.append(_RU_TEENS[rest - 10])
    elif rest:
        words.append(_RU_ONES[rest])
    return sum(_ru_syllables(w) for w in words)


@dataclass(frozen=True)
class PartyRate:
    words: int
    syllables: int
    speaking_s: float        # speech and own silent pauses inside the party's turns (speaking_spans)
    articulation_s: float    # speech inside the turns (pauses >= 0.25 s excluded)
    rate_wpm: float | None
    rate_syll_per_s: float | None
    articulation_syll_per_s: float | None


@dataclass(frozen=True)
class PairRate:
    caller: Turn
    agent: Turn
    rate_ratio: float        # agent / caller articulation rate of the two turns


def speaking_spans(turns: list[Turn], speech: np.ndarray, other_speech: np.ndarray) -> np.ndarray:
    """A party's speaking time as intervals: its speech inside its own turns, and the gaps between
    two stretches of that speech in one turn during which `other_speech` (the other party's) is
    silent: its own pauses. Without other speech: each turn from its first to its last speech
    (all of it, as find_turns cuts turns)."""
    spans = union(np.array([(t.start_s, t.end_s) for t in turns], dtype=float).reshape(-1, 2))
    own = intersection(union(speech), spans)
    if len(own) < 2:
        return own
    gaps = np.column_stack([own[:-1, 1], own[1:, 0]])
    in_turn = np.searchsorted(spans[:, 0], gaps[:, 0], side="right") - 1
    one_turn = gaps[:, 1] <= spans[in_turn, 1]          # not the time between two of its turns
    heard = intersection(union(other_speech), gaps)     # the other party's speech inside the gaps
    spoken_over = np.zeros(len(gaps), dtype=bool)
    spoken_over[np.searchsorted(gaps[:, 0], heard[:, 0], side="right") - 1] = True
    return union(own, gaps[one_turn & ~spoken_over])


def party_rate(words: list[Word], turns: list[Turn], speech: np.ndarray, *, language: str,
               min_speech_s: float = 5.0, other_speech: np.ndarray | None = None) -> PartyRate:
    """Rates of one party from its words, its own turns, its bridged speech intervals and the
    other party's (which tell its own pauses from the other's time inside its turns; None: no
    other speech, so each turn is all speaking time)."""
    if len({t.party for t in turns}) > 1:
        raise ValueError("party_rate takes one party's turns; pass [t for t in turns if t.party == party]")
    if min_speech_s < 0:
        raise ValueError(f"min_speech_s = {min_speech_s!r} must be >= 0 seconds")
    _check_language(language)
    n_words = n_syll = 0
    for bucket in assign_words(words, turns):
        n_words += len(bucket)
        n_syll += sum(count_syllables(w.text, language=language) for w in bucket)
    spans = union(np.array([(t.start_s, t.end_s) for t in turns], dtype=float).reshape(-1, 2))
    speaking_s = total_s(speaking_spans(turns, speech, np.zeros((0, 2)) if other_speech is None else other_speech))
    articulation_s = total_s(intersection(union(speech), spans))
    measured = articulation_s >= min_speech_s and articulation_s > 0 and n_words > 0
    has_syll = measured and n_syll > 0
    return PartyRate(
        words=n_words,
        syllables=n_syll,
        speaking_s=speaking_s,
        articulation_s=articulation_s,
        rate_wpm=n_words / (speaking_s / 60.0) if measured else None,
        rate_syll_per_s=n_syll / speaking_s if has_syll else None,
        articulation_syll_per_s=n_syll / articulation_s if has_syll else None,
    )


def pair_rates(turns: list[Turn], words_by_party: dict[str, list[Word]], speech_by_party: dict[str, np.ndarray],
               *, language: str, min_pair_words: int = 3) -> list[PairRate]:
    """Articulation-rate ratio (agent / caller) of each adjacent caller->agent turn pair."""
    _check_language(language)
    turns = sorted(turns, key=lambda t: t.start_s)
    rates: dict[Turn, float | None] = {}
    for party in PARTIES:
        own = [t for t in turns if t.party == party]
        speech = union(speech_by_party.get(party, np.zeros((0, 2))))
        for turn, bucket in zip(own, assign_words(words_by_party.get(party, []), own)):
            art_s = total_s(intersection(speech, np.array([[turn.start_s, turn.end_s]])))
            syll = sum(count_syllables(w.text, language=language) for w in bucket)
            ok = len(bucket) >= min_pair_words and art_s > 0 and syll > 0
            rates[turn] = syll / art_s if ok else None
    pairs = []
    for caller, agent in zip(turns, turns[1:]):
        if caller.party == "caller" and agent.party == "agent" and rates[caller] and rates[agent]:
            pairs.append(PairRate(caller=caller, agent=agent, rate_ratio=rates[agent] / rates[caller]))
    return pairs


def match_slope_per_min(times_s, values) -> float | None:
    """Least-squares slope of values against time, per minute; None with < 3 points or one time."""
    t = np.asarray(times_s, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if t.shape != v.shape:
        raise ValueError(f"times_s has {t.size} values and values {v.size}; pass one time per value")
    keep = np.isfinite(t) & np.isfinite(v)
    t, v = t[keep] / 60.0, v[keep]
    if len(t) < 3 or np.ptp(t) == 0:
        return None
    return float(np.polyfit(t, v, 1)[0])


def rate_metrics(turns: list[Turn], words_by_party: dict[str, list[Word]], speech_by_party: dict[str, np.ndarray],
                 *, language: str, min_speech_s: float = 5.0,
                 min_pair_words: int = 3) -> dict[str, float | int | None]:
    """The rate metrics of a call (RATE_METRICS)."""
    out: dict[str, float | int | None] = {}
    rates = {}
    for party, other in zip(PARTIES, PARTIES[::-1]):
        rates[party] = party_rate(words_by_party.get(party, []), [t for t in turns if t.party == party],
                                  speech_by_party.get(party, np.zeros((0, 2))), language=language,
                                  min_speech_s=min_speech_s, other_speech=speech_by_party.get(other, np.zeros((0, 2))))
        out[f"{party}_rate_wpm"] = rates[party].rate_wpm
        out[f"{party}_rate_syll_per_s"] = rates[party].rate_syll_per_s
        out[f"{party}_articulation_syll_per_s"] = rates[party].articulation_syll_per_s
    agent, caller = rates["agent"].articulation_syll_per_s, rates["caller"].articulation_syll_per_s
    out["rate_ratio"] = agent / caller if agent and caller else None
    pairs = pair_rates(turns, words_by_party, speech_by_party, language=language, min_pair_words=min_pair_words)
    ratios = np.array([p.rate_ratio for p in pairs])
    out["rate_pairs"] = len(pairs)
    out["rate_ratio_pair_median"] = float(np.median(ratios)) if len(pairs) else None
    out["rate_match_slope_per_min"] = match_slope_per_min([p.agent.start_s for p in pairs], np.abs(np.log2(ratios)))
    return out


def assign_words(words: list[Word], turns: list[Turn]) -> list[list[Word]]:
    """The one assignment of words to turns: each word into the (first) turn that contains its
    midpoint, else into the nearer turn within WORD_SLACK_S of it; words further from every turn,
    and tokens with no letter or digit, are dropped."""
    buckets: list[list[Word]] = [[] for _ in turns]
    words = [w for w in words if any(ch.isalnum() for ch in w.text)]   # punctuation only: no word
    if not words or not turns:
        return buckets
    order = np.argsort([t.start_s for t in turns], kind="stable")
    starts = np.array([turns[i].start_s for i in order])
    ends = np.array([turns[i].end_s for i in order])
    mids = np.array([(w.start_s + w.end_s) / 2 for w in words])
    slot = np.searchsorted(starts, mids, side="right") - 1
    for w, k, mid in zip(words, slot, mids):
        if k >= 0 and mid <= ends[k]:
            buckets[order[k]].append(w)
            continue
        after = mid - ends[k] if k >= 0 else np.inf                     # past the end of turn k
        before = starts[k + 1] - mid if k + 1 < len(starts) else np.inf   # ahead of turn k + 1
        if min(after, before) <= WORD_SLACK_S:
            buckets[order[k] if after <= before else order[k + 1]].append(w)
    return buckets
