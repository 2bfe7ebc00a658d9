"""Rescoring a stored call gives what processing its audio again gives, for any change confined
to [score]: real calls measured once, their rows written and read back as the warehouse does,
derived and judged under a changed [score], against a fresh score_call with that configuration.
Also known answers of derive on a hand-built Measurement, and what a Measurement refuses."""

import dataclasses
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from speechqa.call import assess, score_call
from speechqa.config import default_config
from speechqa.derive import DERIVED_METRICS, MONO_DERIVED_METRICS, derive
from speechqa.judge import judge
from speechqa.measure import AUDIO_METRIC_NAMES, MONO_AUDIO_METRIC_NAMES, LevelPair, Measurement, TurnStats
from speechqa.metrics import METRIC_NAMES, WORD_METRIC_NAMES, conform
from speechqa.voice import AROUSAL_METRICS, EMPHASIS_METRICS
from speechqa.sentiment import SENTIMENT_METRICS
from speechqa.options import TurnOptions
from speechqa.quality import Quality
from speechqa.records import call_records, read_measurement
from speechqa.roles import Roles
from speechqa.script import METRICS as SCRIPT_METRICS
from speechqa.tables import to_table
from speechqa.timeline import SILENCE_METRICS, TIMING_METRICS, find_turns
from speechqa.transcript import Utterance, Word
from speechqa.words import CALL_WORD_METRICS, COUNT_METRICS, WORD_METRICS

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
DEFAULT = default_config()
NO_ASR = dataclasses.replace(
    DEFAULT, measure=dataclasses.replace(DEFAULT.measure, asr=dataclasses.replace(DEFAULT.measure.asr, enabled=False))
)
TIMING_B = dict(dead_air_s=5.0, pause_min_s=0.5, interruption_grace_s=0.3, slow_reply_s=1.0)


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


def stored_and_read_back(result) -> Measurement:
    """The call's Measurement as `rescore` gets it: its rows typed as the warehouse's tables, read back."""
    source = SimpleNamespace(call_date=date(2026, 12, 4), shown_relpath="call.wav", two_legs=False, size_bytes=1,
                             mtime_ns=1, call_start_utc=None, call_time_source="mtime", metadata={})
    rows = call_records(result, source=source, override=None, run_id="r", model_id="m")
    typed = {table: to_table(table, r).to_pylist() for table, r in rows.items()}
    return read_measurement(typed["calls"][0], typed["turns"], typed["utterances"], typed["words"])


def assert_rescore_equals_fresh(rescored, fresh):
    """rescored: assess() of a read-back Measurement; fresh: score_call with the new config."""
    derived, want = rescored.derived, fresh.assessment.derived
    differ = [(k, derived.metrics[k], v) for k, v in want.metrics.items() if not same(derived.metrics[k], v)]
    assert not differ, differ
    assert derived.unmeasured == want.unmeasured and derived.notes == want.notes
    assert derived.events == want.events and derived.evidence == want.evidence
    assert [v.id for v in rescored.verdicts] == [v.id for v in fresh.verdicts]
    for r, f in zip(rescored.verdicts, fresh.verdicts):
        assert (r.verdict, r.note, r.evidence) == (f.verdict, f.note, f.evidence), r.id
        assert same(r.value, f.value) and same(r.support, f.support), r.id
    assert same(rescored.score.total, fresh.score.total)
    assert same(rescored.score.abstained_weight, fresh.score.abstained_weight)
    assert rescored.score.fatal_failures == fresh.score.fatal_failures


def scored_before_and_after(path, b):
    """The call scored under the default [score] (no ASR) and under b."""
    return score_call(path, config=NO_ASR), score_call(path, config=b), b


def rescored_as_fresh(scored):
    """Rescore the first scoring under b from its rows; check it equals the fresh one under b."""
    measured, fresh, b = scored
    rescored = assess(stored_and_read_back(measured), score=b.score)
    assert_rescore_equals_fresh(rescored, fresh)
    return measured, rescored, b


# --- real calls, no ASR ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def en_call():
    path = SAMPLES / "call_en_stereo.wav"
    return scored_before_and_after(path, with_score(NO_ASR, timing=TIMING_B, thresholds={"no_dead_air": 2.0}))


