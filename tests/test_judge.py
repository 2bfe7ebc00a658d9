"""Verdicts, abstention and the normalised total; criteria checked when they are made."""

import pytest

from speechqa.derive import Derived
from speechqa.judge import judge, total_score
from speechqa.metrics import METRIC_NAMES
from speechqa.options import Criterion, QualityGate


def crit(id, metric, direction, threshold, **kw):
    return Criterion(id=id, metric=metric, direction=direction, threshold=threshold, **kw)


CRITERIA = (
    crit("loud", "level_diff_db", "abs_max", 6.0, min_support=10.0),
    crit("pitch", "agent_f0_sd_st", "min", 2.0, weight=2.0),
    crit("dead", "silence_max_s", "max", 10.0),
)


def run(metrics, supports=None, **kw):
    """Judge metrics whose supports are `supports` (by the support metric's name), else unknown."""
    every = {name: None for name in METRIC_NAMES} | metrics | (supports or {})
    derived = Derived(metrics=every, unmeasured={"agent_f0_sd_st": "mono recording"}, events=(),
                      evidence={"silence_max_s": [(3.0, 15.0)]}, notes={})
    return judge(derived, kw.pop("criteria", CRITERIA), **kw)


def test_pass_fail_by_direction():
    verdicts = run({"level_diff_db": -7.0, "agent_f0_sd_st": 2.5, "silence_max_s": 12.0})
    assert [v.verdict for v in verdicts] == ["fail", "pass", "fail"]
    assert verdicts[2].evidence == ((3.0, 15.0),)
    score = total_score(verdicts)
    assert score.total == pytest.approx(100 * 2 / 4) and score.abstained_weight == 0


def test_unmeasured_and_unsupported_abstain_and_leave_the_total():
    verdicts = run({"level_diff_db": 1.0, "agent_f0_sd_st": None, "silence_max_s": 2.0},
                   supports={"level_support_s": 4.0})
    assert [v.verdict for v in verdicts] == ["abstain", "abstain", "pass"]
    assert "4 < 10" in verdicts[0].note and verdicts[1].note == "mono recording"
    score = total_score(verdicts)
    assert score.total == 100.0 and score.abstained_weight == pytest.approx(3 / 4)


def test_all_abstained_has_no_total():
    verdicts = run({"level_diff_db": None, "agent_f0_sd_st": None, "silence_max_s": None})
    assert total_score(verdicts).total is None and total_score(verdicts).abstained_weight == 1.0


def test_fatal_failure_zeroes_the_total():
    criteria = CRITERIA + (crit("insult", "agent_interruptions", "max", 0.0, fatal=True),)
    verdicts = run({"level_diff_db": 0.0, "agent_f0_sd_st": 3.0, "silence_max_s": 1.0, "agent_interruptions": 2},
                   criteria=criteria)
    score = total_score(verdicts)
    assert score.total == 0.0 and score.fatal_failures == ("insult",)


def test_too_little_decided_has_no_total_and_says_why():
    # Only the dead-air criterion (1 of 4) decides: a 100 over it would read as a perfect call.
    verdicts = run({"level_diff_db": 1.0, "agent_f0_sd_st": None, "silence_max_s": 2.0},
                   supports={"level_support_s": 4.0})
    score = total_score(verdicts, min_decided_weight=0.5)
    assert score.total is None and score.decided_weight == pytest.approx(1 / 4)
    assert score.not_scored == ("too little could be measured: 25% of the criteria weight was decided, "
                                "under [score] min_decided_weight = 50%")
    assert [(a.reason, a.criteria, a.weight) for a in score.abstentions] == [
        ("mono recording", ("pitch",), pytest.approx(2 / 4)),
        ("too little support: level_support_s under min_support", ("loud",), pytest.approx(1 / 4)),
    ]
    # The same verdicts with a lower minimum are scored; at the minimum exactly, too.
    assert total_score(verdicts, min_decided_weight=0.2).total == 100.0
    assert total_score(verdicts, min_decided_weight=0.25).total == 100.0
    assert total_score(verdicts).not_scored is None   # no minimum: the old total over what decided


def test_nothing_decided_is_not_scored_whatever_the_minimum():
    verdicts = run({"level_diff_db": None, "agent_f0_sd_st": None, "silence_max_s": None})
    score = total_score(verdicts, min_decided_weight=0.0)
    assert score.total is None and score.not_scored == "too little could be measured: no criterion could be decided"


def test_a_fatal_failure_is_zero_even_when_too_little_was_decided():
    criteria = CRITERIA + (crit("insult", "agent_interruptions", "max", 0.0, fatal=True),)
    verdicts = run({"level_diff_db": None, "agent_f0_sd_st": None, "silence_max_s": None, "agent_interruptions": 2},
                   criteria=criteria)
    score = total_score(verdicts, min_decided_weight=0.5)
    assert score.decided_weight == pytest.approx(1 / 5)
    assert (score.total, score.fatal_failures, score.not_scored) == (0.0, ("insult",), None)


def test_boundaries_pass():
    verdicts = run({"level_diff_db": -6.0, "agent_f0_sd_st": 2.0, "silence_max_s": 10.0})
    assert [v.verdict for v in verdicts] == ["pass", "pass", "pass"]


def test_unknown_metric_is_refused_with_the_names_it_may_mean():
    with pytest.raises(ValueError, match="'silence_max_ms' is not measured by speechqa; did you mean 'silence_max_s'"):
        crit("x", "silence_max_ms", "max", 1.0)
    with pytest.raises(ValueError, match="'no_such_metric' is not measured by speechqa; the metric names"):
        crit("x", "no_such_metric", "max", 1.0)


def test_bad_direction_refused():
    with pytest.raises(ValueError, match="direction"):
        crit("x", "silence_max_s", "sideways", 1.0)


def test_a_noisy_call_abstains_on_every_criterion_and_says_why():
    """The validity suite's noise ladder: under min_snr_db criteria flipped; now they abstain."""
    metrics = {"level_diff_db": -7.0, "agent_f0_sd_st": 2.5, "silence_max_s": 12.0}
    verdicts = run(metrics | {"snr_db": 11.2})
    assert [v.verdict for v in verdicts] == ["abstain"] * 3
    assert verdicts[0].note == "poor recording: SNR 11.2 dB < [score.quality] min_snr_db 15"
    assert [v.verdict for v in run(metrics | {"snr_db": 15.0})] == ["fail", "pass", "fail"]
    assert [v.verdict for v in run(metrics | {"snr_db": 11.2}, quality=QualityGate(min_snr_db=0))] == ["fail", "pass", "fail"]


def test_a_poor_transcript_silences_only_the_word_criteria():
    criteria = CRITERIA + (crit("hello", "agent_greeting", "min", 1.0),)
    metrics = {"level_diff_db": 0.0, "agent_f0_sd_st": 3.0, "silence_max_s": 1.0, "agent_greeting": 1,
               "asr_confidence": 0.5, "snr_db": 40.0}
    verdicts = run(metrics, criteria=criteria, quality=QualityGate(min_asr_confidence=0.7))
    assert [v.verdict for v in verdicts] == ["pass", "pass", "pass", "abstain"]
    assert "recogniser confidence 0.50 < [score.quality] min_asr_confidence 0.7" in verdicts[3].note
    assert run(metrics, criteria=criteria)[3].verdict == "pass"   # off by default


@pytest.mark.parametrize("bad", [{"min_snr_db": -1.0}, {"min_snr_db": float("nan")}, {"min_asr_confidence": 1.5}])
def test_quality_gate_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        QualityGate(**bad)
