"""Script lexicons and time-aware script rules on hand-built calls with known answers."""

import json
from pathlib import Path

import pytest

from speechqa.lexicon import CATEGORIES, find, load_lexicon, normalise, tokenise
from speechqa.derive import Derived
from speechqa.judge import judge, total_score
from speechqa.metrics import METRIC_NAMES
from speechqa.options import Criterion, ScriptOptions
from speechqa.script import METRICS, script_metrics
from speechqa.timeline import Event, Turn
from speechqa.transcript import Utterance, Word

RU = load_lexicon("ru")
EN = load_lexicon("en")
OPTIONS = ScriptOptions()


def utt(party, start_s, end_s, text, language="ru", words=()):
    return Utterance(party, start_s, end_s, text, avg_logprob=-0.2, language=language, words=tuple(words))


def timed(party, start_s, text, *, step_s=0.5, language="ru"):
    """An utterance with one word every step_s seconds."""
    words = [Word(w, start_s + i * step_s, start_s + (i + 1) * step_s, 0.9) for i, w in enumerate(text.split())]
    return utt(party, start_s, words[-1].end_s, text, language, words)


def run(utterances, turns=(), events=(), lexicon=RU, **options):
    return script_metrics(list(utterances), list(turns), list(events), lexicon=lexicon, options=ScriptOptions(**options))


def found(lexicon, category, text):
    tokens = tokenise(text, language=lexicon.language)
    return [" ".join(t.surface for t in tokens[s:e]) for s, e in find(lexicon, category, tokens)]


# --- lexicons -------------------------------------------------------------------------------


def test_russian_inflected_forms_share_lemmas():
    assert normalise("Благодарю!", language="ru") == normalise("благодарить", language="ru")
    assert normalise("Уточните", language="ru") == normalise("уточнить", language="ru")
    assert normalise("помогу", language="ru") == normalise("помочь", language="ru")
    assert normalise("Ещё", language="ru") == ["еще"]


def test_inflected_phrases_match():
    assert found(RU, "thanks", "Хочу поблагодарить вас за ожидание") == ["поблагодарить"]
    assert found(RU, "thanks", "Благодарим за обращение") == ["благодарим"]
    assert found(RU, "clarifying", "Уточнить, пожалуйста, номер договора") == ["уточнить пожалуйста"]
    assert found(RU, "prohibited", "Ничем не можем вам помочь") == ["ничем не можем вам помочь"]
    assert found(RU, "farewell", "Всего вам доброго!") == ["всего вам доброго"]
    assert found(RU, "anything_else", "Могу ли я ещё чем-нибудь помочь?") == ["могу ли я еще чем-нибудь помочь"]


def test_slang_is_matched_as_said_not_through_its_standard_word():
    assert found(RU, "slang", "Щас гляну, короче, норм всё") == ["щас", "короче", "норм"]
    assert found(RU, "slang", "Сейчас проверю, это займёт около минуты") == []   # щас→сейчас, ок→около
    assert found(RU, "slang", "Ок, чё там у вас") == ["ок", "че"]
    assert found(EN, "slang", "I'm gonna check, dunno why") == ["gonna", "dunno"]


def test_profanity_stems_match_prefixed_and_inflected_forms_only():
    assert len(found(RU, "profanity", "да ёбаный стыд, заебали, идиоты")) == 3
    assert found(RU, "profanity", "Мы застрахуем себя и вас, это не оскорбление") == []
    assert found(EN, "profanity", "This fucking thing, what bullshit") == ["fucking", "bullshit"]
    assert found(EN, "profanity", "Let me assist you with the shipping") == []


def test_wildcard_and_exact_forms():
    assert found(EN, "farewell", "Thanks, have a wonderful day!") == ["have a wonderful day"]
    assert found(EN, "farewell", "We have a good offer") == []
    assert found(RU, "farewell", "Доброго дня!") == ["доброго дня"]
    assert found(RU, "farewell", "Добрый день!") == []          # same lemmas, but the greeting


