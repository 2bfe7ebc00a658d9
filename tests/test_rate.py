"""Speaking rate, articulation rate and rate match (criteria.md, "Speaking rate", "Matching over
time"): syllable counting, a real sentence with phone labels, a real phone call against its
transcript, and synthetic calls with set rates."""

import re

import numpy as np
import pytest

from speechqa.config import default_config
from speechqa.rate import (
    PairRate,
    assign_words,
    count_syllables,
    match_slope_per_min,
    pair_rates,
    party_rate,
    rate_metrics,
    speaking_spans,
)
from speechqa.testing import (
    ARPABET_VOWELS,
    PYANNOTE_SYLLABLES,
    read_hts_labels,
    read_stm,
    reference_words,
    speech_split_by_reference,
)
from speechqa.timeline import Turn, bridge_gaps, find_turns, total_s, union
from speechqa.transcript import Word

# --- syllable counting ---------------------------------------------------------------------------

RU_WORDS = {
    "молоко": 3, "МОЛОКО": 3, "Ёлка": 2, "ещё": 2, "съёмка": 2, "Юля": 2, "здравствуйте": 3,
    "в": 0, "с": 0, "объявление": 5, "Я": 1, "ЭТО": 2, "Мы": 1, "пожалуйста": 4, "спасибо": 3,
}

# Syllables as in the CMU Pronouncing Dictionary; common contact-centre words, including some the
# rules are known to miss ("science": 1, "every"-words and "maybe" are in the exception list).
EN_WORDS = {
    "hello": 2, "thank": 1, "you": 1, "please": 1, "account": 2, "number": 2, "payment": 2,
    "service": 2, "customer": 3, "problem": 2, "question": 2, "help": 1, "today": 2, "minute": 2,
    "moment": 2, "balance": 2, "card": 1, "transfer": 2, "order": 2, "delivery": 4, "address": 2,
    "email": 2, "phone": 1, "morning": 2, "afternoon": 3, "information": 4, "company": 3,
    "manager": 3, "available": 4, "refund": 2, "receive": 2, "called": 1, "wanted": 2,
    "changes": 2, "tables": 2, "actually": 4, "experience": 4, "going": 2, "client": 2,
    "understand": 3, "tomorrow": 3, "probably": 3, "little": 2, "people": 2, "time": 1, "make": 1,
    "issue": 2, "system": 2, "different": 3, "anything": 3, "sorry": 2, "okay": 2, "goodbye": 2,
    "support": 2, "contract": 2, "science": 2, "yes": 1, "unfortunately": 5, "immediately": 5,
    "statement": 2, "period": 3, "radio": 3, "quiet": 2, "usually": 4, "situation": 4,
}


def test_russian_syllables_are_vowel_letters():
    for word, expected in RU_WORDS.items():
        assert count_syllables(word, language="ru") == expected, word
    assert count_syllables("Здравствуйте,", language="ru") == 3     # punctuation ignored


def test_english_counter_accuracy():
    wrong = {w: (count_syllables(w, language="en"), n) for w, n in EN_WORDS.items()
             if count_syllables(w, language="en") != n}
    accuracy = 1 - len(wrong) / len(EN_WORDS)
    print(f"\nEnglish syllable counter: {accuracy:.1%} exact on {len(EN_WORDS)} words; misses "
          f"(counted, true): {wrong}")
    assert accuracy >= 0.9


def test_tokens_digits_and_placeholders():
    en = dict(language="en")
    assert [count_syllables(w, **en) for w in ("a", "I", "be", "", "-")] == [1, 1, 1, 0, 0]
    assert count_syllables("don't", **en) == 1 and count_syllables("They're", **en) == 1
    assert count_syllables("follow-up", **en) == 3
    assert count_syllables("7", **en) == 2                          # seven
    assert count_syllables("1,500", **en) == 6                      # one thousand five hundred
    assert count_syllables("2024", language="ru") == 9              # две тысячи двадцать четыре
    assert count_syllables("1000", language="ru") == 3              # тысяча
    assert count_syllables("15", language="ru") == 3                # пятнадцать
    assert count_syllables("007", **en) == 2 + 2 + 2                # zero zero seven
    assert count_syllables("89161234567", language="ru") == sum(    # read digit by digit
        count_syllables(d, language="ru") for d in "89161234567")
    assert count_syllables("[NUMBER]", **en) == 0
    assert count_syllables("iPhone", language="ru") == 2            # Latin letters: English rules
    with pytest.raises(ValueError, match="use one of"):
        count_syllables("hola", language="es")


