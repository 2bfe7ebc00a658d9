"""PII masking of transcripts (Russian and English): card numbers, phone numbers, e-mail addresses
(written or spoken: "ivan at mail dot ru", "иван собака мейл точка ру") and runs of spoken number
words become "[CARD]", "[PHONE]", "[EMAIL]" and "[NUMBER]".

Passes run in a fixed order, each over what the earlier ones left: e-mail, card, phone, number
runs, so matches never overlap. Times ("10:30"), dates ("12.05.2024"), money ("1 500 рублей",
"$1,500") and short numbers are left alone. Masked text contains nothing that masks again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from speechqa.options import PiiOptions
from speechqa.transcript import Utterance, Word

PLACEHOLDERS = {"email": "[EMAIL]", "card": "[CARD]", "phone": "[PHONE]", "number": "[NUMBER]"}


@dataclass(frozen=True)
class PiiMatch:
    kind: str    # "card", "phone", "email" or "number"
    start: int   # character offsets in the original text
    end: int


_I = re.IGNORECASE
_DASH = "\\-\u2010-\u2014"                      # hyphen, and the Unicode hyphens and dashes
_GAP = f"[ \u00a0{_DASH}]"                       # one space or dash between digit groups

_DOT = r"(?:\.|\s+(?:dot|точка)\s+)"
_EMAIL = re.compile(
    rf"(?<![\w.+\-])(?P<local>[\w+\-]+(?:{_DOT}[\w+\-]+)*)"
    rf"(?P<at>\s*@\s*|\s+(?:at|собака|собачка)\s+)[\w\-]+(?:{_DOT}[\w\-]+)+", _I)
# "visit us at example dot com" names a website, not an address
_NOT_LOCAL = frozenset("i me you he him she her it we us they them look be is am are was were".split())

_DIGIT_RUN = re.compile(rf"(?<![\d+])\d+(?:{_GAP}\d+)*(?!\d)")
_DIGITS = re.compile(r"\d+")

_S = f"{_GAP}?"
_PHONE = re.compile(
    r"(?<!\w)(?<!\d[.\-])(?:"
    rf"(?:\+\s?7|7|8){_S}(?:\(\d{{3}}\)|\d{{3}}){_S}\d{{3}}{_S}(?:\d{{2}}{_S}\d{{2}}|\d{{4}})"  # Russian
    rf"|(?:\+?1{_S})?(?:\(\d{{3}}\) ?|\d{{3}}[ .\-])\d{{3}}[ .\-]\d{{4}}"                   # N. American
    rf"|\+\d{{1,3}}{_S}(?:\(\d{{1,4}}\){_S})?(?:\d{_S}){{6,12}}\d"                          # international
    r"|\d{3}-\d{2}-\d{2}"                                                                  # local, dashed
    r")(?!\w|[.\-]\d)", _I)

_RU_NUMBER = (
    r"н[оу]л(?:ь|я|ю|[её]м|е)|один|одн(?:а|о|и|ого|ой|ому|им|ою|у|ом|их|ими)"
    r"|дв(?:а|е|ух|ум|умя)|тр(?:и|[её]х|[её]м|емя)|четыр(?:е|[её]х|[её]м|ьмя)"
    r"|(?:пят|шест|сем|девят|десят|двадцат|тридцат"
    r"|(?:один|две|три|четыр|пят|шест|сем|восем|девят)надцат)(?:ь|и|ью)"
    r"|восем(?:ь|ью)|восьм(?:и|ью)|сорок(?:а)?|девяност[оа]|ст[оа]"
    r"|(?:пят|шест|сем|восем)ьдесят|(?:пят|шест|сем|восьм)идесяти|(?:пят|шест|сем|восем)ьюдесятью"
    r"|двести|триста|четыреста|(?:пят|шест|сем|восем|девят)ьсот"
    r"|(?:дв(?:ух|ум|умя)|тр(?:[её]х|[её]м|емя)|четыр(?:[её]х|[её]м|ьмя)|(?:пят|шест|сем|девят)(?:и|ью)"
    r"|восьм(?:и|ью)|восемью)(?:сот|стам|стами|стах)"
    r"|тысяч(?:а|и|е|у|ей|ею|ам|ами|ах)?"
)
_EN_NUMBER = (
    r"zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty"
    r"|ninety|hundred|thousand|double|triple"
)
# a written group is 1-4 digits or "1,500,000"; digits of a time or date ("10:30", "12.05") are not
_DIGIT_GROUP = r"(?<!\d[:./])(?:\d{1,3}(?:,\d{3})+|\d{1,4})(?![:./]\d)"
_TOKEN = rf"(?<!\w)(?:{_RU_NUMBER}|{_EN_NUMBER}|{_DIGIT_GROUP})(?!\w)"
_NUMBER_TOKEN = re.compile(_TOKEN, _I)
_NUMBER_RUN = re.compile(rf"{_TOKEN}(?:(?:\s*[,{_DASH}]\s*|\s+){_TOKEN})*", _I)
_NOT_FIRST = frozenset({"oh"})                  # "Oh, ..." is an exclamation
_NOT_LAST = frozenset({"oh", "double", "triple"})
_WORD_CHAR = re.compile(r"\w")
_MONEY_BEFORE = re.compile(r"[$€£₽]\s*$")
_MONEY_AFTER = re.compile(
    r"\s*(?:[$€£₽]|р\.|(?:руб|коп|долл|евро|фунт|цент)\w*|(?:dollar|buck|euro|pound|cent)s?\b|(?:usd|rub|eur)\b)",
    _I)


def mask_text(text: str, *, options: PiiOptions = PiiOptions()) -> tuple[str, tuple[PiiMatch, ...]]:
    """`text` with every match replaced by its placeholder, and the matches in text order."""
    if not options.enabled:
        return text, ()
    passes = (("email", options.emails, _find_emails), ("card", options.cards, _find_cards),
              ("phone", options.phones, _find_phones), ("number", options.number_words, _find_numbers))
    work, matches = text, []
    for kind, wanted, find in passes:
        if not wanted:
            continue
        found = [PiiMatch(kind, start, end) for start, end in find(work, options)]
        for m in found:   # later passes see a matched span as a wall of NULs
            work = work[:m.start] + "\0" * (m.end - m.start) + work[m.end:]
        matches += found
    matches.sort(key=lambda m: m.start)
    return _render(text, matches, 0, len(text)), tuple(matches)


def mask_utterances(utterances, *, options: PiiOptions) -> tuple[Utterance, ...]:
    """The utterances with text masked; the words of each match become one placeholder word that
    keeps the first word's start, the last word's end and the lowest probability."""
    return tuple(_mask_utterance(u, options) for u in utterances)


def _mask_utterance(utterance: Utterance, options: PiiOptions) -> Utterance:
    if not options.enabled:
        return utterance
    text, matches = mask_text(utterance.text, options=options)
    source, words = utterance.text, utterance.words
    spans = _word_spans(source, words)
    if spans is None:   # the words do not spell the text: mask what the words themselves say
        source = " ".join(w.text.strip() for w in words)
        spans = _word_spans(source, words)
        matches = mask_text(source, options=options)[1]
    groups: list[list] = []   # [first word, last word, matches]
    for m in matches:
        hit = [k for k, (s, e) in enumerate(spans) if s < m.end and e > m.start]
        if not hit:
            continue
        if groups and groups[-1][1] >= hit[0]:
            groups[-1][1] = max(groups[-1][1], hit[-1])
            groups[-1][2].append(m)
        else:
            groups.append([hit[0], hit[-1], [m]])
    new_words, pos = [], 0
    for first, last, group_matches in groups:
        a, b = words[first], words[last]
        lead = a.text[: len(a.text) - len(a.text.lstrip())]
        trail = b.text[len(b.text.rstrip()):]
        body = _render(source, group_matches, spans[first][0], spans[last][1])
        new_words += words[pos:first]
        new_words.append(Word(text=lead + body + trail, start_s=a.start_s, end_s=b.end_s,
                              probability=min(w.probability for w in words[first: last + 1])))
        pos = last + 1
    new_words += words[pos:]
    if text == utterance.text and tuple(new_words) == words:
        return utterance
    return replace(utterance, text=text, words=tuple(new_words))


def _word_spans(text: str, words) -> list[tuple[int, int]] | None:
    """Where each word's text (stripped) lies in `text`, in order; None if they do not line up."""
    spans, pos = [], 0
    for w in words:
        token = w.text.strip()
        at = text.find(token, pos)
        if at < 0 or _WORD_CHAR.search(text, pos, at):
            return None
        spans.append((at, at + len(token)))
        pos = at + len(token)
    return spans