def test_matches_are_leftmost_longest_and_do_not_overlap():
    assert found(RU, "prohibited", "Я не знаю.") == ["я не знаю"]
    assert found(RU, "prohibited", "Не знаю, не знаю") == ["не знаю", "не знаю"]


def test_packaged_lexicons_load_with_every_category():
    for lexicon in (RU, EN):
        assert set(lexicon.phrases) == set(CATEGORIES)
        assert lexicon.phrases["company"] == ()
        assert all(lexicon.phrases[c] for c in CATEGORIES if c != "company")
        assert all(len(lexicon.phrases[c]) <= 50 for c in CATEGORIES)
    assert load_lexicon("RU") is RU   # cached


def test_user_extension_adds_phrases():
    lexicon = load_lexicon("ru", extra={"company": ["Ромашка"], "prohibited": ["это не ко мне"]})
    assert found(lexicon, "company", "Компания «Ромашки» на связи") == ["ромашки"]
    assert found(RU, "company", "Компания «Ромашки» на связи") == []
    assert load_lexicon("ru", extra={"company": ["Ромашка"], "prohibited": ["это не ко мне"]}) is lexicon
    assert lexicon.phrases["greeting"] == RU.phrases["greeting"]


def test_unknown_category_or_language_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="greeting.*prohibited"):
        load_lexicon("ru", extra={"greetings": ["салют"]})
    with pytest.raises(ValueError, match="en, ru"):
        load_lexicon("de")
    with pytest.raises(ValueError, match="list of phrases"):
        load_lexicon("en", extra={"company": "Acme"})
    with pytest.raises(ValueError, match="no words"):
        load_lexicon("en", extra={"slang": ["* *"]})
    with pytest.raises(ValueError, match="unknown"):
        find(RU, "swearing", "текст")


# --- time-aware rules -------------------------------------------------------------------------


def ru_call():
    return [
        utt("agent", 1.0, 6.0, "Компания Ромашка, меня зовут Анна, здравствуйте! Разговор записывается."),
        utt("caller", 6.5, 10.0, "Здравствуйте, у меня не проходит платёж."),
        utt("agent", 10.5, 13.0, "Уточните, пожалуйста, номер карты"),
        utt("caller", 13.5, 16.0, "Сейчас, минутку. А сколько это займёт?"),
        utt("agent", 22.0, 26.0, "Щас гляну, короче, минут пять."),
        utt("caller", 26.5, 28.0, "Хорошо."),
        utt("agent", 28.5, 31.0, "Могу ли я ещё чем-нибудь помочь?"),
        utt("caller", 31.5, 32.5, "Нет, спасибо."),
        utt("agent", 33.0, 36.0, "Спасибо за обращение, всего доброго!"),
    ]


def test_russian_call_metrics_and_evidence():
    turns = [Turn("agent", 1.0, 6.0), Turn("caller", 6.5, 10.0), Turn("agent", 10.5, 13.0), Turn("caller", 13.5, 16.0)]
    events = [
        Event("backchannel", "agent", 8.0, 8.3),      # "угу" while the caller explains
        Event("backchannel", "caller", 11.0, 11.2),   # the caller's, not counted
        Event("interruption", "agent", 15.0, 15.8),   # inside the caller's question
        Event("interruption", "agent", 8.5, 9.5),     # inside a statement: not counted
    ]
    result = run(ru_call(), turns, events)
    m = result.metrics
    assert set(m) == set(METRICS)
    assert m["agent_greeting"] == 1 and result.evidence["agent_greeting"] == [(1.0, 6.0)]
    assert result.notes["agent_greeting"] == "здравствуйте"
    assert m["agent_self_introduction"] == 1 and m["agent_recording_notice"] == 1
    assert m["agent_anything_else"] == 1 and result.evidence["agent_anything_else"] == [(28.5, 31.0)]
    assert m["agent_thanks"] == 1 and m["agent_farewell"] == 1
    assert result.evidence["agent_farewell"] == [(33.0, 36.0)]
    assert m["agent_clarifying_questions"] == 2          # "Уточните, пожалуйста" and "…помочь?"
    assert m["agent_slang"] == 2 and result.notes["agent_slang"] == "«щас»; «короче»"
    assert result.evidence["agent_slang"] == [(22.0, 26.0), (22.0, 26.0)]   # one per occurrence
    assert m["agent_profanity"] == 0 and m["agent_prohibited"] == 0 and m["caller_profanity"] == 0
    assert m["agent_silences_after_question"] == 1      # 6 s of nothing after "…займёт?"
    assert result.evidence["agent_silences_after_question"] == [(13.5, 16.0)]
    assert m["agent_interruptions_in_question"] == 1
    assert m["agent_backchannels_in_caller_turns"] == 1
    assert result.evidence["agent_backchannels_in_caller_turns"] == [(8.0, 8.3)]