# --- a real sentence: CMU ARCTIC a0009 with HTS phone labels -----------------------------------

A0009_TEXT = "He turned sharply, and faced Gregson across the table."
A0009_PHONES = "hh iy | t er n d | sh aa r p l iy | ae n d | f ey s t | g r eh g s ax n | ax k r ao s | dh ax | t ey b ax l"


def test_arctic_articulation_rate(fixtures_dir):
    import soundfile as sf

    lab, wav = fixtures_dir / "timing" / "arctic_a0009_phone.lab", fixtures_dir / "timing" / "arctic_a0009.wav"
    if not (lab.is_file() and wav.is_file()):
        pytest.skip(f"CMU ARCTIC a0009 fixture not found in {lab.parent}")
    rows = read_hts_labels(lab)
    assert rows[-1][1] == pytest.approx(sf.info(str(wav)).duration, abs=0.05)   # labels fit the audio
    spoken = [r for r in rows if r[2] not in ("sil", "pau")]

    groups: dict = {}                                  # phones into words by the word context fields
    for row in spoken:
        groups.setdefault(row[3], []).append(row)
    words_phones = list(groups.values())
    assert " | ".join(" ".join(r[2] for r in g) for g in words_phones) == A0009_PHONES   # the text is right
    words = [Word(text, g[0][0], g[-1][1], 1.0) for text, g in zip(A0009_TEXT.split(), words_phones)]

    speech = bridge_gaps(union(np.array([(r[0], r[1]) for r in spoken])), max_gap_s=0.25)
    true_syllables = sum(r[2] in ARPABET_VOWELS for r in spoken)
    assert true_syllables == int(re.search(r"/J:(\d+)\+", lab.read_text()).group(1))   # the label's own count
    true_rate = true_syllables / total_s(speech)

    turn = Turn("agent", float(speech[0, 0]), float(speech[-1, 1]))
    rate = party_rate(words, [turn], speech, language="en", min_speech_s=1.0)
    print(f"\nARCTIC a0009: true articulation rate {true_rate:.3f} syll/s ({true_syllables} syllables in "
          f"{total_s(speech):.3f} s); measured {rate.articulation_syll_per_s:.3f} syll/s "
          f"({rate.syllables} syllables, {rate.words} words)")
    assert rate.words == 9
    assert rate.articulation_syll_per_s == pytest.approx(true_rate, rel=0.05)


# --- a real phone call: pyannote's sample against its transcript ----------------------------------

PYANNOTE_PARTIES = {"Diane": "agent", "Sheila": "caller"}   # Diane opens the call


def test_real_call_rates_match_its_transcript(fixtures_dir):
    """The pyannote call through a phone line, our VAD's speech split between the two voices by
    the STM transcript (a perfect diarizer: diarization is tested on its own), turns found on it
    as measure does, and the transcript's words: each party's rates within 10 % of the truth,
    its words and hand-counted syllables over its own speaking time in the STM (the call has no
    pause of 0.25 s or more inside an utterance, so that is also its articulation time). Turn
    time read Diane 19 % slow: her first turn runs on over Sheila's "Hello?" and "Neither did
    I." and the silences around them."""
    import soundfile as sf

    from speechqa.testing import PHONE_RATE_HZ, phone_channel

    wav, stm = (fixtures_dir / "calls" / f"pyannote_phone_sample.{ext}" for ext in ("wav", "stm"))
    if not (wav.is_file() and stm.is_file()):
        pytest.skip(f"pyannote sample call not found in {wav.parent}")
    transcript = read_stm(stm)
    measure = default_config().measure
    signal, sr = sf.read(wav, dtype="float32")
    said = {party: np.array([(u.start_s, u.end_s) for u in transcript if u.speaker == name])
            for name, party in PYANNOTE_PARTIES.items()}
    speech = speech_split_by_reference(phone_channel(signal, sr), PHONE_RATE_HZ, said, measure=measure)
    turns, _ = find_turns(speech, options=measure.turns)
    words = {PYANNOTE_PARTIES[name]: w for name, w in reference_words(transcript).items()}
    m = rate_metrics(turns, words, speech, language="en")
    for name, party in PYANNOTE_PARTIES.items():
        own = [u for u in transcript if u.speaker == name]
        seconds = total_s(union(said[party]))
        true_wpm = sum(len(u.text.split()) for u in own) / seconds * 60
        true_syll_per_s = sum(PYANNOTE_SYLLABLES[u.text] for u in own) / seconds
        print(f"\n{name} ({party}): wpm {m[f'{party}_rate_wpm']:.1f} (true {true_wpm:.1f}), syll/s "
              f"{m[f'{party}_rate_syll_per_s']:.2f}, articulation {m[f'{party}_articulation_syll_per_s']:.2f} "
              f"(true {true_syll_per_s:.2f})")
        assert m[f"{party}_rate_wpm"] == pytest.approx(true_wpm, rel=0.10)
        assert m[f"{party}_rate_syll_per_s"] == pytest.approx(true_syll_per_s, rel=0.10)
        assert m[f"{party}_articulation_syll_per_s"] == pytest.approx(true_syll_per_s, rel=0.10)


