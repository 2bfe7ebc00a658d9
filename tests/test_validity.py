"""The validity suite (benchmarks/validity): its perturbations do what they say on real speech,
and on a real stereo call each acoustic perturbation moves its own metric and changes only its
own criterion. The word cases and the noise and codec ladders need the recogniser and minutes:
`python -m benchmarks.validity` runs them (README, "Validity")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("parselmouth", reason="the validity perturbations need Praat's PSOLA: pip install -e '.[validity]'")

from benchmarks.validity import cases, perturb as P, suite  # noqa: E402
from speechqa.config import parse_config  # noqa: E402
from speechqa.features.loudness import active_speech_level  # noqa: E402
from speechqa.features.pitch import pitch_stats, track_pitch  # noqa: E402

LCA49 = "calls/lca49_agent-left_caller-right_8k.wav"


@pytest.fixture(scope="module")
def sentence(fixtures_dir):
    """Real read speech (FDA rl001-rl004, one male voice, 20 kHz) taken to 8 kHz, as calls are."""
    import soxr

    parts = [sf.read(fixtures_dir / f"pitch/fda_rl/rl00{i}.wav", dtype="float64") for i in range(1, 5)]
    return np.concatenate([soxr.resample(x, sr, 8000) for x, sr in parts]), 8000


def _speech_span(x, sr):
    """The sentence's span of speech: where the 20 ms RMS is within 30 dB of its peak."""
    frame = sr // 50
    rms = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = np.flatnonzero(20 * np.log10(rms + 1e-12) > 20 * np.log10(rms.max()) - 30)
    return loud[0] * frame / sr, (loud[-1] + 1) * frame / sr


def test_flattened_pitch_keeps_its_median_and_loses_its_movement(sentence):
    x, sr = sentence
    before = pitch_stats(track_pitch(x, sr))
    after = pitch_stats(track_pitch(P.flatten_pitch(x, sr), sr))
    assert after.sd_st < 0.4 * before.sd_st, (before.sd_st, after.sd_st)
    assert abs(12 * np.log2(after.median_hz / before.median_hz)) < 1.0   # within a semitone of where it was


def test_compressed_speech_is_shorter_by_the_factor_and_keeps_its_pitch(sentence):
    x, sr = sentence
    start, end = _speech_span(x, sr)
    fast = P.compress_speech(x, sr, [(start, end)], 1.35)
    expected = len(x) / sr - (end - start) * (1 - 1 / 1.35)
    assert abs(len(fast) / sr - expected) < 0.02
    f0 = [pitch_stats(track_pitch(y, sr)).median_hz for y in (x, fast)]
    assert abs(12 * np.log2(f0[1] / f0[0])) < 0.5


def test_speed_up_keeps_the_turn_in_place_and_fills_with_background(sentence):
    x, sr = sentence
    rng = np.random.default_rng(0)
    noise = 1e-3 * rng.standard_normal(sr)
    stereo = np.stack([np.concatenate([noise, x, noise]), np.concatenate([noise, np.zeros_like(x), noise])])
    start, end = _speech_span(x, sr)
    turn = (1.0 + start, 1.0 + end)
    out = P.speed_up_turns(stereo, 0, sr, [turn], np.array([turn]), 1.35, P.Background(noise), rng)
    assert out.shape == stereo.shape
    assert np.array_equal(out[1], stereo[1]) and np.array_equal(out[0, :int(turn[0] * sr) - 50], stereo[0, :int(turn[0] * sr) - 50])
    freed = out[0, int((turn[1] - 0.2) * sr):int(turn[1] * sr)]   # the turn's last 0.2 s: its speech now ended earlier
    assert 0.5e-3 < np.sqrt(np.mean(freed ** 2)) < 2e-3               # the background, not zeros, not speech


def test_inserted_silence_is_background_and_shifts_what_follows():
    sr, rng = 8000, np.random.default_rng(1)
    x = np.stack([rng.standard_normal(2 * sr) * 0.01, rng.standard_normal(2 * sr) * 0.02])
    fills = [P.Background(x[0]), P.Background(x[1])]
    out = P.insert_silence(x, sr, 1.0, 0.5, fills, rng)
    assert out.shape == (2, int(2.5 * sr))
    assert np.array_equal(out[:, int(1.5 * sr) + 100:], x[:, sr + 100:])
    gap = out[:, int(1.1 * sr):int(1.4 * sr)]
    assert np.allclose(np.sqrt(np.mean(gap ** 2, axis=1)), [0.01, 0.02], rtol=0.15)


def test_noise_sits_at_the_asked_snr_below_the_speech_level(sentence):
    x, sr = sentence
    level = active_speech_level(x, sr).level_dbfs
    noisy = P.add_noise(x[None, :], sr, [level], 15.0, np.random.default_rng(2))
    noise = noisy[0] - x
    assert abs(level - 20 * np.log10(np.sqrt(np.mean(noise ** 2))) - 15.0) < 0.1