def test_greeting_late_in_the_call_does_not_count():
    call = [utt("agent", 0.0, 3.0, "Алло."), utt("caller", 3.5, 25.0, "Алло, алло, вы меня слышите?"),
            utt("agent", 30.0, 32.0, "Здравствуйте! Меня зовут Анна.")]
    result = run(call)
    assert result.metrics["agent_greeting"] == 0 and result.metrics["agent_self_introduction"] == 0
    assert result.evidence["agent_greeting"] == [(0.0, 3.0)]          # what was said in the window
    assert "0.0-10.0 s" in result.notes["agent_greeting"]
    assert run(call, greeting_within_s=40.0).metrics["agent_greeting"] == 1


def test_word_times_place_a_phrase_inside_a_long_utterance():
    text = "Да да слушаю вас секунду тут у меня всё зависло вот теперь здравствуйте"
    with_words = timed("agent", 0.0, text, step_s=1.5)           # "здравствуйте" at 16.5 s
    assert run([with_words]).metrics["agent_greeting"] == 0
    assert run([utt("agent", 0.0, 18.0, text)]).metrics["agent_greeting"] == 1   # utterance start


def test_farewell_and_thanks_in_the_middle_do_not_count():
    call = [
        utt("agent", 0.0, 3.0, "Здравствуйте!"),
        utt("agent", 5.0, 8.0, "Спасибо за ожидание. До свидания, то есть, секунду."),
        utt("caller", 9.0, 40.0, "Мне нужно рассказать всё по порядку, это долгая история."),
        utt("agent", 41.0, 60.0, "Понимаю, сейчас посмотрю ваш договор и всё исправлю."),
    ]
    m = run(call).metrics
    assert m["agent_farewell"] == 0 and m["agent_thanks"] == 0
    assert run(call, closing_within_s=60.0).metrics["agent_farewell"] == 1


def test_clarifying_questions_by_mark_question_word_and_phrase():
    call = [
        utt("agent", 0.0, 2.0, "Какой у вас номер договора?"),               # "?"
        utt("agent", 3.0, 5.0, "Когда вы оформляли карту"),                  # question word, no "?"
        utt("agent", 6.0, 8.0, "Правильно ли я понимаю вы хотите закрыть счёт"),   # "* ли" and phrase
        utt("agent", 9.0, 11.0, "Если я правильно понял, платёж не прошёл."),  # clarifying phrase
        utt("agent", 12.0, 14.0, "Я проверю и перезвоню."),                   # a statement
        utt("agent", 15.0, 17.0, "Ваш договор действует до марта."),
    ]
    result = run(call)
    assert result.metrics["agent_clarifying_questions"] == 4
    assert result.evidence["agent_clarifying_questions"] == [(0.0, 2.0), (3.0, 5.0), (6.0, 8.0), (9.0, 11.0)]
    english = [utt("agent", 0, 2, "Could you clarify the date", "en"), utt("agent", 3, 4, "Have a nice day.", "en"),
               utt("agent", 5, 6, "do you mean the card", "en"), utt("agent", 7, 8, "Sure, I see.", "en")]
    assert run(english, lexicon=EN).metrics["agent_clarifying_questions"] == 2


