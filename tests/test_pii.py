"""PII masking with known answers: Russian and English sentences and what they must become."""

import dataclasses

import pytest

from speechqa.pii import PiiMatch, PiiOptions, mask_text, mask_utterances
from speechqa.transcript import Utterance, Word

MASKED = [
    # cards (Luhn-valid), whole or in groups
    ("Номер карты 4111 1111 1111 1111, срок до 12/25", "Номер карты [CARD], срок до 12/25"),
    ("карта 5500-0000-0000-0004 привязана", "карта [CARD] привязана"),
    ("диктую: 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "диктую: [CARD]"),
    ("My card is 4111111111111111.", "My card is [CARD]."),
    ("card 5500 0000 0000 0004 expires soon", "card [CARD] expires soon"),
    ("Amex 3782 822463 10005 please", "Amex [CARD] please"),
    # phones
    ("мой номер +7 (495) 123-45-67", "мой номер [PHONE]"),
    ("звоните 8 800 555 35 35 круглосуточно", "звоните [PHONE] круглосуточно"),
    ("+7 916 123 45 67 или 89161234567.", "[PHONE] или [PHONE]."),
    ("городской 123-45-67", "городской [PHONE]"),
    ("call me at +1 415 555 2671 today", "call me at [PHONE] today"),
    ("(415) 555-2671 or 415-555-2671", "[PHONE] or [PHONE]"),
    ("London office: +44 20 7946 0958.", "London office: [PHONE]."),
    # e-mails, written and spoken
    ("почта ivan.petrov@mail.ru, спасибо", "почта [EMAIL], спасибо"),
    ("пишите на иван собака мейл точка ру пожалуйста", "пишите на [EMAIL] пожалуйста"),
    ("ИВАН СОБАКА МЕЙЛ ТОЧКА РУ", "[EMAIL]"),
    ("email john.smith@example.com please", "email [EMAIL] please"),
    ("it's ivan at mail dot ru", "it's [EMAIL]"),
    ("John Dot Smith At Gmail Dot Com", "[EMAIL]"),
    # runs of spoken numbers and written digit groups
    ("код четыре пять семь восемь", "код [NUMBER]"),
    ("ЧЕТЫРЕ ПЯТЬ СЕМЬ ВОСЕМЬ", "[NUMBER]"),
    ("договор двенадцать тридцать четыре пятьдесят шесть", "договор [NUMBER]"),
    ("последние цифры: ноль девять, двести тридцать", "последние цифры: [NUMBER]"),
    ("от трёх двухсот пятисот одного", "от [NUMBER]"),
    ("телефон: восемь, девятьсот шестнадцать, сто двадцать три, сорок пять.", "телефон: [NUMBER]."),
    ("цифры 4 5 7 8", "цифры [NUMBER]"),
    ("the code is four five seven eight", "the code is [NUMBER]"),
    ("it's double five oh seven", "it's [NUMBER]"),
    ("Oh, four five seven eight, oh", "Oh, [NUMBER], oh"),
    ("ninety-nine, twenty-one", "[NUMBER]"),
    ("4, 5, 7, 8", "[NUMBER]"),
    ("4111 1111 1111 1112", "[NUMBER]"),     # fails Luhn: not a card, but still four digit groups
]

UNCHANGED = [
    "встреча в 10:30",
    "the meeting is at 10:30 on 12.05.2024",
    "договор от 12.05.2024",
    "12-05-2024 10:30",
    "сумма 1 500 рублей",
    "it costs $1,500",
    "1 234 567 890 рублей",
    "$1 234 567 890",
    "1 500 000 000 ₽ и 1 500 000 000 р.",
    "двадцать две тысячи пятьсот сорок рублей",
    "ten thousand five hundred dollars",
    "PIN 1234",
    "Номер заказа 1234 5678",
    "двадцать пять",
    "twenty-five",
    "one or two",
    "дом 12, квартира 45",
    "в 2023, 2024, 2025 и 2026 годах",
    "visit us at example dot com",           # a website, not an address
    "Моя собака дома, точка.",
    "I'll be at work. Thanks",
    "",
]


@pytest.mark.parametrize("text, expected", MASKED)
def test_masked(text, expected):
    assert mask_text(text)[0] == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_false_positive_guards(text):
    assert mask_text(text) == (text, ())


@pytest.mark.parametrize("text", [t for t, _ in MASKED] + UNCHANGED)
def test_masking_is_idempotent(text):
    once, _ = mask_text(text)
    assert mask_text(once) == (once, ())


def test_matches_give_kinds_and_offsets_in_the_original():
    text = "Карта 4111-1111-1111-1111, тел. 8 800 555 35 35, почта a@b.ru, код 1 2 3 4"
    masked, matches = mask_text(text)
    assert masked == "Карта [CARD], тел. [PHONE], почта [EMAIL], код [NUMBER]"
    assert [(m.kind, text[m.start:m.end]) for m in matches] == [
        ("card", "4111-1111-1111-1111"), ("phone", "8 800 555 35 35"),
        ("email", "a@b.ru"), ("number", "1 2 3 4")]


@pytest.mark.parametrize("digits, kind", [
    ("4111 1111 1111 1111", "card"), ("4111 1111 1111 1112", "number"),
    ("5500 0000 0000 0004", "card"), ("5500 0000 0000 0005", "number"),
])
def test_luhn_decides_card(digits, kind):
    assert [m.kind for m in mask_text(digits)[1]] == [kind]


@pytest.mark.parametrize("text, masked", [
    ("My card number is 4111111111111111111", "My card number is [NUMBER]"),   # as ASR writes it, one digit too many
    ("call 4111111111111112 now", "call [NUMBER] now"),                         # fails Luhn: still an identifier
    ("договор 1234567", "договор [NUMBER]"),
    ("we paid 1500000 рублей", "we paid 1500000 рублей"),                       # money
    ("in 2024, room 123456", "in 2024, room 123456"),                           # short numbers stay
    ("my card number is 411111111111111. I already", "my card number is [NUMBER]. I already"),  # one digit short, then a full stop
    ("номер 41111111111111, да", "номер [NUMBER], да"),                         # sentence punctuation after the run
    ("pi is 3.14159265 here", "pi is 3.14159265 here"),                         # a decimal is not an identifier
    ("the ratio 1,2345678 stays", "the ratio 1,2345678 stays"),
])
def test_long_digit_runs_are_numbers(text, masked):
    assert mask_text(text)[0] == masked


@pytest.mark.parametrize("text, off, still_masked", [
    ("карта 4111111111111111", "cards", "карта [NUMBER]"),      # a long digit run is still a number
    ("звоните 89161234567", "phones", "звоните [NUMBER]"),
    ("write to ivan@mail.ru", "emails", "write to ivan@mail.ru"),
    ("иван собака мейл точка ру", "emails", "иван собака мейл точка ру"),
    ("код четыре пять семь восемь", "number_words", "код четыре пять семь восемь"),
    ("card 4111 1111 1111 1111", "cards", "card [NUMBER]"),   # still four digit groups
])
def test_options_turn_each_kind_off(text, off, still_masked):
    assert mask_text(text, options=PiiOptions(**{off: False}))[0] == still_masked


def test_enabled_false_turns_everything_off():
    text = "4111 1111 1111 1111, +7 916 123 45 67, ivan@mail.ru, four five seven eight"
    assert mask_text(text, options=PiiOptions(enabled=False)) == (text, ())
    assert "[" not in mask_text(text, options=PiiOptions(cards=False, phones=False, emails=False,
                                                         number_words=False))[0]


def test_min_number_words():
    assert mask_text("двадцать пять семь")[0] == "двадцать пять семь"
    assert mask_text("двадцать пять семь", options=PiiOptions(min_number_words=3))[0] == "[NUMBER]"
    with pytest.raises(ValueError, match="min_number_words"):
        PiiOptions(min_number_words=0)


def test_options_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PiiOptions().cards = False
    with pytest.raises(dataclasses.FrozenInstanceError):
        PiiMatch("card", 0, 1).kind = "phone"


def utterance(words, text=None, language="ru"):
    ws = tuple(Word(t, 1.0 + i, 1.5 + i, p) for i, (t, p) in enumerate(words))
    text = "".join(w.text for w in ws).strip() if text is None else text
    return Utterance("caller", ws[0].start_s, ws[-1].end_s, text, -0.2, language, ws)


def test_mask_utterances_merges_the_words_of_a_match_and_keeps_times():
    u = utterance([("Карта", 0.9), (" 4111", 0.8), (" 1111", 0.6), (" 1111", 0.7), (" 1111,", 0.9),
                   (" спасибо", 0.95)])
    (out,) = mask_utterances([u], options=PiiOptions())
    assert out.text == "Карта [CARD], спасибо"
    assert out.words == (u.words[0], Word(" [CARD],", 2.0, 5.5, 0.6), u.words[5])
    assert (out.party, out.start_s, out.end_s, out.language) == (u.party, u.start_s, u.end_s, u.language)


def test_mask_utterances_single_word_matches_and_untouched_utterances():
    u = utterance([("write", 0.9), (" ivan@mail.ru", 0.7), (" or", 0.9), (" call", 0.9),
                   (" 89161234567.", 0.5)], language="en")
    clean = utterance([("добрый", 0.9), (" день", 0.9)])
    out, same = mask_utterances([u, clean], options=PiiOptions())
    assert out.text == "write [EMAIL] or call [PHONE]."
    assert [w.text for w in out.words] == ["write", " [EMAIL]", " or", " call", " [PHONE]."]
    assert [(w.start_s, w.end_s) for w in out.words] == [(w.start_s, w.end_s) for w in u.words]
    assert same is clean


def test_mask_utterances_spoken_email_and_number_run():
    u = utterance([(" иван", 0.9), (" собака", 0.4), (" мейл", 0.9), (" точка", 0.9), (" ру", 0.8),
                   (" код", 0.9), (" один", 0.9), (" два", 0.3), (" три", 0.9), (" четыре", 0.9)])
    (out,) = mask_utterances([u], options=PiiOptions())
    assert out.text == "[EMAIL] код [NUMBER]"
    assert out.words == (Word(" [EMAIL]", 1.0, 5.5, 0.4), u.words[5], Word(" [NUMBER]", 7.0, 10.5, 0.3))


def test_mask_utterances_when_words_do_not_spell_the_text():
    # the utterance text was normalised differently from the words: the words are masked on their own
    u = utterance([("Card", 0.9), (" 4111", 0.8), (" 1111", 0.6), (" 1111", 0.7), (" 1111", 0.9)],
                  text="card number 4111111111111111")
    (out,) = mask_utterances([u], options=PiiOptions())
    assert out.text == "card number [CARD]"
    assert out.words == (u.words[0], Word(" [CARD]", 2.0, 5.5, 0.6))


def test_mask_utterances_off_and_idempotent():
    u = utterance([("карта", 0.9), (" 4111", 0.8), (" 1111", 0.6), (" 1111", 0.7), (" 1111", 0.9)])
    assert mask_utterances([u], options=PiiOptions(enabled=False)) == (u,)
    once = mask_utterances([u], options=PiiOptions())
    assert mask_utterances(once, options=PiiOptions()) == once
    assert mask_utterances([], options=PiiOptions()) == ()