def _render(text: str, matches, start: int, end: int) -> str:
    """text[start:end] with the matches inside it replaced by their placeholders."""
    out, pos = [], start
    for m in matches:
        if m.end <= start or m.start >= end:
            continue
        out += [text[pos: max(pos, m.start)], PLACEHOLDERS[m.kind]]
        pos = max(pos, m.end)
    out.append(text[pos:end])
    return "".join(out)


def _find_emails(work: str, options: PiiOptions):
    for m in _EMAIL.finditer(work):
        if m.group("at").strip() != "@" and m.group("local").lower() in _NOT_LOCAL:
            continue
        yield m.span()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _find_cards(work: str, options: PiiOptions):
    """Within each run of digit groups, Luhn-valid windows of whole groups with 13-19 digits:
    16-digit windows first, then longer before shorter, then leftmost."""
    for run in _DIGIT_RUN.finditer(work):
        groups = list(_DIGITS.finditer(work, run.start(), run.end()))
        windows = []
        for i in range(len(groups)):
            for j in range(i, len(groups)):
                digits = "".join(g.group() for g in groups[i: j + 1])
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and _luhn_ok(digits):
                    windows.append((len(digits) != 16, -len(digits), i, j))
        taken: set[int] = set()
        for *_, i, j in sorted(windows):
            if taken.isdisjoint(range(i, j + 1)):
                taken.update(range(i, j + 1))
                yield groups[i].start(), groups[j].end()