def test_speaking_time_is_own_speech_and_own_silent_pauses():
    agent = np.array([[0.0, 2.0], [2.5, 4.0], [6.0, 8.0], [8.5, 9.0], [10.0, 12.0]])
    caller = np.array([[4.5, 5.0],      # a backchannel in the agent's 2 s gap: the caller's time
                       [8.2, 8.8],      # spoken over the agent's 8.0-8.5 pause: the caller's time
                       [13.0, 20.0]])
    turns = [Turn("agent", 0.0, 9.0), Turn("agent", 10.0, 12.0)]
    # 0-4 (0.5 s pause kept), 6-8, 8.5-9, 10-12: not 4-6 (the caller's "mm"), 8-8.5 (the caller
    # speaks in it), 9-10 (between two turns).
    np.testing.assert_allclose(speaking_spans(turns, agent, caller), [[0.0, 4.0], [6.0, 8.0], [8.5, 9.0], [10.0, 12.0]])
    assert total_s(speaking_spans(turns, agent, np.zeros((0, 2)))) == pytest.approx(11.0)   # alone: the turns
    rate = party_rate([Word("да", 1.0, 1.2, 1.0)] * 6, turns, agent, language="ru", min_speech_s=1.0, other_speech=caller)
    assert rate.speaking_s == pytest.approx(8.5) and rate.articulation_s == pytest.approx(8.0)
    assert rate.rate_wpm == pytest.approx(6 / 8.5 * 60)
    m = rate_metrics([*turns, Turn("caller", 13.0, 20.0)], {"agent": [Word("да", 1.0, 1.2, 1.0)] * 6},
                     {"agent": agent, "caller": caller}, language="ru", min_speech_s=1.0)
    assert m["agent_rate_wpm"] == pytest.approx(6 / 8.5 * 60)   # rate_metrics gives each party the other's speech


# Each party's rates and the ratio as realised by espeak-ng (samples/call_en_stereo.wav), as
# benchmarks/bench_rate.py measures them: the script's words and hand-counted syllables over the
# utterance times of the truth file, less the pauses >= 0.25 s inside them and the caller's
# masked card number. (wpm, syll/s, articulation syll/s); espeak-ng's -s 160 / 140 is no truth.
SAMPLE_TRUTH = {"agent": (198.1, 4.07, 4.28), "caller": (128.5, 3.00, 3.18)}


@pytest.mark.asr
def test_sample_call_rates_match_its_script():
    from pathlib import Path

    from speechqa.call import score_call
    from speechqa.errors import SpeechQAError

    try:
        m = score_call(Path(__file__).resolve().parents[1] / "samples" / "call_en_stereo.wav", config=default_config()).metrics
    except SpeechQAError as exc:
        pytest.skip(f"no speech recogniser: {exc}")
    for party, (wpm, syll_per_s, articulation) in SAMPLE_TRUTH.items():
        assert m[f"{party}_rate_wpm"] == pytest.approx(wpm, rel=0.10), m
        assert m[f"{party}_rate_syll_per_s"] == pytest.approx(syll_per_s, rel=0.10), m
        assert m[f"{party}_articulation_syll_per_s"] == pytest.approx(articulation, rel=0.10), m
    assert m["rate_ratio"] == pytest.approx(4.28 / 3.18, rel=0.10), m