def test_slang_profanity_and_prohibited_counts():
    call = [
        utt("agent", 0.0, 3.0, "Здравствуйте. Блин, щас всё ваще зависло."),
        utt("caller", 3.5, 6.0, "Да вы там совсем охуели, идиоты!"),
        utt("agent", 6.5, 9.0, "Успокойтесь. Я не знаю, это не моя проблема."),
        utt("agent", 9.5, 11.0, "Сами вы дурак."),
    ]
    result = run(call)
    m = result.metrics
    assert m["agent_slang"] == 3
    assert m["caller_profanity"] == 2 and m["agent_profanity"] == 1
    assert m["agent_prohibited"] == 3
    assert result.notes["agent_prohibited"] == "«успокойтесь»; «я не знаю»; «это не моя проблема»"
    assert result.evidence["agent_profanity"] == [(9.5, 11.0)]


def test_silence_after_a_caller_question():
    call = [
        utt("agent", 0.0, 2.0, "Здравствуйте."),
        utt("caller", 2.5, 4.0, "Когда придут деньги?"),
        utt("agent", 6.0, 8.0, "Завтра."),                                  # 2 s: fine
        utt("caller", 8.5, 10.0, "А можно быстрее?"),
        utt("caller", 10.2, 14.0, "Мне очень нужно к пятнице."),             # goes on talking: no silence
        utt("agent", 20.0, 22.0, "Посмотрю."),
        utt("caller", 22.5, 24.0, "Вы меня слышите?"),
        utt("caller", 31.0, 32.0, "Алло?"),                                   # 7 s of nothing: counted
        utt("agent", 32.5, 33.0, "Да-да."),
    ]
    result = run(call)
    assert result.metrics["agent_silences_after_question"] == 1
    assert result.evidence["agent_silences_after_question"] == [(22.5, 24.0)]
    assert result.notes["agent_silences_after_question"].startswith("«7.0 s after")
    assert run(call, question_silence_s=1.0).metrics["agent_silences_after_question"] == 2   # + the 2 s one
    last = call + [utt("caller", 40.0, 41.0, "Спасибо?")]                     # the call ends: nothing to measure
    assert run(last).metrics["agent_silences_after_question"] == 1


def test_interruption_inside_the_question_sentence_only():
    question = timed("caller", 10.0, "Я звонил вчера. Когда мне вернут деньги?", step_s=1.0)   # "Когда" at 13 s
    call = [utt("agent", 0.0, 2.0, "Слушаю вас."), question, utt("agent", 17.0, 18.0, "Завтра.")]
    during_story = [Event("interruption", "agent", 11.2, 12.0)]
    during_question = [Event("interruption", "agent", 14.5, 15.5)]
    by_caller = [Event("interruption", "caller", 14.5, 15.5)]
    assert run(call, events=during_story).metrics["agent_interruptions_in_question"] == 0
    result = run(call, events=during_question)
    assert result.metrics["agent_interruptions_in_question"] == 1
    assert result.evidence["agent_interruptions_in_question"] == [(10.0, 17.0)]
    assert run(call, events=by_caller).metrics["agent_interruptions_in_question"] == 0


def test_backchannels_counted_inside_caller_turns_only():
    call = [utt("agent", 0.0, 2.0, "Слушаю."), utt("caller", 2.5, 20.0, "Длинная история про платёж.")]
    turns = [Turn("agent", 0.0, 2.0), Turn("caller", 2.5, 20.0)]
    events = [Event("backchannel", "agent", 5.0, 5.3), Event("backchannel", "agent", 12.0, 12.4),
              Event("backchannel", "agent", 21.0, 21.3), Event("backchannel", "caller", 1.0, 1.2)]
    result = run(call, turns, events)
    assert result.metrics["agent_backchannels_in_caller_turns"] == 2
    assert result.evidence["agent_backchannels_in_caller_turns"] == [(5.0, 5.3), (12.0, 12.4)]


