"""Script lexicons: phrases per category and language, matched on lemmas.

The phrases ship as data (`speechqa/lexicons/<language>.toml`); users add their own through
configuration (`load_lexicon(language, extra=...)`). Text and phrases go through the same
normalisation, so a phrase matches its inflected forms:

- lower case, ё → е, punctuation dropped; words keep inner hyphens and apostrophes
  ("чем-нибудь", "don't");
- Russian words become their pymorphy3 normal form ("благодарю" → "благодарить",
  "уточните" → "уточнить"), except informal, distorted or abbreviated forms, which pymorphy3
  maps onto the standard word ("щас" → "сейчас", "ок" → "около"): those stay as said, so slang
  stays slang and "сейчас" is not slang;
- English words are only lower-cased: no stemmer, the lexicon lists the forms it needs
  (a stemmer's "thanks" → "thank" gains little and its "is" → "i" costs a lot).

In a phrase, a word may carry a marker:
  word*   the said word starts with "word" (word stems: "пизд*", "fuck*");
  =word   the said word is exactly "word", not lemmatised ("=типа": the particle, not "тип");
  *       any one word ("have a * day");
  {name}  one word that may be a name: any word not in the `not_names` list ("my name is {name}");
  {Name}  one word that looks like a name: not in `not_names`, and in Russian a first name in
          pymorphy3's dictionary (its `Name` tag), in English a word written with a capital in a
          transcript that has both cases ("this is {Name}": "this is Anna", not "this is a
          problem"). Russian needs no capital: the dictionary knows the names, and the case of a
          recognised word is the recogniser's guess. English has no such dictionary here, so the
          capital is the only sign; a transcript all in one case gives none, and then only the
          {name} phrases match.
A phrase matches a contiguous run of words.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Mapping, NamedTuple, Sequence

CATEGORIES = (
    "greeting",
    "self_introduction",
    "offer_help",
    "company",
    "recording_notice",
    "clarifying",
    "anything_else",
    "thanks",
    "farewell",
    "slang",
    "profanity",
    "prohibited",
    "question_words",
    "not_names",
)

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'"})
_KEEP_AS_SAID = frozenset({"Infr", "Dist", "Abbr"})   # pymorphy3 grammemes: informal, distorted, abbreviation


class Token(NamedTuple):
    surface: str   # as said, lower-cased, ё → е
    lemma: str     # normal form (Russian) or the surface (English)
    capital: bool | None = None   # written with a capital first letter; None: the text has one case only


class _Part(NamedTuple):
    kind: str      # "lemma", "surface", "prefix", "any", "name" ({name}) or "proper_name" ({Name})
    value: str


_SLOTS = {"*": "any", "{name}": "name", "{Name}": "proper_name"}


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Phrases per category as written, and the same pre-normalised into word patterns."""

    language: str
    phrases: Mapping[str, tuple[str, ...]]
    patterns: Mapping[str, tuple[tuple[_Part, ...], ...]]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{c}={len(p)}" for c, p in self.phrases.items())
        return f"Lexicon(language={self.language!r}, {sizes})"


def available_languages() -> tuple[str, ...]:
    folder = resources.files("speechqa").joinpath("lexicons")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def load_lexicon(language: str, *, extra: Mapping[str, Sequence[str]] | None = None) -> Lexicon:
    """The packaged lexicon of `language` ("ru", "en") with the user's phrases in `extra`
    (category → phrases) added. Cached per language and extra."""
    for category, phrases in (extra or {}).items():
        if isinstance(phrases, str):
            raise ValueError(f"lexicon category {category!r}: give a list of phrases, e.g. [{phrases!r}]")
    frozen = tuple(sorted((category, tuple(phrases)) for category, phrases in (extra or {}).items()))
    for category, phrases in frozen:
        if category not in CATEGORIES:
            raise ValueError(f"lexicon category {category!r} is unknown; use one of {', '.join(CATEGORIES)}")
        if any(not isinstance(p, str) for p in phrases):
            raise ValueError(f"lexicon category {category!r}: phrases must be strings, got {list(phrases)!r}")
    return _load(language.lower(), frozen)