def test_rescore_equals_fresh_scoring_of_the_sample_call(en_call):
    measured, rescored, b = rescored_as_fresh(en_call)
    a_metrics, b_metrics = measured.metrics, rescored.derived.metrics
    # The script's one dead air (28.52-32.02 s, 3.5 s) is dead air under T = 3 s, not under 5 s.
    assert (a_metrics["silence_count"], b_metrics["silence_count"]) == (1, 0)
    assert b_metrics["agent_pauses_per_min"] < a_metrics["agent_pauses_per_min"]
    verdict = {v.id: v.verdict for v in rescored.verdicts}
    assert verdict["no_dead_air"] == "pass"   # 0 s <= 2 s; under A, 3.5 s fails a 2 s threshold
    assert {v.id: v.verdict for v in judge(measured.assessment.derived, b.score.criteria)}["no_dead_air"] == "fail"


def test_rescore_with_the_measuring_config_changes_nothing(en_call):
    measured, _, _ = en_call
    assert_rescore_equals_fresh(assess(stored_and_read_back(measured), score=NO_ASR.score), measured)


def test_a_score_change_leaves_every_measured_figure_as_it_was(en_call):
    measured, fresh, _ = en_call
    a, b = measured.measurement, fresh.measurement
    assert a.turns == b.turns and a.level_pairs == b.level_pairs and a.backchannels == b.backchannels
    assert a.audio_metrics == b.audio_metrics and a.quality == b.quality


def test_turn_stats_of_the_sample_call(en_call):
    measured, _, _ = en_call
    m = measured.measurement
    assert all(s.words is None and s.articulation_syll_per_s is None for s in m.turns)   # no ASR
    assert all((s.level_dbfs is None) == (s.end_s - s.start_s < 1.0) for s in m.turns)
    # A male agent voice and a female caller one (espeak-ng en-us, en-us+f5).
    f0 = {party: np.median([s.f0_median_hz for s in m.turns if s.party == party and s.f0_median_hz])
          for party in ("agent", "caller")}
    assert f0["caller"] > 1.5 * f0["agent"]
    # The pairs are the turn levels' differences, and the turn levels the party levels', per turn.
    levels = {(s.party, s.start_s): s.level_dbfs for s in m.turns}
    for p in m.level_pairs:
        assert p.level_diff_db == pytest.approx(levels["agent", p.agent_start_s] - levels["caller", p.caller_start_s])
    for party in ("agent", "caller"):
        own = [s.level_dbfs for s in m.turns if s.party == party and s.level_dbfs is not None]
        assert np.median(own) == pytest.approx(measured.metrics[f"{party}_level_dbfs"], abs=1.5)


@pytest.fixture(scope="module")
def real_call(fixtures_dir):
    path = fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return scored_before_and_after(path, with_score(NO_ASR, timing=TIMING_B, thresholds={"no_interrupting": 5.0}))


def test_rescore_equals_fresh_scoring_of_a_real_call(real_call):
    measured, rescored, b = rescored_as_fresh(real_call)
    a_metrics, b_metrics = measured.metrics, rescored.derived.metrics
    changed = {k for k in a_metrics if not same(a_metrics[k], b_metrics[k])}
    assert {"silence_count", "agent_interruptions", "agent_pauses_per_min", "caller_pauses_per_min"} <= changed
    assert not changed & {"turns_total", "agent_backchannels", "level_pairs", "level_diff_pair_median_db"}   # measured
    # A shorter grace finds more agent interruptions: over a threshold of 5.
    assert a_metrics["agent_interruptions"] <= 5 < b_metrics["agent_interruptions"]
    assert {v.id: v.verdict for v in rescored.verdicts}["no_interrupting"] == "fail"
    assert {v.id: v.verdict for v in judge(measured.assessment.derived, b.score.criteria)}["no_interrupting"] == "pass"


def test_rescore_equals_fresh_scoring_of_a_diarized_call():
    path = SAMPLES / "call_ru_mono.wav"
    b = with_score(NO_ASR, timing={"dead_air_s": 0.3, "pause_min_s": 0.5})
    measured, fresh = score_call(path, config=NO_ASR), score_call(path, config=b)
    assert measured.measurement.diarized
    rescored = assess(stored_and_read_back(measured), score=b.score)
    assert_rescore_equals_fresh(rescored, fresh)
    assert rescored.derived.metrics["agent_talk_s"] > 0 and rescored.derived.metrics["overtalk_s"] is None


def test_rescore_equals_fresh_scoring_of_a_mono_call():
    path = SAMPLES / "call_ru_mono.wav"
    whole = dataclasses.replace(NO_ASR, measure=dataclasses.replace(
        NO_ASR.measure, diarize=dataclasses.replace(NO_ASR.measure.diarize, enabled=False)))
    b = with_score(whole, timing={"dead_air_s": 0.3})
    measured, fresh = score_call(path, config=whole), score_call(path, config=b)
    rescored = assess(stored_and_read_back(measured), score=b.score)
    assert_rescore_equals_fresh(rescored, fresh)
    # The script leaves 0.4-0.5 s between its five utterances: no dead air under T = 3 s; under
    # T = 0.3 s the four gaps are (and maybe pauses inside an utterance).
    assert measured.metrics["silence_count"] == 0
    assert rescored.derived.metrics["silence_count"] >= 4
    assert rescored.derived.metrics["agent_talk_s"] is None and "diarization is off" in rescored.derived.unmeasured["agent_talk_s"]