def test_company_name_from_configuration_counts_as_introduction():
    call = [utt("agent", 0.0, 3.0, "Банк Ромашка, здравствуйте.")]
    assert run(call).metrics["agent_self_introduction"] == 0
    lexicon = load_lexicon("ru", extra={"company": ["банк Ромашка"]})
    result = run(call, lexicon=lexicon)
    assert result.metrics["agent_self_introduction"] == 1
    assert result.notes["agent_self_introduction"] == "банк ромашка"


def test_english_call():
    call = [
        utt("agent", 0.5, 5.0, "Thank you for calling Acme, this is Anna. This call may be recorded.", "en"),
        utt("caller", 5.5, 8.0, "Hi, my order never arrived. Where is it?", "en"),
        utt("agent", 8.5, 12.0, "I dunno, that's not my problem, you gotta call the courier.", "en"),
        utt("agent", 12.5, 14.0, "Anything else I can help you with?", "en"),
        utt("caller", 14.5, 15.0, "No.", "en"),
        utt("agent", 15.5, 18.0, "Thanks, have a great day, goodbye!", "en"),
    ]
    m = run(call, lexicon=EN).metrics
    assert m["agent_greeting"] == m["agent_self_introduction"] == m["agent_recording_notice"] == 1
    assert m["agent_anything_else"] == m["agent_thanks"] == m["agent_farewell"] == 1
    assert m["agent_slang"] == 2 and m["agent_prohibited"] == 1 and m["agent_profanity"] == 0
    assert m["agent_clarifying_questions"] == 1 and m["agent_silences_after_question"] == 0


def test_no_agent_utterances_gives_none():
    result = run([utt("caller", 0.0, 2.0, "Алло, блядь, есть кто?")])
    assert all(result.metrics[name] is None for name in METRICS if name.startswith("agent_"))
    assert result.notes["agent_greeting"] == "the agent said nothing"
    assert result.metrics["caller_profanity"] == 1
    assert run([]).metrics["caller_profanity"] is None


def test_missing_recording_notice_can_be_a_fatal_criterion():
    result = run([utt("agent", 0.0, 3.0, "Здравствуйте!"), utt("agent", 70.0, 72.0, "Разговор записывается.")])
    assert result.metrics["agent_recording_notice"] == 0          # said, but after the first 60 s
    criteria = (
        Criterion("notice", "agent_recording_notice", "min", 1, fatal=True),
        Criterion("greeting", "agent_greeting", "min", 1),
    )
    every = {name: None for name in METRIC_NAMES} | result.metrics
    derived = Derived(metrics=every, unmeasured={}, events=(), evidence=result.evidence, notes=result.notes)
    verdicts = judge(derived, criteria)
    assert [v.verdict for v in verdicts] == ["fail", "pass"]
    assert total_score(verdicts).total == 0.0 and total_score(verdicts).fatal_failures == ("notice",)


def test_options_must_be_positive():
    with pytest.raises(ValueError, match="greeting_within_s"):
        ScriptOptions(greeting_within_s=0)


# --- self-introduction as agents say it -------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def introduced(lexicon, text):
    return found(lexicon, "self_introduction", text)


@pytest.mark.parametrize("text, said", [
    ("Thank you for calling Acme. I'm Michelle. How can I help you?", "i'm michelle"),   # the call
    ("Thank you for calling Acme support, my name is John, how can I help you today?", "my name is john"),
    ("Hi, this is Anna from the billing team.", "this is anna"),
    ("Acme Bank, Carrie speaking, how can I help you?", "carrie speaking"),
    ("Good morning, I am David.", "i am david"),
    ("You're speaking with Tom, how may I help?", "you're speaking with tom"),
    ("my name is michelle and i'm here to help", "my name is michelle"),   # no capital needed here
])
def test_english_introductions(text, said):
    assert introduced(EN, text) == [said]


