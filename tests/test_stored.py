"""Rescoring a stored call gives what processing its audio again gives, for any change confined
to [score]: real calls measured once, rescored under a changed [score], against a fresh score_call
with that configuration. Also known answers of score_stored on a hand-built call, and a round trip
of a StoredCall through plain rows."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from speechqa.call import judge, rescore_call, score_call
from speechqa.config import default_config
from speechqa.stored import AUDIO_METRIC_NAMES, LevelPair, StoredCall, score_stored
from speechqa.transcript import Utterance, Word

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
DEFAULT = default_config()
NO_ASR = dataclasses.replace(
    DEFAULT, measure=dataclasses.replace(DEFAULT.measure, asr=dataclasses.replace(DEFAULT.measure.asr, enabled=False))
)

# Pair levels are P.56 over turns: rescoring keeps the pairs as measured (StoredCall docstring),
# so where new timing moves the turns, these (and the evidence of level_diff_db) may differ.
PAIR_METRICS = {"level_pairs", "level_diff_pair_median_db", "level_match_slope_db_per_min"}
PAIR_EVIDENCE = {"level_diff_db", "level_diff_pair_median_db"}
TIMING_B = dict(dead_air_s=5.0, floor_take_s=1.5, pause_min_s=0.5, interruption_grace_s=0.3, slow_reply_s=1.0)


def with_score(config, *, timing=None, script=None, lexicon=None, thresholds=None):
    """`config` with only [score] changed."""
    score = config.score
    if timing:
        score = dataclasses.replace(score, timing=dataclasses.replace(score.timing, **timing))
    if script:
        score = dataclasses.replace(score, script=dataclasses.replace(score.script, **script))
    if lexicon:
        score = dataclasses.replace(score, lexicon=lexicon)
    if thresholds:
        criteria = tuple(dataclasses.replace(c, threshold=thresholds.get(c.id, c.threshold)) for c in score.criteria)
        score = dataclasses.replace(score, criteria=criteria)
    return dataclasses.replace(config, score=score)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9
    return a == b and type(a) is type(b)


def pair_rows(pairs):
    return [(p.caller_start_s, p.caller_end_s, p.agent_start_s, p.agent_end_s, p.level_diff_db) for p in pairs]


def assert_rescore_equals_fresh(rescored, fresh, measured):
    """rescored: rescore_call's (derived, verdicts, score); fresh: score_call with the new config;
    measured: score_call with the old one, whose measurement.stored was rescored. Everything is
    equal but the pair figures where the new turns moved the pairs; those equal what was measured.
    Returns whether the pairs moved."""
    derived, verdicts, total = rescored
    m = fresh.measurement
    moved = pair_rows(m.turn_pairs) != pair_rows(measured.measurement.turn_pairs)
    skip = PAIR_METRICS if moved else set()
    differ = [(k, derived.metrics[k], v) for k, v in m.metrics.items() if k not in skip and not same(derived.metrics[k], v)]
    assert not differ, differ
    for name in PAIR_METRICS:   # kept as measured, whatever the new timing
        assert same(derived.metrics[name], measured.measurement.metrics[name]), name
    assert {k: v for k, v in derived.unmeasured.items() if k not in skip} == {
        k: v for k, v in m.unmeasured.items() if k not in skip}
    assert derived.turns == m.turns and derived.events == m.events and derived.notes == m.notes
    evidence_skip = PAIR_EVIDENCE if moved else set()
    assert {k: v for k, v in derived.evidence.items() if k not in evidence_skip} == {
        k: v for k, v in m.evidence.items() if k not in evidence_skip}
    assert [v.id for v in verdicts] == [v.id for v in fresh.verdicts]
    for r, f in zip(verdicts, fresh.verdicts):
        if r.metric in skip:
            continue
        assert (r.verdict, r.note) == (f.verdict, f.note), r.id
        assert same(r.value, f.value) and same(r.support, f.support), r.id
        if not (moved and r.metric in PAIR_EVIDENCE):
            assert r.evidence == f.evidence, r.id
    assert same(total.total, fresh.score.total) and same(total.abstained_weight, fresh.score.abstained_weight)
    assert total.fatal_failures == fresh.score.fatal_failures
    return moved


def assert_pair_levels_agree(fresh, measured):
    """A pair whose two turns did not move has the same level difference measured either way."""
    stored = {row[:4]: row[4] for row in pair_rows(measured.measurement.turn_pairs)}
    common = [row for row in pair_rows(fresh.measurement.turn_pairs) if row[:4] in stored]
    assert common, "no pair kept its turns: nothing to compare"
    for row in common:
        assert row[4] == pytest.approx(stored[row[:4]], abs=1e-9)


# --- real calls, no ASR ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def en_call():
    path = SAMPLES / "call_en_stereo.wav"
    b = with_score(NO_ASR, timing=TIMING_B, thresholds={"no_dead_air": 2.0})
    return score_call(path, config=NO_ASR), score_call(path, config=b), b


def test_rescore_equals_fresh_scoring_of_the_sample_call(en_call):
    measured, fresh, b = en_call
    rescored = rescore_call(measured.measurement.stored, score=b.score)
    assert_rescore_equals_fresh(rescored, fresh, measured)
    a_metrics, b_metrics = measured.measurement.metrics, rescored[0].metrics
    # The script's one dead air (28.52-32.02 s, 3.5 s) is dead air under T = 3 s, not under 5 s.
    assert (a_metrics["silence_count"], b_metrics["silence_count"]) == (1, 0)
    assert b_metrics["agent_pauses_per_min"] < a_metrics["agent_pauses_per_min"]
    verdict = {v.id: v.verdict for v in rescored[1]}
    assert verdict["no_dead_air"] == "pass"   # 0 s <= 2 s; under A, 3.5 s fails a 2 s threshold
    assert {v.id: v.verdict for v in judge(measured.measurement, b.score.criteria)}["no_dead_air"] == "fail"


def test_rescore_with_the_measuring_config_changes_nothing(en_call):
    measured, _, _ = en_call
    rescored = rescore_call(measured.measurement.stored, score=NO_ASR.score)
    assert not assert_rescore_equals_fresh(rescored, measured, measured)


def test_turn_stats_of_the_sample_call(en_call):
    measured, _, _ = en_call
    m = measured.measurement
    assert [(s.party, s.start_s, s.end_s) for s in m.turn_stats] == [(t.party, t.start_s, t.end_s) for t in m.turns]
    assert all(s.words is None and s.articulation_syll_per_s is None for s in m.turn_stats)   # no ASR
    assert all((s.level_dbfs is None) == (s.end_s - s.start_s < 1.0) for s in m.turn_stats)
    # A male agent voice and a female caller one (espeak-ng en-us, en-us+f5).
    f0 = {party: np.median([s.f0_median_hz for s in m.turn_stats if s.party == party and s.f0_median_hz])
          for party in ("agent", "caller")}
    assert f0["caller"] > 1.5 * f0["agent"]
    # The pairs are the turn levels' differences, and the turn levels the party levels', per turn.
    levels = {(s.party, s.start_s): s.level_dbfs for s in m.turn_stats}
    for p in m.turn_pairs:
        assert p.level_diff_db == pytest.approx(levels["agent", p.agent_start_s] - levels["caller", p.caller_start_s])
    for party in ("agent", "caller"):
        own = [s.level_dbfs for s in m.turn_stats if s.party == party and s.level_dbfs is not None]
        assert np.median(own) == pytest.approx(m.metrics[f"{party}_level_dbfs"], abs=1.5)


@pytest.fixture(scope="module")
def real_call(fixtures_dir):
    path = fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    b = with_score(NO_ASR, timing=TIMING_B, thresholds={"no_interrupting": 5.0})
    return score_call(path, config=NO_ASR), score_call(path, config=b), b


def test_rescore_equals_fresh_scoring_of_a_real_call(real_call):
    measured, fresh, b = real_call
    rescored = rescore_call(measured.measurement.stored, score=b.score)
    moved = assert_rescore_equals_fresh(rescored, fresh, measured)
    # floor_take_s 1 -> 1.5 merges turns of this call (33 -> 29), and with them its pairs (13
    # measured, 11 fresh): the rescored pair figures stay as measured.
    assert moved and rescored[0].metrics["level_pairs"] == 13 and fresh.measurement.metrics["level_pairs"] == 11
    assert_pair_levels_agree(fresh, measured)
    a_metrics, b_metrics = measured.measurement.metrics, rescored[0].metrics
    changed = {k for k in a_metrics if not same(a_metrics[k], b_metrics[k])}
    assert {"turns_total", "silence_count", "agent_interruptions", "agent_backchannels",
            "agent_pauses_per_min", "caller_pauses_per_min"} <= changed
    # A shorter grace finds 6 agent interruptions where there were 4: over a threshold of 5.
    assert (a_metrics["agent_interruptions"], b_metrics["agent_interruptions"]) == (4, 6)
    assert {v.id: v.verdict for v in rescored[1]}["no_interrupting"] == "fail"
    assert {v.id: v.verdict for v in judge(measured.measurement, b.score.criteria)}["no_interrupting"] == "pass"


def test_rescore_equals_fresh_scoring_of_a_mono_call():
    path = SAMPLES / "call_ru_mono.wav"
    b = with_score(NO_ASR, timing={"dead_air_s": 0.3})
    measured, fresh = score_call(path, config=NO_ASR), score_call(path, config=b)
    rescored = rescore_call(measured.measurement.stored, score=b.score)
    assert_rescore_equals_fresh(rescored, fresh, measured)
    # The script leaves 0.4-0.5 s between its five utterances: no dead air under T = 3 s; under
    # T = 0.3 s the four gaps are (and maybe pauses inside an utterance).
    assert measured.measurement.metrics["silence_count"] == 0
    assert rescored[0].metrics["silence_count"] >= 4
    assert rescored[0].metrics["agent_talk_s"] is None and "diarization" in rescored[0].unmeasured["agent_talk_s"]


# --- a hand-built stored call: known answers, rows round trip ----------------------------------

def words_of(text: str, start_s: float, step_s: float = 0.4) -> tuple[Word, ...]:
    return tuple(Word(w, start_s + i * step_s, start_s + (i + 1) * step_s - 0.05, 0.9)
                 for i, w in enumerate(text.split()))


def utterance(party: str, start_s: float, text: str) -> Utterance:
    words = words_of(text, start_s)
    return Utterance(party, start_s, words[-1].end_s, text, -0.2, "en", words)


def built_call() -> StoredCall:
    said = [
        utterance("agent", 0.0, "Hello, thank you for calling Acme."),     # 0.0-2.35 s
        utterance("caller", 3.0, "My card number is [CARD] please."),      # 3.0-5.35 s; [CARD] 4.6-4.95 s
        utterance("agent", 10.0, "Thank you, goodbye."),                   # 10.0-11.15 s
    ]
    return StoredCall(
        audio_metrics={"duration_s": 12.0, "agent_level_dbfs": -20.0, "caller_level_dbfs": -26.0, "level_diff_db": 6.0},
        speech={"agent": np.array([[0.0, 2.4], [10.0, 11.2]]), "caller": np.array([[3.0, 5.8]])},
        mono=False,
        language="en",
        utterances=tuple(said),
        level_pairs=(LevelPair(3.0, 5.8, 10.0, 11.2, 5.5),),
    )


def test_score_stored_known_answers():
    call = built_call()
    m = score_stored(call, score=DEFAULT.score).metrics
    assert m["duration_s"] == 12.0 and m["level_diff_db"] == 6.0 and m["agent_level_dbfs"] == -20.0
    assert m["agent_talk_s"] == pytest.approx(3.6) and m["caller_talk_s"] == pytest.approx(2.8)
    assert m["speech_s"] == pytest.approx(6.4) and m["level_support_s"] == pytest.approx(2.8)
    assert (m["agent_turns"], m["caller_turns"], m["turns_total"]) == (2, 1, 3)
    # One dead air, 5.8-10.0 s, under T = 3 s; the caller replies after 0.6 s, the agent after 4.2 s.
    assert (m["silence_count"], m["silence_max_s"]) == (1, pytest.approx(4.2))
    assert m["caller_latency_median_s"] == pytest.approx(0.6) and m["agent_latency_median_s"] == pytest.approx(4.2)
    assert (m["level_pairs"], m["level_diff_pair_median_db"]) == (1, 5.5)
    # The masked card number is one word: 6 caller words, 6 + 3 agent words.
    assert (m["caller_words"], m["agent_words"], m["words_total"]) == (6, 9, 15)
    assert m["asr_confidence"] == pytest.approx(0.9)
    assert (m["agent_greeting"], m["agent_thanks"], m["agent_farewell"], m["agent_self_introduction"]) == (1, 1, 1, 0)

    b = with_score(DEFAULT, timing={"dead_air_s": 5.0}, script={"closing_within_s": 0.5},
                   lexicon={"en": {"company": ("Acme",)}}).score
    m = score_stored(call, score=b).metrics
    assert (m["silence_count"], m["silence_max_s"]) == (0, 0.0)
    # "goodbye" ends at 11.15 s, inside the last 0.5 s; "Thank" ends at 10.35 s, outside.
    assert (m["agent_thanks"], m["agent_farewell"], m["agent_self_introduction"]) == (0, 1, 1)


def test_a_masked_word_counts_as_one_word_and_its_time_leaves_the_rates():
    short = dataclasses.replace(DEFAULT.score, rate=dataclasses.replace(DEFAULT.score.rate, min_speech_s=1.0))
    m = score_stored(built_call(), score=short).metrics
    # Caller: speech and turn 3.0-5.8 s less "[CARD]" at 4.6-4.95 s = 2.45 s; the known words
    # "My card number is please" have 1 + 1 + 2 + 1 + 1 = 6 syllables.
    assert m["caller_words"] == 6
    assert m["caller_articulation_syll_per_s"] == pytest.approx(6 / 2.45)
    assert m["caller_rate_syll_per_s"] == pytest.approx(6 / 2.45)
    assert m["caller_rate_wpm"] == pytest.approx(5 / (2.45 / 60))


def test_a_call_without_transcript_leaves_word_metrics_unmeasured():
    derived = score_stored(untranscribed_call(), score=DEFAULT.score)
    assert derived.metrics["agent_words"] is None and "speech recognition is off" in derived.unmeasured["agent_words"]
    assert derived.metrics["silence_count"] == 1
    silent = dataclasses.replace(built_call(), utterances=())   # transcribed, nobody said a word
    assert score_stored(silent, score=DEFAULT.score).metrics["agent_words"] == 0


def to_rows(call: StoredCall) -> dict[str, list[dict]]:
    """What a warehouse would keep: plain values only."""
    return {
        "call": [{"mono": call.mono, "language": call.language}],
        "metrics": [{"name": k, "value": v} for k, v in call.audio_metrics.items()],
        "speech": [{"party": p, "start_s": float(s), "end_s": float(e)} for p, iv in call.speech.items() for s, e in iv],
        "utterances": [{**{f: getattr(u, f) for f in ("party", "start_s", "end_s", "text", "avg_logprob", "language")},
                        "index": i} for i, u in enumerate(call.utterances)],
        "words": [{**dataclasses.asdict(w), "utterance": i} for i, u in enumerate(call.utterances) for w in u.words],
        "level_pairs": [dataclasses.asdict(p) for p in call.level_pairs],
    }


def from_rows(rows: dict[str, list[dict]]) -> StoredCall:
    call = rows["call"][0]
    parties = ("call",) if call["mono"] else ("agent", "caller")

    def words(index):
        return tuple(Word(**{k: v for k, v in w.items() if k != "utterance"}) for w in rows["words"] if w["utterance"] == index)

    return StoredCall(
        audio_metrics={r["name"]: r["value"] for r in rows["metrics"]},
        speech={p: [(r["start_s"], r["end_s"]) for r in rows["speech"] if r["party"] == p] for p in parties},
        mono=call["mono"],
        language=call["language"],
        utterances=tuple(Utterance(**{k: v for k, v in u.items() if k != "index"}, words=words(u["index"]))
                         for u in rows["utterances"]),
        level_pairs=tuple(LevelPair(**r) for r in rows["level_pairs"]),
    )


def untranscribed_call() -> StoredCall:
    return dataclasses.replace(built_call(), language=None, utterances=())


@pytest.mark.parametrize("make", [built_call, untranscribed_call])
def test_stored_call_survives_plain_rows(make):
    call = make()
    back = from_rows(to_rows(call))
    assert score_stored(back, score=DEFAULT.score) == score_stored(call, score=DEFAULT.score)


def test_stored_call_of_a_real_call_survives_plain_rows(en_call):
    measured, _, b = en_call
    stored = measured.measurement.stored
    assert set(stored.audio_metrics) <= set(AUDIO_METRIC_NAMES)
    assert score_stored(from_rows(to_rows(stored)), score=b.score) == score_stored(stored, score=b.score)


@pytest.mark.parametrize("change, message", [
    (dict(audio_metrics={"agent_talk_s": 3.0}), "not measured from audio"),
    (dict(speech={"agent": np.zeros((0, 2))}), "exactly ['agent', 'caller']"),
    (dict(speech={"agent": np.zeros(4), "caller": np.zeros((0, 2))}), "(n, 2) rows"),
    (dict(language=None), "without their language"),
    (dict(mono=True, speech={"call": np.zeros((0, 2))}, language=None, utterances=()), "no level pairs"),
])
def test_stored_call_refuses_what_it_cannot_score(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(built_call(), **change)


# --- with ASR ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def transcriber():
    from speechqa.asr import Transcriber

    if not (ROOT / DEFAULT.measure.asr.model).is_dir():
        pytest.skip(f"no ASR model at {DEFAULT.measure.asr.model} (make models)")
    return Transcriber(DEFAULT.measure.asr)


@pytest.mark.asr
def test_rescore_with_words_equals_fresh_scoring(transcriber):
    path = SAMPLES / "call_en_stereo.wav"
    b = with_score(
        DEFAULT,
        # A longer own silence keeps the agent's turn across the 3.5 s hold (28.5-32.0 s): the
        # turns and one level pair move, and with them the agent's speaking time and rates.
        timing={**TIMING_B, "turn_end_silence_s": 4.0},
        script={"greeting_within_s": 1.0, "closing_within_s": 1.0},
        lexicon={"en": {"prohibited": ("one moment",)}},
    )
    measured = score_call(path, config=DEFAULT, transcriber=transcriber)
    fresh = score_call(path, config=b, transcriber=transcriber)
    rescored = rescore_call(measured.measurement.stored, score=b.score)
    assert assert_rescore_equals_fresh(rescored, fresh, measured)
    assert_pair_levels_agree(fresh, measured)
    a_metrics, b_metrics = measured.measurement.metrics, rescored[0].metrics
    # "... check the line for you, one moment" (agent, ~27 s) is prohibited now.
    assert (a_metrics["agent_prohibited"], b_metrics["agent_prohibited"]) == (0, 1)
    # The agent opens "Thank you for calling Acme Support. My name is John": the greeting starts
    # the window, "my name is" (~2.5 s in) is past a 1 s one.
    assert (a_metrics["agent_greeting"], b_metrics["agent_greeting"]) == (1, 1)
    assert (a_metrics["agent_self_introduction"], b_metrics["agent_self_introduction"]) == (1, 0)
    # It closes "Thank you for calling Acme. Have a great day.": the farewell ends the call, the
    # thanks ends more than 1 s before.
    assert (a_metrics["agent_farewell"], b_metrics["agent_farewell"]) == (1, 1)
    assert (a_metrics["agent_thanks"], b_metrics["agent_thanks"]) == (1, 0)
    assert (a_metrics["agent_turns"], b_metrics["agent_turns"]) == (6, 5)
    assert b_metrics["agent_rate_wpm"] < a_metrics["agent_rate_wpm"]   # the hold is speaking time now
    # Word metrics count the stored, masked words: the dictated card number is one placeholder.
    stored = measured.measurement.stored.utterances
    assert a_metrics["words_total"] == sum(len(u.words) for u in stored)
    assert sum("[CARD]" in w.text or "[NUMBER]" in w.text for u in stored for w in u.words) == 1
    stats = measured.measurement.turn_stats
    assert sum(s.words for s in stats if s.party == "agent") <= a_metrics["agent_words"]
    assert all(s.words is not None for s in stats) and any(s.articulation_syll_per_s for s in stats)
