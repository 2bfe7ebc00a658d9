"""Conversation timing on interval timelines with known answers (criteria.md definitions)."""

import numpy as np
import pytest

from speechqa.options import TimingOptions, TurnOptions
from speechqa.timeline import analyse_conversation, bridge_gaps, find_turns, intersection, silences, union

OPTIONS = TimingOptions()
TURNS = TurnOptions()


def analyse(speech, *, options=OPTIONS, turns=TURNS):
    """Turns measured as measure_call finds them, then the timing metrics derived from them."""
    found, backchannels = find_turns(speech, options=turns)
    return analyse_conversation(speech, tuple(found), tuple(backchannels), options=options)


def iv(*pairs):
    return np.array(pairs, dtype=float).reshape(-1, 2)


def test_bridge_gaps_merges_short_gaps_only():
    merged = bridge_gaps(iv((0, 1), (1.2, 2), (2.3, 3)), max_gap_s=0.25)
    np.testing.assert_allclose(merged, iv((0, 2), (2.3, 3)))


def test_union_and_intersection():
    a, b = iv((0, 2), (5, 6)), iv((1, 3), (5.5, 7))
    np.testing.assert_allclose(union(a, b), iv((0, 3), (5, 7)))
    np.testing.assert_allclose(intersection(a, b), iv((1, 2), (5.5, 6)))


def test_intervals_inside_a_longer_one_are_merged_into_it():
    # The other party's backchannels inside one long stretch: once read as [0, 10], [5, 6] (11 s).
    np.testing.assert_allclose(union(iv((0, 10)), iv((1, 2), (5, 6), (11, 12))), iv((0, 10), (11, 12)))
    np.testing.assert_allclose(bridge_gaps(iv((0, 10), (1, 2), (10.1, 11)), max_gap_s=0.25), iv((0, 11)))
    rng = np.random.default_rng(7)
    for _ in range(200):
        starts = np.sort(rng.uniform(0, 50, 12))
        merged = union(np.column_stack([starts, starts + rng.uniform(0.1, 15, 12)]))
        assert np.all(merged[1:, 0] > merged[:-1, 1])                  # sorted and disjoint


def test_silences_only_inside_speech_span():
    speech = iv((2, 4), (8, 9), (9.5, 10))   # leading 2 s ring and the tail are not silence
    np.testing.assert_allclose(silences(speech, min_s=3.0), iv((4, 8)))


def test_alternating_turns_latency_and_silence():
    speech = {
        "agent": iv((0, 4), (6.5, 10), (20, 22)),
        "caller": iv((4.5, 6), (10.5, 15)),
    }
    conv = analyse(speech, options=OPTIONS)
    assert [(t.party, t.start_s, t.end_s) for t in conv.turns] == [
        ("agent", 0, 4), ("caller", 4.5, 6), ("agent", 6.5, 10), ("caller", 10.5, 15), ("agent", 20, 22),
    ]
    m = conv.metrics
    assert m["agent_turns"] == 3 and m["caller_turns"] == 2
    assert m["agent_talk_s"] == pytest.approx(9.5) and m["caller_talk_s"] == pytest.approx(6.0)
    assert m["agent_talk_share"] == pytest.approx(9.5 / 15.5)
    assert m["caller_latency_median_s"] == pytest.approx(0.5)
    assert m["agent_latency_median_s"] == pytest.approx(2.75)  # replies after 0.5 s and 5.0 s
    assert m["agent_slow_replies"] == 1                         # the 5 s gap before the last turn
    assert m["silence_count"] == 1 and m["silence_max_s"] == pytest.approx(5.0)
    assert m["silence_total_s"] == pytest.approx(5.0)
    assert m["silence_share"] == pytest.approx(5.0 / 22.0)
    assert m["agent_monologue_max_s"] == pytest.approx(4.0)
    assert m["overtalk_s"] == 0 and m["agent_interruptions"] == 0 == m["caller_interruptions"]


def test_backchannel_inside_turn_does_not_end_it():
    speech = {"agent": iv((0, 3), (3.3, 8)), "caller": iv((2.0, 2.5), (9, 12))}
    turns, backchannels = find_turns(speech, options=TURNS)
    assert [(t.party, t.start_s, t.end_s) for t in turns] == [("agent", 0, 8), ("caller", 9, 12)]
    assert [(b.party, b.start_s, b.end_s) for b in backchannels] == [("caller", 2.0, 2.5)]
    m = analyse(speech, options=OPTIONS).metrics
    assert m["caller_backchannels"] == 1 and m["caller_interruptions"] == 0


def test_short_answer_after_turn_end_is_a_turn_not_a_backchannel():
    # The agent asks, the caller answers "yes" (0.6 s), the agent goes on after a 4 s silence.
    speech = {"agent": iv((0, 3), (8, 10)), "caller": iv((3.5, 4.1))}
    turns, backchannels = find_turns(speech, options=TURNS)
    assert [(t.party, t.start_s, t.end_s) for t in turns] == [("agent", 0, 3), ("caller", 3.5, 4.1), ("agent", 8, 10)]
    assert backchannels == []


def test_interruption_attributed_to_who_starts_it():
    # The caller speaks 0-6 s; the agent breaks in at 4 s and holds on: 2 s of overlap.
    speech = {"caller": iv((0, 6)), "agent": iv((4, 9))}
    m = analyse(speech, options=OPTIONS).metrics
    assert m["agent_interruptions"] == 1 and m["caller_interruptions"] == 0
    assert m["overtalk_s"] == pytest.approx(2.0) and m["overtalk_episodes"] == 1
    assert m["agent_latency_median_s"] == pytest.approx(-2.0)


def test_onset_within_line_delay_or_grace_is_not_an_interruption():
    # Overlap of 0.15 s at the turn change: line delay, ordinary turn-taking.
    speech = {"caller": iv((0, 5)), "agent": iv((4.85, 8))}
    assert analyse(speech, options=OPTIONS).metrics["agent_interruptions"] == 0
    # Overlap of 0.4 s, past line delay but inside the 0.5 s grace.
    speech = {"caller": iv((0, 5)), "agent": iv((4.6, 8))}
    m = analyse(speech, options=OPTIONS).metrics
    assert m["agent_interruptions"] == 0 and m["overtalk_episodes"] == 0


def test_pauses_inside_own_turns():
    # Agent turn with gaps of 0.3, 0.5 and 2.5 s; the 4 s gap ends the turn and is no pause.
    speech = {"agent": iv((0, 5), (5.3, 10), (10.5, 15), (17.5, 30), (34, 40)), "caller": iv()}
    m = analyse(speech, options=OPTIONS).metrics
    talk_min = (5 + 4.7 + 4.5 + 12.5 + 6) / 60
    assert m["agent_pauses_per_min"] == pytest.approx(3 / talk_min)
    assert m["agent_pause_mean_s"] == pytest.approx((0.3 + 0.5 + 2.5) / 3)
    assert m["agent_pause_median_s"] == pytest.approx(0.5)
    assert m["agent_long_pauses"] == 1
    assert m["caller_pauses_per_min"] is None


def test_thresholds_come_from_options():
    speech = {"agent": iv((0, 2), (6, 8)), "caller": iv()}
    assert analyse(speech, options=OPTIONS).metrics["silence_count"] == 1
    strict = TimingOptions(dead_air_s=5.0)
    assert analyse(speech, options=strict).metrics["silence_count"] == 0


def test_bad_option_is_refused_with_its_name():
    with pytest.raises(ValueError, match="dead_air_s"):
        TimingOptions(dead_air_s=0)