@pytest.mark.parametrize("text", [
    "This is a problem.", "this is great", "I'm sorry to hear that.", "I'm calling about my bill.",
    "I'm afraid I can't do that.", "Generally speaking, yes.", "Yes, speaking.", "Who am I speaking with?",
    "I'm OK, thanks.", "She called his name many times.", "My name is not important.",
    "i'm michelle",              # one case only: the capital says nothing, and "I'm" opens many sentences
    "I'm michelle",              # cased, and the word after "I'm" is not written as a name
])
def test_english_sentences_that_are_no_introduction(text):
    assert introduced(EN, text) == []


@pytest.mark.parametrize("text, said", [
    ("Здравствуйте, компания «Ромашка», меня зовут Анна, чем могу помочь?", "меня зовут анна"),
    ("Добрый день, это Ольга, чем могу помочь?", "это ольга"),
    ("добрый день это ольга", "это ольга"),                      # no capital needed: the dictionary knows her
    ("Здравствуйте, на связи Дмитрий.", "на связи дмитрий"),
    ("Оператор Михаил, здравствуйте.", "оператор михаил"),
    ("С вами Юлия, слушаю вас.", "с вами юлия"),
    ("Добрый вечер, с вами говорит Анастасия.", "с вами говорит анастасия"),
    ("Вас приветствует компания Ромашка.", "вас приветствует компания"),
    ("Меня зовут Айгуль.", "меня зовут айгуль"),
])
def test_russian_introductions(text, said):
    assert introduced(RU, text) == [said]


@pytest.mark.parametrize("text", [
    "Это проблема.", "Это я.", "это хорошо", "Эта конференция теперь закрыта.", "С вами свяжутся.",
    "Ожидайте, пожалуйста, ответа оператора.", "Нажмите 0 для связи с оператором.", "На связи, слушаю.",
    "Меня зовут, э, как вас зовут?",
])
def test_russian_sentences_that_are_no_introduction(text):
    assert introduced(RU, text) == []


def test_an_introduction_asked_is_not_one_said():
    # An outbound agent checking whom she reached names the caller, not herself.
    assert run([utt("agent", 0.0, 3.0, "Здравствуйте, это Анна Петровна?")]).metrics["agent_self_introduction"] == 0
    assert run([utt("agent", 0.0, 3.0, "Здравствуйте, это Анна. Вам удобно говорить?")]).metrics["agent_self_introduction"] == 1
    asked = timed("agent", 0.0, "Здравствуйте, это Анна? Вам удобно говорить?")
    assert run([asked]).metrics["agent_self_introduction"] == 0
    said = "Thank you for calling Acme, my name is John, how can I help you?"
    assert run([utt("agent", 0.0, 4.0, said, "en")], lexicon=EN).metrics["agent_self_introduction"] == 1
    assert run([timed("agent", 0.0, said, language="en")], lexicon=EN).metrics["agent_self_introduction"] == 1


def test_the_capital_of_a_word_is_read_from_the_whole_utterance():
    """Words come one by one ("I'm" alone has both cases, "MICHELLE" one): whether a capital
    means anything is read from the whole utterance."""
    said = timed("agent", 0.0, "Thank you for calling. I'm Michelle. How can I help you?", language="en")
    result = run([said], lexicon=EN)
    assert result.metrics["agent_self_introduction"] == 1 and result.notes["agent_self_introduction"] == "i'm michelle"
    assert result.evidence["agent_self_introduction"] == [(0.0, said.end_s)]
    shouted = timed("agent", 0.0, "THANK YOU FOR CALLING. I'M MICHELLE.", language="en")
    assert run([shouted], lexicon=EN).metrics["agent_self_introduction"] == 0