# --- a hand-built Measurement: known answers ----------------------------------------------------

def words_of(text: str, start_s: float, step_s: float = 0.4) -> tuple[Word, ...]:
    return tuple(Word(w, start_s + i * step_s, start_s + (i + 1) * step_s - 0.05, 0.9)
                 for i, w in enumerate(text.split()))


def utterance(party: str, start_s: float, text: str) -> Utterance:
    words = words_of(text, start_s)
    return Utterance(party, start_s, words[-1].end_s, text, -0.2, "en", words)


QUALITY = Quality(narrowband=True, clipping=False, clipping_share=0.0, truncated=False, dual_mono=False,
                  channel_correlation=0.0, crosstalk=False, crosstalk_s=0.0, snr_db=30.0)


def built_call(*, speech=None, level_pairs=(LevelPair(3.0, 5.8, 10.0, 11.2, 5.5),), **changes) -> Measurement:
    said = [
        utterance("agent", 0.0, "Hello, thank you for calling Acme."),     # 0.0-2.35 s
        utterance("caller", 3.0, "My card number is [CARD] please."),      # 3.0-5.35 s; [CARD] 4.6-4.95 s
        utterance("agent", 10.0, "Thank you, goodbye."),                   # 10.0-11.15 s
    ]
    speech = speech or {"agent": np.array([[0.0, 2.4], [10.0, 11.2]]), "caller": np.array([[3.0, 5.8]])}
    turns, backchannels = find_turns(speech, options=TurnOptions())
    fields = dict(
        duration_s=12.0, roles=Roles("left", "config", "agent = 'left' in the configuration"), quality=QUALITY,
        audio_metrics={name: None for name in AUDIO_METRIC_NAMES} | {
            "duration_s": 12.0, "agent_level_dbfs": -20.0, "caller_level_dbfs": -26.0, "level_diff_db": 6.0},
        speech=speech, mono=False,
        turns=tuple(TurnStats(t.party, t.start_s, t.end_s, None, None, None, None) for t in turns),
        backchannels=tuple(backchannels), level_pairs=level_pairs, language="en", utterances=tuple(said),
    )
    return Measurement(**{**fields, **changes})


def test_derive_known_answers():
    call = built_call()
    derived = derive(call, score=DEFAULT.score)
    assert set(derived.evidence) <= set(METRIC_NAMES) and set(derived.notes) <= set(METRIC_NAMES)
    m = derived.metrics
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
    m = derive(call, score=b).metrics
    assert (m["silence_count"], m["silence_max_s"]) == (0, 0.0)
    # "goodbye" ends at 11.15 s, inside the last 0.5 s; "Thank" ends at 10.35 s, outside.
    assert (m["agent_thanks"], m["agent_farewell"], m["agent_self_introduction"]) == (0, 1, 1)


def test_a_masked_word_counts_as_one_word_and_its_time_leaves_the_rates():
    short = dataclasses.replace(DEFAULT.score, rate=dataclasses.replace(DEFAULT.score.rate, min_speech_s=1.0))
    m = derive(built_call(), score=short).metrics
    # Caller: speech and turn 3.0-5.8 s less "[CARD]" at 4.6-4.95 s = 2.45 s; the known words
    # "My card number is please" have 1 + 1 + 2 + 1 + 1 = 6 syllables.
    assert m["caller_words"] == 6
    assert m["caller_articulation_syll_per_s"] == pytest.approx(6 / 2.45)
    assert m["caller_rate_syll_per_s"] == pytest.approx(6 / 2.45)
    assert m["caller_rate_wpm"] == pytest.approx(5 / (2.45 / 60))


def test_a_call_without_transcript_leaves_word_metrics_unmeasured():
    derived = derive(built_call(language=None, utterances=()), score=DEFAULT.score)
    assert derived.metrics["agent_words"] is None and "speech recognition is off" in derived.unmeasured["agent_words"]
    assert derived.metrics["silence_count"] == 1
    silent = built_call(utterances=())   # transcribed, nobody said a word
    assert derive(silent, score=DEFAULT.score).metrics["agent_words"] == 0