def test_a_word_timed_just_outside_its_turn_belongs_to_it():
    turns = [Turn("agent", 1.0, 3.0), Turn("agent", 6.0, 8.0)]
    early, late, away, next_early = (Word("да", 0.7, 1.1, 0.9), Word("да", 3.1, 3.3, 0.9),
                                     Word("да", 4.0, 4.4, 0.9), Word("да", 5.7, 5.9, 0.9))
    # 0.1 s before the first turn, 0.2 s after it, 1.2 s from either (a backchannel's), 0.2 s before the second
    assert assign_words([early, late, away, next_early], turns) == [[early, late], [next_early]]


# --- synthetic calls with set rates --------------------------------------------------------------


def build_call(plan, *, syllables_per_word=2, segments=3, pause_s=0.5, gap_s=1.0, rng=None):
    """plan: [(party, articulation syll/s, words per segment)] in turn order. Words are Russian
    nonsense of a known vowel count, contiguous inside speech segments; segments are separated by
    pauses >= 0.25 s; turns by gap_s. Returns turns, words_by_party, speech_by_party."""
    turns, words, speech = [], {"agent": [], "caller": []}, {"agent": [], "caller": []}
    t = 0.0
    for party, rate, per_segment in plan:
        start = t
        for seg in range(segments):
            seg_start = t
            for _ in range(per_segment):
                n = syllables_per_word if rng is None else int(rng.integers(1, 5))
                length = n / rate * (1.0 if rng is None else rng.uniform(0.8, 1.2))
                words[party].append(Word("да" * n, t, t + length, 1.0))
                t += length
            speech[party].append((seg_start, t))
            if seg < segments - 1:
                t += pause_s
        turns.append(Turn(party, start, t))
        t += gap_s
    return turns, words, {p: np.array(s).reshape(-1, 2) for p, s in speech.items()}


def test_set_rates_give_exact_articulation_and_ratio():
    plan = [("caller", 4.0, 4), ("agent", 5.0, 5)] * 6
    turns, words, speech = build_call(plan)
    m = rate_metrics(turns, words, speech, language="ru")
    assert m["agent_articulation_syll_per_s"] == pytest.approx(5.0)
    assert m["caller_articulation_syll_per_s"] == pytest.approx(4.0)
    assert m["rate_ratio"] == pytest.approx(1.25, rel=0.01)
    # Speaking rate counts the pauses: agent turns are 3 x 2 s of speech + 2 x 0.5 s pauses = 7 s.
    assert m["agent_rate_syll_per_s"] == pytest.approx(30 / 7)
    assert m["agent_rate_wpm"] == pytest.approx(15 / 7 * 60)
    assert m["caller_rate_syll_per_s"] == pytest.approx(24 / 7)
    assert m["caller_rate_wpm"] == pytest.approx(12 / 7 * 60)
    assert m["rate_pairs"] == 6 and m["rate_ratio_pair_median"] == pytest.approx(1.25)
    assert m["rate_match_slope_per_min"] == pytest.approx(0.0, abs=1e-9)

    agent = party_rate(words["agent"], [t for t in turns if t.party == "agent"], speech["agent"], language="ru")
    assert (agent.words, agent.syllables) == (90, 180)
    assert agent.speaking_s == pytest.approx(42.0) and agent.articulation_s == pytest.approx(36.0)


@pytest.mark.parametrize("agent_rate,caller_rate", [(5.0, 4.0), (3.5, 6.0), (7.0, 7.0), (4.0, 8.0)])
def test_ratio_follows_set_rates_with_jittered_words(agent_rate, caller_rate):
    rng = np.random.default_rng(7)
    turns, words, speech = build_call([("caller", caller_rate, 5), ("agent", agent_rate, 5)] * 5, rng=rng)
    m = rate_metrics(turns, words, speech, language="ru")
    set_ratio = agent_rate / caller_rate
    print(f"\nset ratio {set_ratio:.3f}: measured {m['rate_ratio']:.3f}, pair median {m['rate_ratio_pair_median']:.3f}")
    assert m["rate_ratio"] == pytest.approx(set_ratio, rel=0.15)
    assert m["rate_ratio_pair_median"] == pytest.approx(set_ratio, rel=0.15)