def test_the_company_from_configuration_introduces_in_english_too():
    call = [utt("agent", 0.0, 3.0, "Thank you for calling Acme support, how can I help you?", "en")]
    assert run(call, lexicon=EN).metrics["agent_self_introduction"] == 0
    result = run(call, lexicon=load_lexicon("en", extra={"company": ["Acme support"]}))
    assert result.metrics["agent_self_introduction"] == 1 and result.notes["agent_self_introduction"] == "acme support"


def test_a_user_not_name_and_a_bad_slot_are_taken_from_configuration():
    assert introduced(load_lexicon("en", extra={"not_names": ["Acme"]}), "This is Acme support.") == []
    assert introduced(EN, "This is Acme support.") == ["this is acme"]
    with pytest.raises(ValueError, match="the slots are {name} and {Name}"):
        load_lexicon("en", extra={"self_introduction": ["call me {first}"]})


# Real openings: the fixture calls' reference transcripts and the samples' scripts.


def stm_utterances(path: Path, agent: str) -> list[Utterance]:
    """An STM file's lines as utterances, `agent`'s as the agent's."""
    rows = [line.split(maxsplit=5) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [utt("agent" if who == agent else "caller", float(a), float(b), text, "en") for _, _, who, a, b, text in rows]


def test_real_phone_call_openings_from_their_reference_transcript():
    stm = FIXTURES / "calls" / "pyannote_phone_sample.stm"
    if not stm.exists():
        pytest.skip(f"real-speech fixtures not found at {FIXTURES}")
    lines = [(u.text, introduced(EN, u.text)) for u in stm_utterances(stm, "Diane")]
    assert [(text, said) for text, said in lines if said] == [
        ("This is Diane in New Jersey.", ["this is diane"]),
        ("And I'm Sheila in Texas, originally from Chicago.", ["i'm sheila"]),
    ]
    # "I'm originally from Chicago also.", "I'm in New Jersey now though.", "I didn't know you were there." ...
    assert sum(1 for _, said in lines if not said) == 11
    for agent, first_words_s, said in (("Diane", 6.68, "this is diane"), ("Sheila", 7.634, "i'm sheila")):
        result = run(stm_utterances(stm, agent), lexicon=EN)
        assert (result.metrics["agent_self_introduction"], result.notes["agent_self_introduction"]) == (1, said)
        assert result.evidence["agent_self_introduction"][0][0] <= first_words_s + OPTIONS.greeting_within_s


def test_real_read_speech_references_hold_no_introduction():
    """The Russian telephone prompts ("...ответа оператора", "...связи с оператором") and the
    read sentences of the fixtures are no introductions."""
    prompts = FIXTURES / "asr" / "asterisk_ru" / "transcripts.tsv"
    harvard = FIXTURES / "asr" / "osr_harvard72_8k.txt"
    if not prompts.exists():
        pytest.skip(f"real-speech fixtures not found at {FIXTURES}")
    russian = [line.split("\t", 1)[1] for line in prompts.read_text(encoding="utf-8").splitlines() if "\t" in line]
    russian += ["бедняга ребят на его месте должен был быть я", "нейронные сети это хорошо"]   # deepspeech_ru, pisets_ru
    english = [line for line in harvard.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    english.append("And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.")
    assert len(russian) == 42 and len(english) == 11
    assert [t for t in russian if introduced(RU, t)] == [] and [t for t in english if introduced(EN, t)] == []


@pytest.mark.parametrize("name, lexicon, said", [
    ("call_en_stereo", EN, "my name is john"), ("call_ru_mono", RU, "меня зовут анна"),
])
def test_the_samples_scripted_openings(name, lexicon, said):
    truth = json.loads((SAMPLES / f"{name}.truth.json").read_text(encoding="utf-8"))
    utterances = [utt(u["party"], u["start_s"], u["end_s"], u["text"], lexicon.language) for u in truth["utterances"]]
    result = run(utterances, lexicon=lexicon)
    assert (result.metrics["agent_self_introduction"], result.notes["agent_self_introduction"]) == (1, said)
    assert [u.text for u in utterances[1:] if introduced(lexicon, u.text)] == []   # "I am sorry to hear that." ...