def test_the_level_match_slope_needs_level_pairs_not_words():
    # Three answered caller turns whose |level difference| shrinks by 1 dB a minute; no transcript.
    speech = {"caller": np.array([[0.0, 2.0], [60.0, 62.0], [120.0, 122.0]]),
              "agent": np.array([[2.5, 5.0], [62.5, 65.0], [122.5, 125.0]])}
    pairs = tuple(LevelPair(c, c + 2.0, c + 2.5, c + 5.0, d) for c, d in ((0.0, 6.0), (60.0, -5.0), (120.0, 4.0)))
    call = built_call(speech=speech, level_pairs=pairs, language=None, utterances=(), duration_s=130.0)
    m = derive(call, score=DEFAULT.score).metrics
    assert m["level_match_slope_db_per_min"] == pytest.approx(-1.0) and m["level_pairs"] == 3
    assert m["agent_words"] is None   # ASR off


# --- every metric has one producer, and a producer that stops making one fails ----------------

def test_the_producers_declare_every_metric_once():
    producers = [TIMING_METRICS, AUDIO_METRIC_NAMES, DERIVED_METRICS, WORD_METRICS, AROUSAL_METRICS, EMPHASIS_METRICS,
                 SENTIMENT_METRICS]
    declared = [name for names in producers for name in names]
    assert len(declared) == len(set(declared)), "a metric declared by two producers"
    assert set(declared) == set(METRIC_NAMES)
    # the metrics that need the transcript: the word metrics, emphasis (word times) and tonality
    assert set(WORD_METRICS) | set(EMPHASIS_METRICS) | set(SENTIMENT_METRICS) == set(WORD_METRIC_NAMES) and set(COUNT_METRICS) | set(SCRIPT_METRICS) <= set(WORD_METRICS)
    mono = [*SILENCE_METRICS, *MONO_AUDIO_METRIC_NAMES, *MONO_DERIVED_METRICS, *CALL_WORD_METRICS]
    assert set(mono) <= set(declared) and len(mono) == len(set(mono))


def test_a_metric_a_producer_stops_making_is_an_error_not_an_abstention():
    values = {name: 1.0 for name in TIMING_METRICS}
    assert conform(values, produced=TIMING_METRICS)["silence_max_s"] == 1.0
    dropped = {k: v for k, v in values.items() if k != "silence_max_s"}
    with pytest.raises(KeyError, match=r"declared but not produced \['silence_max_s'\]"):
        conform(dropped, produced=TIMING_METRICS)
    with pytest.raises(KeyError, match=r"produced but not declared \['speech_s'\]"):
        conform({**values, "speech_s": 1.0}, produced=TIMING_METRICS)


# --- what a Measurement refuses ------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (dict(audio_metrics={"agent_talk_s": 3.0}), "['agent_talk_s'] are not measured from audio"),
    (dict(audio_metrics={"duration_s": 12.0}), "'snr_db'] are missing"),
    (dict(speech={"agent": np.zeros((0, 2))}), "exactly ['agent', 'caller']"),
    (dict(speech={"agent": np.zeros(4), "caller": np.zeros((0, 2))}), "(n, 2) rows"),
    (dict(language=None), "without their language"),
    (dict(mono=True, speech={"call": np.zeros((0, 2))}, audio_metrics={"duration_s": 1.0, "snr_db": None},
          language=None, utterances=()),
     "no turns, backchannels or level pairs"),
    (dict(diarized=True), "diarized is for mono calls"),
])
def test_a_measurement_refuses_what_it_cannot_be(change, message):
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
        timing=TIMING_B,
        script={"greeting_within_s": 1.0, "closing_within_s": 1.0},
        lexicon={"en": {"prohibited": ("one moment",)}},
    )
    measured = score_call(path, config=DEFAULT, transcriber=transcriber)
    fresh = score_call(path, config=b, transcriber=transcriber)
    rescored = assess(stored_and_read_back(measured), score=b.score)
    assert_rescore_equals_fresh(rescored, fresh)
    a_metrics, b_metrics = measured.metrics, rescored.derived.metrics
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
    # Word metrics count the stored, masked words: the dictated card number is one placeholder.
    stored = measured.measurement.utterances
    assert a_metrics["words_total"] == sum(len(u.words) for u in stored)
    assert sum("[CARD]" in w.text or "[NUMBER]" in w.text for u in stored for w in u.words) == 1
    stats = measured.measurement.turns
    assert sum(s.words for s in stats if s.party == "agent") <= a_metrics["agent_words"]
    assert all(s.words is not None for s in stats) and any(s.articulation_syll_per_s for s in stats)