@pytest.mark.parametrize("codec, kbps", [("g711", (63.5, 64.5)), ("gsm", (12.5, 13.5)), ("opus8k", (4.0, 8.5))])
def test_codecs_carry_the_speech_at_their_bit_rate(sentence, codec, kbps):
    x, sr = sentence
    decoded, rate = P.codec_round_trip(x[None, :], sr, codec)
    assert kbps[0] <= rate <= kbps[1]
    assert decoded.shape == (1, len(x))
    # aligned, not delayed: the decoded speech correlates with the original at lag 0
    assert np.corrcoef(x, decoded[0])[0, 1] > 0.5


@pytest.fixture(scope="module")
def lca49(fixtures_dir):
    config = suite.no_asr(parse_config("", source="test"))
    return suite.load(fixtures_dir / LCA49, config=config), config


@pytest.mark.slow
def test_each_acoustic_perturbation_changes_only_its_own_criterion(lca49):
    """The fast half of the suite: every case that needs no transcript, on a real call. A case
    fails when its metric does not move as expected, when the criterion on that metric does not
    reach the verdict the move implies, or when any other criterion changes its verdict."""
    call, config = lca49
    outcomes = suite.run_cases(call, cases.stereo_cases(call), config=config)
    ran = {o.case.name: o for o in outcomes if isinstance(o, suite.Outcome)}
    assert set(ran) == {"agent_pitch_flat", "agent_minus_12db", "channels_swapped", "interruption_planted", "mixed_to_mono"}
    problems = {name: o.problems for name, o in ran.items() if o.problems}
    assert not problems
    assert ("pitch_variation", "pass", "fail") in ran["agent_pitch_flat"].changed
    assert ("loudness_match", "pass", "fail") in ran["agent_minus_12db"].changed
    assert not ran["channels_swapped"].changed and not ran["channels_swapped"].others


@pytest.mark.slow
def test_a_criterion_that_moves_with_another_behaviour_is_caught(lca49):
    """The suite's own check can fail: a criterion on the agent's absolute level (which a
    loudness change moves, but which is not the loudness-match criterion) changes with -12 dB."""
    call, _ = lca49
    config = parse_config("""
[[score.criteria]]
id = "agent_not_quiet"
label = "Agent not quiet"
metric = "agent_level_dbfs"
direction = "min"
threshold = -25.0
weight = 1.0
min_support = 10.0
fatal = false
""", source="test")
    config = suite.no_asr(config)
    call = dataclasses.replace(call, result=suite.load(call.path, config=config).result)
    case = next(c for c in cases.stereo_cases(call) if c.name == "agent_minus_12db")
    case = dataclasses.replace(case, own=tuple(m for m in case.own if m != "agent_level_dbfs"))
    outcome = suite.run_case(case, call, config=config)
    assert outcome.problems == ("criterion agent_not_quiet changed pass -> fail, not this case's",)


@pytest.mark.slow
def test_noise_makes_criteria_abstain_not_flip(lca49):
    """The noise ladder's two ends without the recogniser: at 30 dB SNR the acoustic criteria
    hold their verdicts; at 5 dB the quality gate calls the recording poor and every criterion
    abstains instead of passing or failing on what the noise left."""
    call, config = lca49
    clean_30, noisy_5 = suite.noise_ladder(call, config=config, levels=(30, 5))
    assert clean_30.poor is None and not clean_30.flipped, clean_30.changed
    assert noisy_5.poor and noisy_5.poor.startswith("poor recording: SNR")
    assert noisy_5.ok and {v.verdict for v in noisy_5.result.verdicts} == {"abstain"}


@pytest.mark.asr
@pytest.mark.slow
def test_a_cut_greeting_fails_the_greeting_and_nothing_else():
    """A word case, on the English sample (its greeting is recognised; lca49's is not): the
    greeting's words replaced by the agent's background fail `greeting`; no other criterion
    changes, but for one whose metric sat on its threshold and stayed within tolerance."""
    from pathlib import Path

    from speechqa.asr import Transcriber
    from speechqa.errors import SpeechQAError

    config = parse_config("", source="test")
    try:
        transcriber = Transcriber(config.measure.asr)
    except SpeechQAError as exc:   # the model folder is made by `make models`
        pytest.skip(f"no speech recogniser: {exc}")
    sample = suite.load(Path(__file__).resolve().parents[1] / "samples" / "call_en_stereo.wav",
                        config=config, transcriber=transcriber)
    outcome = suite.run_case(cases.greeting_case(), sample, config=config, transcriber=transcriber)
    assert outcome.problems == ()
    assert ("greeting", "pass", "fail") in outcome.changed
    assert set(c for c, _, _ in outcome.changed) - {"greeting"} <= set(outcome.edge)