@functools.lru_cache(maxsize=32)
def _load(language: str, extra: tuple[tuple[str, tuple[str, ...]], ...]) -> Lexicon:
    if language not in available_languages():
        raise ValueError(f"no lexicon for language {language!r}; available: {', '.join(available_languages())}")
    text = resources.files("speechqa").joinpath("lexicons", f"{language}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    unknown = sorted(set(data) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"lexicons/{language}.toml has unknown categories {unknown}; use {', '.join(CATEGORIES)}")
    phrases = {category: list(data.get(category, [])) for category in CATEGORIES}
    for category, added in extra:
        phrases[category] += [p for p in added if p not in phrases[category]]
    patterns = {
        category: tuple(_compile(p, category=category, language=language) for p in items)
        for category, items in phrases.items()
    }
    return Lexicon(
        language=language,
        phrases=MappingProxyType({c: tuple(p) for c, p in phrases.items()}),
        patterns=MappingProxyType(patterns),
    )


def tokenise(text: str, *, language: str, cased: bool | None = None) -> list[Token]:
    """The words of `text`, each with its surface form, lemma and capital. `cased`: whether the
    text this comes from has both cases (a capital means something only then); None: `text`'s own."""
    if cased is None:
        cased = has_case(text)
    tokens = []
    for written in _WORD.findall(text.translate(_APOSTROPHES)):
        word = written.lower()
        lemma = _ru_lemma(word) if language == "ru" else _plain(word)
        tokens.append(Token(_plain(word), lemma, written[0].isupper() if cased else None))
    return tokens


def has_case(text: str) -> bool:
    """Whether `text` has both capitals and small letters (a recogniser's cased output)."""
    return any(c.isupper() for c in text) and any(c.islower() for c in text)


def normalise(text: str, *, language: str) -> list[str]:
    """The lemmas of `text`'s words (see the module docstring for the rules)."""
    return [token.lemma for token in tokenise(text, language=language)]


def find(lexicon: Lexicon, category: str, text_or_tokens: str | Sequence[Token] | Sequence[str]) -> list[tuple[int, int]]:
    """Token spans [start, end) of the category's phrases in the text, leftmost-longest and not
    overlapping. Plain strings in a token list are taken as lemmas (output of `normalise`)."""
    if category not in lexicon.patterns:
        raise ValueError(f"lexicon category {category!r} is unknown; use one of {', '.join(CATEGORIES)}")
    if isinstance(text_or_tokens, str):
        tokens = tokenise(text_or_tokens, language=lexicon.language)
    else:
        tokens = [t if isinstance(t, Token) else Token(t, t) for t in text_or_tokens]
    by_lemma, by_surface, by_prefix, anywhere = _first_word_index(lexicon, category)
    spans, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        candidates = (*by_lemma.get(token.lemma, ()), *by_surface.get(token.surface, ()),
                      *_by_prefix(by_prefix, token), *anywhere)
        length = max((len(p) for p in candidates if _matches_at(p, tokens, i, lexicon)), default=0)
        if length:
            spans.append((i, i + length))
            i += length
        else:
            i += 1
    return spans


@functools.lru_cache(maxsize=256)
def _first_word_index(lexicon: Lexicon, category: str):
    """The category's patterns by what their first word must be (a lemma, a surface form, a
    prefix: by its length, then itself), and those that can start anywhere (any word, a name): a
    token is tried only against the patterns it can start, which keeps rescoring thousands of
    calls fast."""
    by_lemma: dict[str, list] = {}
    by_surface: dict[str, list] = {}
    by_prefix: dict[int, dict[str, list]] = {}
    anywhere = []
    for pattern in lexicon.patterns[category]:
        first = pattern[0]
        if first.kind == "lemma":
            by_lemma.setdefault(first.value, []).append(pattern)
        elif first.kind == "surface":
            by_surface.setdefault(first.value, []).append(pattern)
        elif first.kind == "prefix":
            by_prefix.setdefault(len(first.value), {}).setdefault(first.value, []).append(pattern)
        else:
            anywhere.append(pattern)
    return by_lemma, by_surface, by_prefix, tuple(anywhere)


def _by_prefix(by_prefix: dict[int, dict[str, list]], token: Token) -> list:
    """The patterns whose first word is a prefix of the token's surface form or lemma."""
    found = []
    for length, patterns in by_prefix.items():
        heads = {token.surface[:length], token.lemma[:length]}
        found += [p for head in heads if len(head) == length for p in patterns.get(head, ())]
    return found


def _matches_at(pattern: tuple[_Part, ...], tokens: Sequence[Token], i: int, lexicon: Lexicon) -> bool:
    if i + len(pattern) > len(tokens):
        return False
    return all(_part_matches(part, token, lexicon) for part, token in zip(pattern, tokens[i:]))


def _part_matches(part: _Part, token: Token, lexicon: Lexicon) -> bool:
    if part.kind == "lemma":
        return token.lemma == part.value
    if part.kind == "surface":
        return token.surface == part.value
    if part.kind == "prefix":
        return token.surface.startswith(part.value) or token.lemma.startswith(part.value)
    if part.kind == "name":
        return _may_be_name(token, lexicon)
    if part.kind == "proper_name":
        return _may_be_name(token, lexicon) and _looks_like_name(token, lexicon.language)
    return True   # "any"


def _may_be_name(token: Token, lexicon: Lexicon) -> bool:
    stop = _not_names(lexicon)
    return token.surface.replace("-", "").replace("'", "").isalpha() and token.surface not in stop and token.lemma not in stop


def _looks_like_name(token: Token, language: str) -> bool:
    if language == "ru":
        return _ru_is_name(token.surface)
    return token.capital is True


@functools.lru_cache(maxsize=64)
def _not_names(lexicon: Lexicon) -> frozenset[str]:
    """The `not_names` words as said and as lemmas."""
    return frozenset(part.value for pattern in lexicon.patterns["not_names"] for part in pattern)


def _compile(phrase: str, *, category: str, language: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    for raw in phrase.split():
        if raw in _SLOTS:
            parts.append(_Part(_SLOTS[raw], ""))
            continue
        if raw.startswith("{"):
            raise ValueError(f"lexicon {language}/{category}: {raw!r} in {phrase!r}: the slots are {{name}} and {{Name}}")
        marker = "surface" if raw.startswith("=") else "prefix" if raw.endswith("*") else "lemma"
        words = tokenise(raw.strip("=*"), language=language)
        if marker != "lemma":
            if len(words) != 1:
                raise ValueError(f"lexicon {language}/{category}: {raw!r} in {phrase!r}: '=' and '*' mark one word each")
            parts.append(_Part(marker, words[0].surface))
        else:
            parts += [_Part("lemma", w.lemma) for w in words]
    if all(p.kind in _SLOTS.values() for p in parts):
        raise ValueError(f"lexicon {language}/{category}: phrase {phrase!r} has no words to match")
    return tuple(parts)


def _plain(word: str) -> str:
    return word.replace("ё", "е")


@functools.lru_cache(maxsize=200_000)
def _ru_lemma(word: str) -> str:
    parse = _morph().parse(word)[0]
    if parse.tag.grammemes & _KEEP_AS_SAID:
        return _plain(word)
    return _plain(parse.normal_form)


@functools.lru_cache(maxsize=20_000)
def _ru_is_name(word: str) -> bool:
    """Whether any reading of the word in pymorphy3's dictionary is a first name ("анна",
    "вера" the name beside "вера" the faith; not "проблема", "я")."""
    return any("Name" in parse.tag for parse in _morph().parse(word))


@functools.lru_cache(maxsize=1)
def _morph():
    """One pymorphy3 analyser per process, from the dictionaries installed with it (offline)."""
    try:
        import pymorphy3
    except ImportError as exc:
        raise ImportError(
            "Russian lexicon matching needs pymorphy3 and its dictionaries: "
            "pip install pymorphy3 pymorphy3-dicts-ru"
        ) from exc
    return pymorphy3.MorphAnalyzer(lang="ru")