def test_pair_ratios_and_rate_convergence():
    agent_rates = [6.0, 5.5, 5.0, 4.5, 4.0]          # the agent slows down to the caller's 4 syll/s
    plan = [p for r in agent_rates for p in (("caller", 4.0, 4), ("agent", r, 5))]
    turns, words, speech = build_call(plan)
    pairs = pair_rates(turns, words, speech, language="ru")
    assert all(isinstance(p, PairRate) and (p.caller.party, p.agent.party) == ("caller", "agent") for p in pairs)
    np.testing.assert_allclose([p.rate_ratio for p in pairs], np.array(agent_rates) / 4.0)
    m = rate_metrics(turns, words, speech, language="ru")
    expected = match_slope_per_min([p.agent.start_s for p in pairs], np.abs(np.log2(np.array(agent_rates) / 4.0)))
    assert m["rate_match_slope_per_min"] == pytest.approx(expected) and expected < 0

    # Agent->caller orders are no pairs (5 pairs in 10 turns); turns with too few words are no pair.
    assert len(pairs) == 5
    assert len(pair_rates(turns, words, speech, language="ru", min_pair_words=13)) == 0   # callers say 12


def test_match_slope():
    times = [0.0, 60.0, 120.0, 180.0]
    diffs = [6.0, -5.0, 4.0, -3.0]                    # |difference| shrinks by 1 dB per minute
    assert match_slope_per_min(times, np.abs(diffs)) == pytest.approx(-1.0)
    assert match_slope_per_min(times[:2], diffs[:2]) is None          # fewer than 3 pairs
    assert match_slope_per_min([5.0, 5.0, 5.0], [1.0, 2.0, 3.0]) is None
    with pytest.raises(ValueError, match="one time per value"):
        match_slope_per_min([1.0, 2.0], [1.0])


# --- edge cases ----------------------------------------------------------------------------------


def test_no_words_is_not_a_rate_of_zero():
    turn = Turn("agent", 0.0, 20.0)
    rate = party_rate([], [turn], np.array([[0.0, 18.0]]), language="en")
    assert (rate.words, rate.syllables) == (0, 0)
    assert rate.speaking_s == 18.0 and rate.articulation_s == 18.0     # no speech after 18 s: no pause either
    assert rate.rate_wpm is None and rate.rate_syll_per_s is None and rate.articulation_syll_per_s is None
    empty = party_rate([], [], np.zeros((0, 2)), language="en")
    assert empty.speaking_s == 0.0 and empty.rate_wpm is None


def test_one_party_silent():
    turns, words, speech = build_call([("agent", 5.0, 5)] * 3)
    m = rate_metrics(turns, {"agent": words["agent"]}, {"agent": speech["agent"]}, language="ru")
    assert m["agent_articulation_syll_per_s"] == pytest.approx(5.0)
    assert m["caller_rate_wpm"] is None and m["caller_articulation_syll_per_s"] is None
    assert m["rate_ratio"] is None and m["rate_pairs"] == 0 and m["rate_ratio_pair_median"] is None
    assert m["rate_match_slope_per_min"] is None


def test_words_outside_turns_punctuation_and_placeholders():
    turn = Turn("agent", 0.0, 10.0)
    speech = np.array([[0.0, 4.0], [5.0, 10.0]])      # a 1 s pause
    inside = [Word("мама", i, i + 1.0, 0.9) for i in (0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0, 9.0)]
    extra = [
        Word("папа", 10.2, 11.0, 0.9),                # midpoint after the turn: dropped
        Word("мама", 9.5, 10.3, 0.9),                 # midpoint 9.9 s, inside: kept
        Word("...", 3.0, 3.5, 0.5),                   # punctuation only: not a word
        Word("[NUMBER]", 6.0, 6.5, 0.9),              # a word of unknown syllables
    ]
    rate = party_rate(inside + extra, [turn], speech, language="ru", min_speech_s=5.0)
    assert rate.words == 11 and rate.syllables == 20
    assert rate.articulation_s == pytest.approx(9.0) and rate.speaking_s == pytest.approx(10.0)
    assert rate.articulation_syll_per_s == pytest.approx(20 / 9.0)
    assert rate.rate_wpm == pytest.approx(11 / 10 * 60)

    short = party_rate(inside, [turn], speech, language="ru", min_speech_s=9.5)   # too little speech
    assert short.rate_wpm is None and short.articulation_syll_per_s is None


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="one party's turns"):
        party_rate([], [Turn("agent", 0, 1), Turn("caller", 1, 2)], np.zeros((0, 2)), language="en")
    with pytest.raises(ValueError, match="use one of"):
        party_rate([], [], np.zeros((0, 2)), language="de")