def _find_phones(work: str, options: PiiOptions):
    for m in _PHONE.finditer(work):
        yield m.span()


# Not a part of a longer number (a decimal, a time, a date): no digit, or separator and digit,
# on either side; a full stop or comma that ends the sentence does not count.
_LONG_DIGITS = re.compile(r"(?<!\d)(?<!\d[.,:/])\d{7,}(?!\d|[.,:/]\d)")


def _find_numbers(work: str, options: PiiOptions):
    # One unbroken run of 7+ digits is an identifier however it was read out: the recogniser
    # often writes a dictated card or account number as one string, and its count may be off.
    for m in _LONG_DIGITS.finditer(work):
        if not (_MONEY_BEFORE.search(work, 0, m.start()) or _MONEY_AFTER.match(work, m.end())):
            yield m.span()
    for run in _NUMBER_RUN.finditer(work):
        tokens = list(_NUMBER_TOKEN.finditer(work, run.start(), run.end()))
        while tokens and tokens[0].group().lower() in _NOT_FIRST:
            tokens.pop(0)
        while tokens and tokens[-1].group().lower() in _NOT_LAST:
            tokens.pop()
        if len(tokens) < options.min_number_words:
            continue
        start, end = tokens[0].start(), tokens[-1].end()
        if _MONEY_BEFORE.search(work, 0, start) or _MONEY_AFTER.match(work, end):
            continue   # an amount of money, not an identifier
        yield start, end
