"""Tonality (speechqa.sentiment): known answers on hand-written utterances in Russian and English,
negation, the speech rules, abstention, the derive -> warehouse rows -> rescore round trip, and
the accuracy on the hand-labelled sets in tests/data (the figures in the README, Tonality)."""

import dataclasses
import math

import pytest

from benchmarks.bench_sentiment import accuracy, read_hand_set, speechqa_scorer
from speechqa.call import CallResult, assess
from speechqa.config import default_config
from speechqa.options import SentimentOptions
from speechqa.sentiment import SENTIMENT_METRICS, load_valences, tone_metrics, utterance_scores, utterance_tone
from speechqa.transcript import Utterance, Word
from test_derive import built_call, same, stored_and_read_back

DEFAULT = default_config()


def norm(s: float) -> float:
    return s / math.sqrt(s * s + 15)


def score(text: str, language: str) -> float:
    return utterance_tone(text, language=language).score


@pytest.mark.parametrize("text, language, valence", [
    ("This is good.", "en", 1.9),
    ("This is not bad.", "en", -2.5 * -0.74),
    ("This is not good.", "en", 1.9 * -0.74),
    ("It's very bad.", "en", -2.5 - 0.293),
    ("No problem at all.", "en", -1.7 * -0.74),
    ("Это хорошо.", "ru", 1.9),
    ("Это не плохо.", "ru", -2.5 * -0.74),
    ("Это не хорошо.", "ru", 1.9 * -0.74),
    ("Неплохо.", "ru", 1.5),                      # listed as such
    ("Было очень плохо.", "ru", -2.5 - 0.293),
    ("Без проблем.", "ru", -1.7 * -0.74),
    ("Ужасное обслуживание.", "ru", -3.1),        # an inflected form of the lemma "ужасный"
    ("Всё нехорошо.", "ru", 1.9 * -0.74),         # "не..." not listed: its remainder negated
])
def test_known_answers_with_negation(text, language, valence):
    assert score(text, language) == pytest.approx(norm(valence), abs=1e-9)


def test_contrast_exclamation_and_the_words_of_conversation():
    # after "but" 1.5 x, before it 0.5 x
    en, ru = load_valences("en"), load_valences("ru")
    assert score("Good, but terrible.", "en") == pytest.approx(norm(0.5 * en["good"] + 1.5 * en["terrible"]))
    # an opening "хорошо" is the answer "okay"
    assert score("Хорошо, но медленно.", "ru") == pytest.approx(norm(1.5 * ru["медленно"]))
    assert score("Great!", "en") == pytest.approx(norm(3.1 + 0.292))
    # answers, backchannels and fillers carry nothing; "like" after a person does
    for text in ("Yeah, okay, sure.", "Well, it's like a box.", "Да, ладно, понятно.", "Хорошо, я понял."):
        assert score(text, "en" if text.isascii() else "ru") == 0.0, text
    assert score("I like it.", "en") == pytest.approx(norm(1.5))
    assert score("I'd like to know my balance.", "en") == 0.0
    assert score("Всё хорошо.", "ru") == pytest.approx(norm(1.9))   # praise, not the answer "okay"


def test_masked_numbers_are_no_words():
    tone = utterance_tone("My card is [CARD], thanks.", language="en")   # my, card, is, thanks
    assert tone.words == 4 and tone.score == pytest.approx(norm(1.9))


def test_the_shipped_lexicons_load_and_are_on_one_scale():
    for language in ("ru", "en"):
        valences = load_valences(language)
        assert len(valences) > 300 and all(-4 <= v <= 4 for v in valences.values())
    with pytest.raises(ValueError, match="no sentiment lexicon"):
        load_valences("de")


def said(party: str, start_s: float, text: str, language: str = "ru") -> Utterance:
    words = tuple(Word(w, start_s + 0.4 * i, start_s + 0.4 * i + 0.35, 0.9) for i, w in enumerate(text.split()))
    return Utterance(party, start_s, words[-1].end_s, text, -0.2, language, words)


NEUTRAL = "Я звоню по поводу заказа номер сорок два из магазина на улице"     # 12 words, no valence
ANGRY = "Это просто безобразие, у меня ничего не работает уже третий день подряд"
HAPPY = "Отлично, всё заработало, огромное спасибо вам за помощь и терпение"


def ru_call():
    return [
        said("agent", 0.0, "Здравствуйте, компания Альфа, меня зовут Анна, чем могу помочь?"),
        said("caller", 5.0, ANGRY), said("caller", 10.0, ANGRY),
        said("agent", 15.0, "Сейчас проверю, одну минуту."),
        said("caller", 20.0, NEUTRAL), said("caller", 26.0, NEUTRAL),
        said("agent", 31.0, "Всё исправлено, попробуйте ещё раз."),
        said("caller", 36.0, HAPPY), said("caller", 41.0, HAPPY),
    ]


def test_party_mean_trend_and_the_most_negative_moments():
    result = tone_metrics(ru_call(), language="ru", options=SentimentOptions())
    m = result.metrics
    angry, happy = score(ANGRY, "ru"), score(HAPPY, "ru")
    assert angry < -0.5 and happy > 0.5 and score(NEUTRAL, "ru") == 0.0
    n = {t: utterance_tone(t, language="ru").words for t in (ANGRY, NEUTRAL, HAPPY)}
    total = 2 * sum(n.values())
    assert m["caller_sentiment_words"] == total
    assert m["caller_sentiment_mean"] == pytest.approx(2 * (angry * n[ANGRY] + happy * n[HAPPY]) / total)
    assert m["caller_sentiment_trend"] == pytest.approx(happy - angry)   # the mood improved
    assert m["caller_negative_utterances"] == 2
    assert result.evidence["caller_sentiment_trend"][0] == (5.0, round(5.0 + 0.4 * (n[ANGRY] - 1) + 0.35, 2))
    assert "безобразие" in result.notes["caller_sentiment_mean"] and "first third" in result.notes["caller_sentiment_trend"]
    # the agent said 18 words: under min_words, so its figures abstain, with why
    assert m["agent_sentiment_words"] == 18 and m["agent_sentiment_mean"] is None
    assert "too few words from the agent" in result.reasons["agent_sentiment_mean"]
    assert set(m) == set(SENTIMENT_METRICS)


def test_abstention_when_the_evidence_is_thin():
    calls = [said("caller", 0.0, ANGRY), said("caller", 5.0, HAPPY)]
    m = tone_metrics(calls, language="ru", options=SentimentOptions()).metrics
    assert m["caller_sentiment_mean"] is not None and m["caller_sentiment_trend"] is None   # 24 words < 60
    one = tone_metrics([said("caller", 0.0, " ".join([ANGRY] * 6))], language="ru", options=SentimentOptions())
    assert one.metrics["caller_sentiment_trend"] is None and "too few utterances" in one.reasons["caller_sentiment_trend"]
    other = tone_metrics(calls, language="de", options=SentimentOptions())
    assert all(v is None for v in other.metrics.values()) and "no sentiment lexicon" in other.reasons["caller_sentiment_mean"]
    assert utterance_scores(calls, language="de") == (None, None)
    with pytest.raises(ValueError, match="negative_at"):
        SentimentOptions(negative_at=1.5)


def test_derive_and_the_warehouse_round_trip_give_the_same_tonality():
    m = built_call(language="ru", utterances=tuple(ru_call()))
    assessment = assess(m, score=DEFAULT.score)
    result = CallResult(call_id="c", path="call.wav", sample_rate_hz=8000, channels=2, source_format="WAV",
                        measurement=m, assessment=assessment, measure_hash="m", score_hash="s")
    rescored = assess(stored_and_read_back(result), score=DEFAULT.score)
    a, b = assessment.derived, rescored.derived
    assert a.metrics["caller_sentiment_trend"] > 1.0
    for name in SENTIMENT_METRICS:
        assert same(a.metrics[name], b.metrics[name]), name
        assert a.evidence.get(name) == b.evidence.get(name) and a.notes.get(name) == b.notes.get(name)
    verdict = {v.id: v for v in rescored.verdicts}["caller_mood"]
    assert verdict.verdict == "pass" and verdict.evidence[0][0] == 5.0
    # a [score] change re-applied to the stored words: a stricter negative_at counts fewer
    strict = dataclasses.replace(DEFAULT.score, sentiment=SentimentOptions(negative_at=0.95))
    assert assess(stored_and_read_back(result), score=strict).derived.metrics["caller_negative_utterances"] == 0


# The figures the README reports (Tonality); a change to the lexicons or rules that moves them
# must move the README too.
@pytest.mark.parametrize("language, polar, three", [("ru", (64, 72), (122, 132)), ("en", (35, 44), (46, 60))])
def test_accuracy_on_the_hand_labelled_sets(language, polar, three):
    found = accuracy(read_hand_set(language), speechqa_scorer(language))
    assert (found.polar_right, found.polar) == polar and (found.three_right, found.items) == three
